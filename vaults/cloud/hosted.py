"""The one hosted-service reader: Get Hosted Service Properties with ``embed-detail``, and what it tells.

List Hosted Services comes through the SDK's models; each service's details
(``embed-detail=true``) are read as raw XML, because the SDK's models drop
``GuestAgentStatus``, ``ResourceExtensionStatusList`` and the disks' ``IOType``.
Discovery fetches the services of a region concurrently with a bound, each
thread with its own client (a ``requests`` session is not shared across
threads); registration, the backup extension and restore read one service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from azure.servicemanagement import ServiceManagementService

from vaults.cloud.endpoint import NS, Endpoint, compute_client, raw_xml
from vaults.cloud.endpoint import text_of as _text
from vaults.cloud.errors import describe_failure, described

MAX_CONCURRENT_REQUESTS = 16


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
    with described(endpoint):
        services = [s.service_name for s in compute_client(endpoint).list_hosted_services()
                    if (s.hosted_service_properties.location or "") == region]
    local = threading.local()

    def fetch(service: str) -> list[FoundVM]:
        if check_cancelled is not None:
            check_cancelled()
        if not hasattr(local, "client"):
            local.client = compute_client(endpoint)
        root = hosted_service(local.client, endpoint, service)
        # None: deleted between the listing and now, so it has no VMs any more.
        return parse_hosted_service(root, region) if root is not None else []

    found: list[FoundVM] = []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for done, vms in enumerate(pool.map(fetch, services), start=1):
            found.extend(vms)
            if on_progress is not None:
                on_progress(done, len(services))
    return found


def hosted_service(client: ServiceManagementService, endpoint: Endpoint, service: str) -> Element | None:
    """Get Hosted Service Properties with ``embed-detail``, as raw XML; None when the service does not exist.

    Any other failure is raised as a ``FabricError``.
    """
    try:
        return raw_xml(client, f"/{endpoint.subscription_id}/services/hostedservices/{service}?embed-detail=true")
    except Exception as error:  # noqa: BLE001 - every failure becomes a sentence for the user
        failure = describe_failure(endpoint, error)
        if failure.status == 404:
            return None
        raise failure from error


def find_vm(endpoint: Endpoint, cloud_service: str, name: str, region: str) -> FoundVM | None:
    """The VM ``name`` of ``cloud_service`` as the fabric shows it now, or None when it no longer exists."""
    root = hosted_service(compute_client(endpoint), endpoint, cloud_service)
    if root is None:
        return None
    return next((found for found in parse_hosted_service(root, region) if found.name == name), None)


@dataclass(frozen=True)
class ServiceDetail:
    """What restore needs to know of a cloud service: where it is, its deployment, roles and virtual network."""

    location: str
    deployment: str | None
    roles: frozenset[str]
    virtual_network: str


def service_detail(client: ServiceManagementService, endpoint: Endpoint, service: str) -> ServiceDetail | None:
    root = hosted_service(client, endpoint, service)
    if root is None:
        return None
    deployment = root.find("wa:Deployments/wa:Deployment", NS)
    return ServiceDetail(
        location=_text(root, "wa:HostedServiceProperties/wa:Location"),
        deployment=_text(deployment, "wa:Name") if deployment is not None else None,
        roles=frozenset(_text(role, "wa:RoleName") for role in deployment.iterfind("wa:RoleList/wa:Role", NS))
        if deployment is not None else frozenset(),
        virtual_network=_text(deployment, "wa:VirtualNetworkName"))
