"""The Restore job: write a recovery point's disks into new page blobs, prove them, then create the VM.

Each disk goes into a new page blob in the chosen storage account (through
``PageBlobSink``; a chunk the primary copy cannot read comes from a GRS
vault's secondary copy). Every restored blob is read back and its digest must
equal the one recorded at backup time; only then is the VM created (Create
Deployment for a cloud service without one, else Add Role). Whatever the job
created is removed when it fails or is cancelled: no half-restored VM is left.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from azure.servicemanagement import ServiceManagementService
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError
from jobs.models import Job, Operation
from jobs.runner import JobContext
from jobs.throughput import Meter
from portal.events import publish
from portal.units import DATA_RESTORED, DISK_SIZE, human_bytes
from vaults.cloud.deployments import RestoredDisk, create_vm, delete_role
from vaults.cloud.endpoint import Endpoint, compute_client
from vaults.cloud.errors import describe_failure
from vaults.cloud.hosted import service_detail
from vaults.cloud.pageblob import PageBlobClient, PageBlobError, blob_client
from vaults.cloud.polling import settle, wait_for_operation
from vaults.models import RecoveryPoint, User, Vault
from vaults.operations.base import VaultOperation, parking
from vaults.services.failures import job_failures
from vaults.services.refusals import Refusal
from vaults.services.restore import RestoreRequest, check_request, check_restore, damaged_point_error
from vaults.services.storage import open_store, secondary_store
from vaultstore import (
    ChunkError,
    CorruptManifestError,
    DigestMismatchError,
    PageBlobSink,
    PageBlobSource,
    StoreError,
    VaultStore,
    measure_digest,
)
from vaultstore import RecoveryPoint as StorePoint
from vaultstore.manifest import data_length

log = logging.getLogger(__name__)

# The phases of the disks' restore, as the job's details name them.
WRITING = "Writing disks"
PROVING = "Proving the restored disks"


class Restore(VaultOperation):
    task_name = "vaults.restore"
    operation = Operation.RESTORE

    @classmethod
    def start(cls, user: User, point: RecoveryPoint, request: RestoreRequest, *, ask_fabric: bool = True) -> Job:
        """RESTORE: the wizard's finish and ``manage.py restore``."""
        check_restore(user, point, request, ask_fabric=ask_fabric)
        item, vault = point.protected_item, point.protected_item.vault
        with transaction.atomic():
            return cls._enqueue(
                user, vault, item_type="vm",
                item_key=f"restore:{vault.pk}:{request.cloud_service.lower()}/{request.vm_name.lower()}",
                item_name=item.item.vm.display_name,
                params={"point": point.pk, "vm_name": request.vm_name, "cloud_service": request.cloud_service,
                        "new_service": request.new_service, "storage_account": request.storage_account,
                        "virtual_network": request.virtual_network, "subnet": request.subnet})

    @classmethod
    def cleanup(cls, job: Job, reason: str) -> None:
        """Remove the VM (if it was created) and every blob the job wrote: nothing half-restored stays.

        What cannot be removed now (the fabric does not answer) is left to the reconciler, which runs this again
        until it is all gone (``Job.mark_cleanup_pending``); what is gone already counts as removed.
        """
        vault = Vault.objects.select_related("subscription").filter(pk=job.vault_id).first()
        if vault is None:  # the vault, and with it this job's subscription, is gone: nothing can be reached
            job.mark_cleanup_pending("")
            return
        endpoint = vault.subscription.endpoint
        left = [what for what, removed in (("role", _remove_role(endpoint, job.params.get("created_role"))),
                                           ("cloud service", _remove_service(endpoint, job.params.get("created_service"))),
                                           ("disks", _remove_blobs(endpoint, job.params.get("created_blobs") or [])))
                if not removed]
        job.mark_cleanup_pending(", ".join(left))

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        """Check the target, restore and prove the disks, create the VM.

        A retry (after a temporary error) picks up where the earlier attempt got: a VM already asked for is only
        waited for, and disks already proven whose blobs are still there are not written again.
        """
        point_row = (RecoveryPoint.objects.select_related("protected_item__item__vm",
                                                          "protected_item__vault__subscription")
                     .filter(pk=ctx.params["point"]).first())
        if point_row is None:
            raise JobError("RecoveryPointNotFound", _("The recovery point no longer exists."),
                           [_("Pick another recovery point and restore again.")])
        vault = point_row.protected_item.vault
        endpoint = vault.subscription.endpoint
        request = RestoreRequest(ctx.params["vm_name"], ctx.params["cloud_service"], bool(ctx.params.get("new_service")),
                                 ctx.params["storage_account"], ctx.params.get("virtual_network", ""),
                                 ctx.params.get("subnet", ""))
        ctx.set_property("Source VM", point_row.protected_item.item.vm.display_name)
        ctx.set_property("Recovery point", point_row.created.isoformat(timespec="seconds"))
        ctx.set_property("Target VM", f"{request.vm_name} ({request.cloud_service})")
        ctx.set_property("Storage account", request.storage_account)
        if created := ctx.params.get("created_role"):
            with ctx.subtask(gettext_noop("Create the virtual machine")), job_failures(endpoint):
                _wait_for_vm(ctx, compute_client(endpoint), created.get("request_id"))
            _restored(ctx, vault, request.vm_name)
            return
        store, point = _check_target(ctx, point_row, request)
        ctx.progress(5)
        blobs = blob_client(endpoint)
        targets = [(disk, url) for disk, url in ctx.params.get("proven") or []]
        if not targets or not _still_there(blobs, targets):
            targets = _restore_disks(ctx, point_row, store, point, blobs)
            ctx.remember(proven=[[disk, url] for disk, url in targets])
        ctx.progress(90)
        with ctx.subtask(gettext_noop("Create the virtual machine")), job_failures(endpoint):
            _create_vm(ctx, vault, request, targets)
        _restored(ctx, vault, request.vm_name)


def _check_target(ctx: JobContext, point_row: RecoveryPoint, request: RestoreRequest) -> tuple[VaultStore, StorePoint]:
    vault = point_row.protected_item.vault
    with ctx.subtask(gettext_noop("Check the restore target")), job_failures(vault.subscription.endpoint):
        if not ctx.params.get("created_service"):
            try:
                check_request(vault, request)
            except Refusal as refusal:
                raise JobError("RestoreTargetInvalid", str(refusal), [_("Correct the restore options, then try again.")]
                               ) from refusal
        store = open_store(vault)
        try:
            return store, store.load_point(point_row.store_point_id)
        except StoreError as error:
            raise damaged_point_error(point_row, error) from error


def _create_vm(ctx: JobContext, vault: Vault, request: RestoreRequest, targets: list[RestoredDisk]) -> None:
    endpoint = vault.subscription.endpoint
    client = compute_client(endpoint)
    if request.new_service and not ctx.params.get("created_service"):
        client.create_hosted_service(request.cloud_service, label=request.cloud_service, location=vault.region)
        ctx.remember(created_service=request.cloud_service)
    detail = service_detail(client, endpoint, request.cloud_service)
    if detail is None:
        raise JobError("RestoreTargetInvalid", _("The cloud service '%(service)s' does not exist.")
                       % {"service": request.cloud_service}, [_("Correct the restore options, then try again.")])
    deployment, request_id = create_vm(client, endpoint, request.cloud_service, detail, name=request.vm_name,
                                       disks=targets, virtual_network=request.virtual_network, subnet=request.subnet)
    ctx.remember(created_role={"service": request.cloud_service, "deployment": deployment, "role": request.vm_name,
                                "request_id": request_id})
    _wait_for_vm(ctx, client, request_id)


def _media_base(point_row: RecoveryPoint) -> str:
    link = next((d.get("media_link") for d in point_row.disks if d.get("media_link")), "")
    parts = urlsplit(link)
    return f"{parts.scheme}://{parts.netloc}"


def _restore_disks(ctx: JobContext, point_row: RecoveryPoint, store: VaultStore, point: StorePoint,
                   blobs: PageBlobClient) -> list[RestoredDisk]:
    """Write every disk of the point into a new page blob, then prove each blob's digest; (disk, blob url) pairs.

    The progress follows the bytes through both phases: each disk's data is written once and read back once to be
    proven, so the job's total is twice the data, and 5% to 90% moves evenly over writing and proving.
    """
    vault = point_row.protected_item.vault
    base, name, account = _media_base(point_row), ctx.params["vm_name"], ctx.params["storage_account"]
    targets: list[RestoredDisk] = []
    data = [data_length(d.size, d.chunk_size, d.chunks) for d in point.disks]
    total = 2 * sum(data)
    meter = Meter(ctx)

    def report(done: int, **properties: Any) -> None:
        done = min(done, total)
        meter.update(done, total, 5 + 85 * done / max(total, 1), **properties)

    done_before = 0
    with ctx.subtask(gettext_noop("Restore disks")), job_failures():
        meter.enter(WRITING)
        secondary = secondary_store(vault)
        for manifest, length in zip(point.disks, data, strict=True):
            recorded = next((d for d in point_row.disks if d["name"] == manifest.name), {"name": manifest.name,
                                                                                           "lun": None})
            url = f"{base}/{account}/vhds/{name}-{manifest.name}-{ctx.job.pk}.vhd"
            if url not in (ctx.params.get("created_blobs") or []):
                ctx.remember(created_blobs=[*(ctx.params.get("created_blobs") or []), url])

            def written(done: int, _total: int, before: int = done_before, length: int = length) -> None:
                report(before + min(done, length), **{DATA_RESTORED: human_bytes(before + min(done, length))})
            try:
                result = store.restore_disk(manifest, PageBlobSink(blobs, url), secondary=secondary,
                                            progress=written, cancel=ctx.check_cancelled)
            except (ChunkError, CorruptManifestError, DigestMismatchError) as error:
                raise damaged_point_error(point_row, error) from error
            if result.chunks_from_secondary:
                ctx.set_property("Chunks read from the secondary copy",
                                 int(ctx.job.properties.get("Chunks read from the secondary copy", 0))
                                 + result.chunks_from_secondary)
            done_before += length
            targets.append(({**recorded, "size": manifest.size, "digest": manifest.digest}, url))
        # The bytes written, not the disks' provisioned size (their empty space is not written; portal/units.py).
        ctx.set_property(DATA_RESTORED, human_bytes(sum(data)))
        ctx.set_property(DISK_SIZE, human_bytes(sum(manifest.size for manifest in point.disks)))
    with ctx.subtask(gettext_noop("Prove the restored disks")):
        meter.enter(PROVING)
        for (disk, url), length in zip(targets, data, strict=True):
            ctx.check_cancelled()

            def proven(done: int, _total: int, before: int = done_before, length: int = length) -> None:
                report(before + min(done, length))
            measured = measure_digest(PageBlobSource(blobs, url, None), point.disks[0].chunk_size,
                                      workers=settings.VAULT_STORE_WORKERS, name_of=store.chunks.name_of,
                                      progress=proven, cancel=ctx.check_cancelled)
            if measured != disk["digest"]:
                raise JobError("RestoreDigestMismatch", _("The restored disk '%(disk)s' does not hold the backed-up "
                                                          "bytes (digest mismatch). No virtual machine was created.")
                               % {"disk": disk["name"]},
                               [_("Restore again; if it happens again, run VERIFY on the vault.")])
            done_before += length
        report(total)
        meter.finish()
        ctx.set_property("Digests verified", len(targets))
    return targets


def _still_there(blobs: PageBlobClient, targets: list[RestoredDisk]) -> bool:
    """Whether the blobs an earlier attempt proved are all still there, at their size."""
    try:
        return all(blobs.size(url) == disk["size"] for disk, url in targets)
    except PageBlobError:
        return False


def _wait_for_vm(ctx: JobContext, client: ServiceManagementService, request_id: str | None) -> None:
    """Wait for the VM's creation; the job parks meanwhile, and when it resumes it comes straight back here."""
    if request_id:
        wait_for_operation(client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                           what="Creating the virtual machine", wait=parking(ctx, "create-vm"))


def _restored(ctx: JobContext, vault: Vault, name: str) -> None:
    ctx.progress(100)
    publish([f"vault:{vault.pk}"], "item", {"restored": name})


def _gone(endpoint: Endpoint, error: Exception) -> bool:
    """Whether a removal failed only because the thing is already gone."""
    status = error.status if isinstance(error, PageBlobError) else describe_failure(endpoint, error).status
    return status == 404


def _remove_role(endpoint: Endpoint, created: dict | None) -> bool:
    if not created:
        return True
    try:
        client = compute_client(endpoint)
        # The role's creation may still be under way (the job timed out or lost track of it): until it ends, the
        # deployment refuses a delete.
        settle(client, created.get("request_id"))
        settle(client, delete_role(client, endpoint, created["service"], created["deployment"], created["role"]))
    except Exception as error:
        if _gone(endpoint, error):
            return True
        log.warning("could not delete role %s", created, exc_info=True)
        return False
    return True


def _remove_service(endpoint: Endpoint, service: str | None) -> bool:
    """The cloud service the job created for the VM: empty again once the role is gone."""
    if not service:
        return True
    try:
        compute_client(endpoint).delete_hosted_service(service)
    except Exception as error:
        if _gone(endpoint, error):
            return True
        log.warning("could not delete cloud service %s", service, exc_info=True)
        return False
    return True


def _remove_blobs(endpoint: Endpoint, urls: list[str]) -> bool:
    blobs, removed = blob_client(endpoint), True
    for url in urls:
        try:
            blobs.delete(url)
        except PageBlobError as error:
            if error.status != 404:
                log.warning("could not delete restored blob %s: %s", url, error)
                removed = False
    return removed
