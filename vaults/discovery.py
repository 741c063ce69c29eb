"""Discovery: the VMs of a subscription's region, read through the Service Management API.

List Hosted Services comes through the SDK's models; each service's details
(``embed-detail=true``) are read as raw XML, because the SDK's models drop
``GuestAgentStatus``, ``ResourceExtensionStatusList`` and the disks' ``IOType``.
Services are fetched concurrently with a bound, each thread with its own
client (a ``requests`` session is not shared across threads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from xml.etree.ElementTree import Element

from django.db import transaction
from django.utils import timezone

from vaults.compute import NS, Endpoint, compute_client, describe_failure, raw_xml
from vaults.models import Vault, VirtualMachine

MAX_CONCURRENT_REQUESTS = 16
BATCH_SIZE = 500


@dataclass
class FoundVM:
    cloud_service: str
    deployment: str
    name: str
    region: str
    power_state: str = ""
    instance_status: str = ""
    agent_status: str = ""
    has_agent: bool = False
    disks: list[dict] = field(default_factory=list)


def _text(element: Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path, NS)
    return (found.text or default).strip() if found is not None and found.text else default


def _disk(element: Element, lun: int | None) -> dict:
    return {
        "name": _text(element, "wa:DiskName"),
        "lun": lun,
        "media_link": _text(element, "wa:MediaLink"),
        "size_gb": int(_text(element, "wa:LogicalDiskSizeInGB", "0") or 0),
        # Premium storage disks report IOType "Provisioned"; standard ones "Standard".
        "premium": _text(element, "wa:IOType").lower() == "provisioned",
    }


def parse_hosted_service(root: Element, region: str) -> list[FoundVM]:
    """The VMs of one Get Hosted Service Properties (embed-detail) answer."""
    service = _text(root, "wa:ServiceName")
    found: list[FoundVM] = []
    for deployment in root.iterfind("wa:Deployments/wa:Deployment", NS):
        deployment_name = _text(deployment, "wa:Name")
        instances = {_text(i, "wa:RoleName"): i for i in deployment.iterfind("wa:RoleInstanceList/wa:RoleInstance", NS)}
        for role in deployment.iterfind("wa:RoleList/wa:Role", NS):
            if _text(role, "wa:RoleType") not in ("", "PersistentVMRole"):
                continue
            name = _text(role, "wa:RoleName")
            instance = instances.get(name)
            agent = instance.find("wa:GuestAgentStatus", NS) if instance is not None else None
            disks = [_disk(d, None) for d in role.iterfind("wa:OSVirtualHardDisk", NS)]
            disks += [_disk(d, int(_text(d, "wa:Lun", "0") or 0))
                      for d in role.iterfind("wa:DataVirtualHardDisks/wa:DataVirtualHardDisk", NS)]
            found.append(FoundVM(
                cloud_service=service, deployment=deployment_name, name=name, region=region,
                power_state=_text(instance, "wa:PowerState"), instance_status=_text(instance, "wa:InstanceStatus"),
                agent_status=_text(agent, "wa:Status"),
                has_agent=agent is not None or _text(role, "wa:ProvisionGuestAgent").lower() == "true",
                disks=disks,
            ))
    return found


def fetch_region(endpoint: Endpoint, region: str, *, on_progress: Callable[[int, int], None] | None = None,
                 check_cancelled: Callable[[], None] | None = None,
                 max_workers: int = MAX_CONCURRENT_REQUESTS) -> list[FoundVM]:
    """Every VM of ``region``: one List Hosted Services, then the services of the region concurrently."""
    try:
        services = [s.service_name for s in compute_client(endpoint).list_hosted_services()
                    if (s.hosted_service_properties.location or "") == region]
    except Exception as error:  # noqa: BLE001 - described for the user by describe_failure
        raise describe_failure(endpoint, error) from error
    local = threading.local()

    def fetch(service: str) -> list[FoundVM]:
        if check_cancelled is not None:
            check_cancelled()
        if not hasattr(local, "client"):
            local.client = compute_client(endpoint)
        try:
            root = raw_xml(local.client, f"/{endpoint.subscription_id}/services/hostedservices/{service}?embed-detail=true")
        except Exception as error:  # noqa: BLE001
            failure = describe_failure(endpoint, error)
            if failure.status == 404:
                return []  # deleted between the listing and now: it has no VMs any more
            raise failure from error
        return parse_hosted_service(root, region)

    found: list[FoundVM] = []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for done, vms in enumerate(pool.map(fetch, services), start=1):
            found.extend(vms)
            if on_progress is not None:
                on_progress(done, len(services))
    return found


def record(vault: Vault, found: list[FoundVM]) -> dict[str, int]:
    """Write what discovery found for ``vault``'s region, in batches; VMs no longer there are marked gone."""
    now = timezone.now()
    subscription = vault.subscription
    existing = {(vm.cloud_service, vm.name): vm
                for vm in VirtualMachine.objects.filter(subscription=subscription, region=vault.region)}
    fields = ["deployment", "power_state", "instance_status", "agent_status", "has_agent", "disks"]
    new, changed = [], []
    for vm in found:
        values = {k: v for k, v in asdict(vm).items() if k in fields}
        row = existing.pop((vm.cloud_service, vm.name), None)
        if row is None:
            new.append(VirtualMachine(subscription=subscription, cloud_service=vm.cloud_service, name=vm.name,
                                      region=vm.region, last_seen=now, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.gone, row.last_seen = False, now
            changed.append(row)
    gone = [row.pk for row in existing.values() if not row.gone]
    with transaction.atomic():
        VirtualMachine.objects.bulk_create(new, batch_size=BATCH_SIZE)
        VirtualMachine.objects.bulk_update(changed, [*fields, "gone", "last_seen"], batch_size=BATCH_SIZE)
        VirtualMachine.objects.filter(pk__in=gone).update(gone=True)
    return {"found": len(found), "new": len(new), "gone": len(gone)}
