"""Restore as a new VM: the wizard's checks, the service that starts the Restore job, and the job.

The job writes each disk of the recovery point into a new page blob in the
chosen storage account (through ``PageBlobSink``; a chunk the primary copy
cannot read comes from a GRS vault's secondary copy), re-reads every restored
blob and proves its digest equals the one recorded at backup time, and only
then creates the VM through the compute API (Create Deployment for a cloud
service without one, else Add Role). Whatever it created is removed when it
fails or is cancelled: no half-restored VM is ever left.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import transaction

from jobs.errors import JobError
from jobs.models import Job, Operation
from jobs.runner import JobContext, job_task
from jobs.services import start_job
from portal.access import can_operate
from portal.events import publish
from vaults import backup
from vaults.compute import VirtualNetwork, compute_client, describe_failure, list_virtual_networks, raw_xml
from vaults.models import VirtualMachine
from vaults.pageblob import PageBlobError
from vaults.protection_models import RecoveryPoint
from vaults.store import (
    ChunkError,
    CorruptManifestError,
    DigestMismatchError,
    PageBlobSink,
    PageBlobSource,
    StoreError,
    VaultStore,
    measure_digest,
)
from vaults.store import RecoveryPoint as StorePoint
from vaults.tasks import fabric_errors, poll_delays, wait_for_operation

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,61}[A-Za-z0-9]")
VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,13}[A-Za-z0-9]|[A-Za-z0-9]")


class RestoreRefused(Exception):
    """A documented refusal of the wizard; ``field`` names the input it concerns."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class RestoreRequest:
    vm_name: str
    cloud_service: str
    new_service: bool
    storage_account: str
    virtual_network: str = ""
    subnet: str = ""


def storage_accounts(subscription, *, ask_fabric: bool = False) -> dict[str, str]:
    """The subscription's storage accounts and their regions, as its disks show them (the fabric's disk list too)."""
    accounts: dict[str, str] = {}
    if ask_fabric:
        try:
            for disk in compute_client(subscription.endpoint).list_disks():
                path = urlsplit(disk.media_link or "").path.lstrip("/")
                if path and disk.location:
                    accounts.setdefault(path.split("/", 1)[0], disk.location)
        except Exception:
            log.warning("could not list the subscription's disks", exc_info=True)
    for vm in VirtualMachine.objects.filter(subscription=subscription):
        for disk in vm.disks:
            path = urlsplit(disk.get("media_link") or "").path.lstrip("/")
            if path:
                accounts.setdefault(path.split("/", 1)[0], vm.region)
    return dict(sorted(accounts.items()))


def cloud_services(subscription, region: str) -> list[str]:
    return sorted(set(VirtualMachine.objects.filter(subscription=subscription, region=region, gone=False)
                      .values_list("cloud_service", flat=True)))


def virtual_networks(subscription, region: str) -> dict[str, VirtualNetwork]:
    """The subscription's virtual networks in ``region``, by name; FabricError when they cannot be listed."""
    return {network.name: network
            for network in sorted(list_virtual_networks(subscription.endpoint), key=lambda network: network.name.lower())
            if network.location == region}


def _service_detail(client, subscription_id: str, service: str) -> dict:
    from vaults.compute import NS

    root = raw_xml(client, f"/{subscription_id}/services/hostedservices/{service}?embed-detail=true")
    location = root.findtext("wa:HostedServiceProperties/wa:Location", default="", namespaces=NS)
    deployment = root.find("wa:Deployments/wa:Deployment", NS)
    roles = set()
    name = None
    network = ""
    if deployment is not None:
        name = deployment.findtext("wa:Name", default="", namespaces=NS)
        roles = {r.findtext("wa:RoleName", default="", namespaces=NS) for r in deployment.iterfind("wa:RoleList/wa:Role", NS)}
        network = deployment.findtext("wa:VirtualNetworkName", default="", namespaces=NS)
    return {"location": location, "deployment": name, "roles": roles, "virtual_network": network}


def _check_network(vault, request: RestoreRequest) -> None:
    """The network and subnet go together: both empty, or a subnet of a network in the vault's region."""
    if not request.virtual_network:
        raise RestoreRefused(f"Choose the virtual network of subnet '{request.subnet}', or no subnet.", "virtual_network")
    networks = virtual_networks(vault.subscription, vault.region)
    if request.virtual_network not in networks:
        raise RestoreRefused(f"The virtual network '{request.virtual_network}' does not exist in {vault.region}. Choose "
                             "a virtual network in the vault's region, or none.", "virtual_network")
    if not request.subnet:
        raise RestoreRefused(f"Choose a subnet of virtual network '{request.virtual_network}'.", "subnet")
    if not networks[request.virtual_network].has_subnet(request.subnet):
        raise RestoreRefused(f"The subnet '{request.subnet}' does not exist in virtual network "
                             f"'{request.virtual_network}'.", "subnet")


def check_request(vault, request: RestoreRequest, *, ask_fabric: bool = True) -> None:
    """Every documented refusal of page 2, in the order the wizard shows them.

    Without ``ask_fabric`` only what the portal's database knows is checked (no network, no cloud service). A
    fabric that cannot answer raises FabricError.
    """
    if not VM_NAME.fullmatch(request.vm_name or ""):
        raise RestoreRefused("Enter a VM name of 1 to 15 letters, digits and hyphens.", "vm_name")
    if not NAME.fullmatch(request.cloud_service or ""):
        raise RestoreRefused("Enter a cloud service name of 3 to 63 letters, digits and hyphens.", "cloud_service")
    accounts = storage_accounts(vault.subscription, ask_fabric=ask_fabric)
    if request.storage_account not in accounts:
        raise RestoreRefused(f"The storage account '{request.storage_account}' does not exist.", "storage_account")
    if accounts[request.storage_account] != vault.region:
        raise RestoreRefused(f"The storage account '{request.storage_account}' is in "
                             f"{accounts[request.storage_account]}, but the vault is in {vault.region}. Choose a storage "
                             "account in the same region as the vault.", "storage_account")
    if ask_fabric and (request.subnet or request.virtual_network):
        _check_network(vault, request)
    if VirtualMachine.objects.filter(subscription=vault.subscription, cloud_service__iexact=request.cloud_service,
                                     name__iexact=request.vm_name, gone=False).exists():
        raise RestoreRefused(f"A virtual machine named '{request.vm_name}' already exists in cloud service "
                             f"'{request.cloud_service}'. Restore does not overwrite a VM; choose another name.", "vm_name")
    if not ask_fabric:
        return
    endpoint = vault.subscription.endpoint
    client = compute_client(endpoint)
    try:
        detail = _service_detail(client, endpoint.subscription_id, request.cloud_service)
    except Exception as error:
        failure = describe_failure(endpoint, error)
        if failure.status != 404:
            raise failure from error
        detail = None
    if request.new_service and detail is not None:
        raise RestoreRefused(f"The cloud service name '{request.cloud_service}' is already taken. Cloud service names "
                             "are globally unique; choose another.", "cloud_service")
    if not request.new_service and detail is None:
        raise RestoreRefused(f"The cloud service '{request.cloud_service}' does not exist.", "cloud_service")
    if detail is not None:
        if detail["location"] and detail["location"] != vault.region:
            raise RestoreRefused(f"The cloud service '{request.cloud_service}' is in {detail['location']}, not in the "
                                 f"vault's region {vault.region}.", "cloud_service")
        if request.vm_name.lower() in {r.lower() for r in detail["roles"]}:
            raise RestoreRefused(f"A virtual machine named '{request.vm_name}' already exists in cloud service "
                                 f"'{request.cloud_service}'. Restore does not overwrite a VM; choose another name.",
                                 "vm_name")
        # A VM added to a deployment joins the deployment's network, if it has one.
        joined = detail["virtual_network"]
        if detail["deployment"] is not None and request.virtual_network and request.virtual_network != joined:
            raise RestoreRefused(
                f"The cloud service '{request.cloud_service}' is in virtual network '{joined}': a VM added to it joins "
                f"that network. Choose '{joined}', or another cloud service." if joined else
                f"The cloud service '{request.cloud_service}' is not in a virtual network: a VM added to it cannot join "
                f"'{request.virtual_network}'. Choose no virtual network, or another cloud service.", "virtual_network")


def start_restore(user, point: RecoveryPoint, request: RestoreRequest, *, ask_fabric: bool = True) -> Job:
    if user is not None and not can_operate(user):
        raise RestoreRefused("Only Backup Operators and Administrators can restore virtual machines.")
    item = point.protected_item
    vault = item.vault
    check_request(vault, request, ask_fabric=ask_fabric)
    with transaction.atomic():
        return start_job(operation=Operation.RESTORE, user=user, subscription=vault.subscription, vault=vault,
                         item_type="vm", item_key=f"restore:{vault.pk}:{request.cloud_service.lower()}/"
                                                   f"{request.vm_name.lower()}",
                         item_name=item.item.vm.name, task_name="vaults.restore",
                         params={"point": point.pk, "vm_name": request.vm_name, "cloud_service": request.cloud_service,
                                 "new_service": request.new_service, "storage_account": request.storage_account,
                                 "virtual_network": request.virtual_network, "subnet": request.subnet})


# --- The job -----------------------------------------------------------------------

def _remember(ctx: JobContext, **values) -> None:
    ctx.job.params.update(values)
    ctx.params.update(values)
    Job.objects.filter(pk=ctx.job.pk).update(params=ctx.job.params)


def _undo_restore(job: Job, reason: str) -> None:
    """Remove the VM (if it was created) and every blob the job wrote: nothing half-restored stays."""
    from vaults.models import Vault

    vault = Vault.objects.select_related("subscription").filter(pk=job.vault_id).first()
    if vault is None:
        return
    endpoint = vault.subscription.endpoint
    created = job.params.get("created_role")
    if created:
        try:
            client = compute_client(endpoint)
            # The role's creation may still be under way (the job timed out or lost track of it): until it ends,
            # the deployment refuses a delete.
            _settle(client, created.get("request_id"))
            response = _delete_role(client, endpoint, f"/{endpoint.subscription_id}/services/hostedservices/"
                                    f"{created['service']}/deployments/{created['deployment']}/roles/{created['role']}")
            _settle(client, _request_id(response))
        except Exception:
            log.warning("could not delete role %s", created, exc_info=True)
    service = job.params.get("created_service")
    if service:
        # The cloud service this job created for the VM: empty again once the role is gone.
        try:
            compute_client(endpoint).delete_hosted_service(service)
        except Exception:
            log.warning("could not delete cloud service %s", service, exc_info=True)
    blobs = backup.blob_client(endpoint)
    for url in job.params.get("created_blobs") or []:
        try:
            blobs._call("DELETE", url, headers={"x-ms-delete-snapshots": "include"})
        except Exception as error:
            if getattr(error, "status", None) != 404:
                log.warning("could not delete restored blob %s: %s", url, error)


def _delete_role(client, endpoint, path: str, timeout: float = 60.0):
    """DELETE a role, waiting while another operation holds its deployment (answered 409 Conflict meanwhile)."""
    deadline = time.monotonic() + timeout
    delays = poll_delays()
    while True:
        try:
            return client.perform_delete(path)
        except Exception as error:
            if describe_failure(endpoint, error).status != 409 or time.monotonic() > deadline:
                raise
        time.sleep(next(delays))


def _settle(client, request_id: str | None, timeout: float = 60.0) -> None:
    """Wait, without a job to report to, until an asynchronous operation is no longer in progress."""
    deadline = time.monotonic() + timeout
    delays = poll_delays()
    while request_id and time.monotonic() < deadline:
        if client.get_operation_status(request_id).status != "InProgress":
            return
        time.sleep(next(delays))


def _media_base(point_row: RecoveryPoint) -> str:
    link = next((d.get("media_link") for d in point_row.disks if d.get("media_link")), "")
    parts = urlsplit(link)
    return f"{parts.scheme}://{parts.netloc}"


def _disk_xml(tag: str, disk: dict, url: str, os_type: str) -> str:
    if tag == "OSVirtualHardDisk":
        return (f"<OSVirtualHardDisk><HostCaching>ReadWrite</HostCaching><DiskLabel>{escape(disk['name'])}</DiskLabel>"
                f"<MediaLink>{escape(url)}</MediaLink><OS>{escape(os_type)}</OS></OSVirtualHardDisk>")
    return (f"<DataVirtualHardDisk><HostCaching>None</HostCaching><DiskLabel>{escape(disk['name'])}</DiskLabel>"
            f"<Lun>{int(disk.get('lun') or 0)}</Lun><LogicalDiskSizeInGB>{max(1, disk['size'] >> 30)}"
            f"</LogicalDiskSizeInGB><MediaLink>{escape(url)}</MediaLink></DataVirtualHardDisk>")


def role_xml(name: str, disks: list[tuple[dict, str]], os_type: str, subnet: str = "") -> str:
    os_disk = next(((d, u) for d, u in disks if d.get("lun") is None), disks[0])
    data = [(d, u) for d, u in disks if (d, u) is not os_disk and d is not os_disk[0]]
    network = (f"<ConfigurationSets><ConfigurationSet><ConfigurationSetType>NetworkConfiguration</ConfigurationSetType>"
               f"<SubnetNames><SubnetName>{escape(subnet)}</SubnetName></SubnetNames></ConfigurationSet>"
               "</ConfigurationSets>") if subnet else ""
    return (f"<RoleName>{escape(name)}</RoleName><RoleType>PersistentVMRole</RoleType>{network}"
            + (f"<DataVirtualHardDisks>{''.join(_disk_xml('Data', d, u, os_type) for d, u in data)}"
               "</DataVirtualHardDisks>" if data else "")
            + _disk_xml("OSVirtualHardDisk", os_disk[0], os_disk[1], os_type)
            + "<RoleSize>Small</RoleSize><ProvisionGuestAgent>true</ProvisionGuestAgent>")


WA = 'xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'


def _request_id(response) -> str:
    for name, value in response.headers:
        if name.lower() == "x-ms-request-id":
            return value
    return ""


def damaged_point_error(point_row: RecoveryPoint, error: Exception) -> JobError:
    return JobError("RecoveryPointDamaged", f"The recovery point of {point_row.created:%Y-%m-%d %H:%M:%S} UTC cannot be "
                    f"restored: its data in the vault is damaged ({error}). No virtual machine was created.",
                    ["Restore from another recovery point.", "Run VERIFY to list every affected recovery point."])


@job_task("vaults.restore", cleanup=_undo_restore)
def run_restore(ctx: JobContext) -> None:
    """Check the target, restore and prove the disks, create the VM.

    A retry (after a temporary error) picks up where the earlier attempt got:
    a VM already asked for is only waited for, and disks already proven whose
    blobs are still there are not written again.
    """
    point_row = (RecoveryPoint.objects.select_related("protected_item__item__vm", "protected_item__vault__subscription")
                 .filter(pk=ctx.params["point"]).first())
    if point_row is None:
        raise JobError("RecoveryPointNotFound", "The recovery point no longer exists.",
                       ["Pick another recovery point and restore again."])
    vault = point_row.protected_item.vault
    endpoint = vault.subscription.endpoint
    name, service = ctx.params["vm_name"], ctx.params["cloud_service"]
    account = ctx.params["storage_account"]
    ctx.set_property("Source VM", point_row.protected_item.item.vm.name)
    ctx.set_property("Recovery point", point_row.created.isoformat(timespec="seconds"))
    ctx.set_property("Target VM", f"{name} ({service})")
    ctx.set_property("Storage account", account)
    request = RestoreRequest(name, service, bool(ctx.params.get("new_service")), account,
                             ctx.params.get("virtual_network", ""), ctx.params.get("subnet", ""))
    created = ctx.params.get("created_role")
    if created:
        with ctx.subtask("Create the virtual machine"), fabric_errors(endpoint):
            _wait_for_vm(ctx, compute_client(endpoint), created.get("request_id"))
        _restored(ctx, vault, name)
        return
    with ctx.subtask("Check the restore target"), fabric_errors(endpoint):
        if not ctx.params.get("created_service"):
            try:
                check_request(vault, request)
            except RestoreRefused as refusal:
                raise JobError("RestoreTargetInvalid", str(refusal), ["Correct the restore options, then try again."]
                               ) from refusal
        store = backup.open_store(vault)
        try:
            point = store.load_point(point_row.store_point_id)
        except StoreError as error:
            raise damaged_point_error(point_row, error) from error
    ctx.progress(5)
    blobs = backup.blob_client(endpoint)
    targets = [(disk, url) for disk, url in ctx.params.get("proven") or []]
    if not targets or not _still_there(blobs, targets):
        targets = _restore_disks(ctx, point_row, store, point, blobs)
        _remember(ctx, proven=[[disk, url] for disk, url in targets])
    ctx.progress(90)
    with ctx.subtask("Create the virtual machine"), fabric_errors(endpoint):
        client = compute_client(endpoint)
        sub = endpoint.subscription_id
        os_type = "Windows"
        if request.new_service and not ctx.params.get("created_service"):
            client.create_hosted_service(service, label=service, location=vault.region)
            _remember(ctx, created_service=service)
        detail = _service_detail(client, sub, service)
        body = role_xml(name, targets, os_type, request.subnet)
        if detail["deployment"] is None:
            network = (f"<VirtualNetworkName>{escape(request.virtual_network)}</VirtualNetworkName>"
                       if request.virtual_network else "")
            xml = (f"<Deployment {WA}><Name>{escape(service)}</Name><DeploymentSlot>Production</DeploymentSlot>"
                   f"<Label>{escape(service)}</Label><RoleList><Role>{body}</Role></RoleList>{network}</Deployment>")
            response = client.perform_post(f"/{sub}/services/hostedservices/{service}/deployments", xml)
            deployment = service
        else:
            deployment = detail["deployment"]
            xml = f"<PersistentVMRole {WA}>{body}</PersistentVMRole>"
            response = client.perform_post(f"/{sub}/services/hostedservices/{service}/deployments/{deployment}/roles",
                                           xml)
        request_id = _request_id(response)
        _remember(ctx, created_role={"service": service, "deployment": deployment, "role": name,
                                     "request_id": request_id})
        _wait_for_vm(ctx, client, request_id)
    _restored(ctx, vault, name)


def _restore_disks(ctx: JobContext, point_row: RecoveryPoint, store: VaultStore, point: StorePoint,
                   blobs) -> list[tuple[dict, str]]:
    """Write every disk of the point into a new page blob, then prove each blob's digest; (disk, blob url) pairs."""
    vault = point_row.protected_item.vault
    name, account = ctx.params["vm_name"], ctx.params["storage_account"]
    base = _media_base(point_row)
    stamp = f"{ctx.job.pk}"
    targets: list[tuple[dict, str]] = []
    total = sum(d.size for d in point.disks) or 1
    done_before = 0
    with ctx.subtask("Restore disks"):
        secondary = backup.secondary_store(vault)
        for manifest in point.disks:
            recorded = next((d for d in point_row.disks if d["name"] == manifest.name), {"name": manifest.name,
                                                                                           "lun": None})
            url = f"{base}/{account}/vhds/{name}-{manifest.name}-{stamp}.vhd"
            if url not in (ctx.params.get("created_blobs") or []):
                _remember(ctx, created_blobs=[*(ctx.params.get("created_blobs") or []), url])

            def progress(done: int, _total: int, before: int = done_before) -> None:
                ctx.progress(5 + 80 * (before + done) / total, **{"Restored Bytes": backup.human_bytes(before + done)})
            try:
                result = store.restore_disk(manifest, PageBlobSink(blobs, url), secondary=secondary,
                                            progress=progress, cancel=ctx.check_cancelled)
            except (ChunkError, CorruptManifestError, DigestMismatchError) as error:
                raise damaged_point_error(point_row, error) from error
            except Exception as error:
                translated = backup.translate(error)
                if translated is error:
                    raise
                raise translated from error
            if result.chunks_from_secondary:
                ctx.set_property("Chunks read from the secondary copy",
                                 int(ctx.job.properties.get("Chunks read from the secondary copy", 0))
                                 + result.chunks_from_secondary)
            done_before += manifest.size
            targets.append(({**recorded, "size": manifest.size, "digest": manifest.digest}, url))
    with ctx.subtask("Prove the restored disks"):
        for disk, url in targets:
            ctx.check_cancelled()
            measured = measure_digest(PageBlobSource(blobs, url, None), point.disks[0].chunk_size,
                                      workers=backup.store_workers())
            if measured != disk["digest"]:
                raise JobError("RestoreDigestMismatch", f"The restored disk '{disk['name']}' does not hold the backed-up "
                               "bytes (digest mismatch). No virtual machine was created.",
                               ["Restore again; if it happens again, run VERIFY on the vault."])
        ctx.set_property("Digests verified", len(targets))
    return targets


def _still_there(blobs, targets: list[tuple[dict, str]]) -> bool:
    """Whether the blobs an earlier attempt proved are all still there, at their size."""
    try:
        return all(blobs.size(url) == disk["size"] for disk, url in targets)
    except PageBlobError:
        return False


def _wait_for_vm(ctx: JobContext, client, request_id: str | None) -> None:
    if request_id:
        wait_for_operation(ctx, client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                           what="Creating the virtual machine")


def _restored(ctx: JobContext, vault, name: str) -> None:
    ctx.progress(100)
    publish([f"vault:{vault.pk}"], "item", {"restored": name})
