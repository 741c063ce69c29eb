"""Creating and removing the VMs a restore makes: Create Deployment or Add Role, and Delete Role."""

from __future__ import annotations

import time
from xml.sax.saxutils import escape

from azure.servicemanagement import ServiceManagementService

from vaults.cloud.endpoint import WA_NAMESPACES, Endpoint, request_id
from vaults.cloud.errors import describe_failure
from vaults.cloud.hosted import ServiceDetail
from vaults.cloud.polling import Sleep, poll

# A restored disk: its recorded fields ({"name", "lun", "size", ...}) and the URL of the blob it was written to.
RestoredDisk = tuple[dict, str]


def _disk_xml(tag: str, disk: dict, url: str, os_type: str) -> str:
    if tag == "OSVirtualHardDisk":
        return (f"<OSVirtualHardDisk><HostCaching>ReadWrite</HostCaching><DiskLabel>{escape(disk['name'])}</DiskLabel>"
                f"<MediaLink>{escape(url)}</MediaLink><OS>{escape(os_type)}</OS></OSVirtualHardDisk>")
    return (f"<DataVirtualHardDisk><HostCaching>None</HostCaching><DiskLabel>{escape(disk['name'])}</DiskLabel>"
            f"<Lun>{int(disk.get('lun') or 0)}</Lun><LogicalDiskSizeInGB>{max(1, disk['size'] >> 30)}"
            f"</LogicalDiskSizeInGB><MediaLink>{escape(url)}</MediaLink></DataVirtualHardDisk>")


def role_xml(name: str, disks: list[RestoredDisk], os_type: str, subnet: str = "") -> str:
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


def create_vm(client: ServiceManagementService, endpoint: Endpoint, service: str, detail: ServiceDetail, *,
              name: str, disks: list[RestoredDisk], os_type: str = "Windows", virtual_network: str = "",
              subnet: str = "") -> tuple[str, str]:
    """Ask for a VM on the restored disks: Create Deployment when the service has none, else Add Role.

    Returns (deployment, request id to poll).
    """
    sub = endpoint.subscription_id
    body = role_xml(name, disks, os_type, subnet)
    if detail.deployment is None:
        network = f"<VirtualNetworkName>{escape(virtual_network)}</VirtualNetworkName>" if virtual_network else ""
        xml = (f"<Deployment {WA_NAMESPACES}><Name>{escape(service)}</Name><DeploymentSlot>Production</DeploymentSlot>"
               f"<Label>{escape(service)}</Label><RoleList><Role>{body}</Role></RoleList>{network}</Deployment>")
        response = client.perform_post(f"/{sub}/services/hostedservices/{service}/deployments", xml)
        return service, request_id(response)
    xml = f"<PersistentVMRole {WA_NAMESPACES}>{body}</PersistentVMRole>"
    response = client.perform_post(f"/{sub}/services/hostedservices/{service}/deployments/{detail.deployment}/roles", xml)
    return detail.deployment, request_id(response)


def delete_role(client: ServiceManagementService, endpoint: Endpoint, service: str, deployment: str, role: str, *,
                timeout: float = 60.0, sleep: Sleep = time.sleep) -> str:
    """DELETE a role, waiting while another operation holds its deployment (answered 409 Conflict meanwhile).

    Returns the request id of the deletion; the last refusal is raised once ``timeout`` has passed.
    """
    path = f"/{endpoint.subscription_id}/services/hostedservices/{service}/deployments/{deployment}/roles/{role}"
    answered: list[str] = []
    refused: list[Exception] = []

    def deleted() -> bool:
        try:
            answered.append(request_id(client.perform_delete(path)))
        except Exception as error:
            if describe_failure(endpoint, error).status != 409:
                raise
            refused[:] = [error]
            return False
        return True

    if not poll(deleted, timeout=timeout, sleep=sleep):
        raise refused[0]
    return answered[0]
