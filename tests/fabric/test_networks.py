"""Virtual networks of the lab: List Virtual Network Sites, and VMs created into a network's subnet or refused."""

from __future__ import annotations

import ipaddress

import pytest
from azure.common import AzureHttpError
from azure.servicemanagement import ConfigurationSet, OSVirtualHardDisk

from tests.fabric.helpers import NS, raw, role_instance, wait_operation

pytestmark = pytest.mark.integration


def in_subnet(subnet: str) -> ConfigurationSet:
    config = ConfigurationSet()
    config.subnet_names.append(subnet)
    return config


def new_os_disk(fabric, account: str, name: str) -> OSVirtualHardDisk:
    from vaults.cloud.pageblob import PageBlobClient

    url = f"{fabric.base_url}/{account}/vhds/{name}.vhd"
    PageBlobClient().create(url, 1 << 30)
    return OSVirtualHardDisk(media_link=url, os="Linux")


def subnet_names(sms, service: str, vm: str) -> list[str]:
    role = sms.get_role(service, service, vm)
    return [name for config in role.configuration_sets for name in config.subnet_names]


def test_lists_virtual_network_sites_with_regions_address_spaces_and_subnets(sms):
    sites = {site.name: site for site in sms.list_virtual_network_sites()}
    assert {"contoso-vnet", "tailspin-vnet", "fabrikam-vnet", "northwind-vnet"} <= set(sites)
    assert {(subnet.name, subnet.address_prefix) for subnet in sites["contoso-vnet"].subnets} == {
        ("frontend", "10.1.1.0/24"), ("backend", "10.1.2.0/24"), ("management", "10.1.3.0/24")}
    assert sites["contoso-vnet"].id
    listed = raw(sms, "/services/networking/virtualnetwork")
    site = next(s for s in listed.iterfind("a:VirtualNetworkSite", NS) if s.findtext("a:Name", namespaces=NS) == "fabrikam-vnet")
    assert site.findtext("a:Location", namespaces=NS) == "West US"
    assert site.findtext("a:State", namespaces=NS) == "Created"
    assert site.findtext("a:AddressSpace/a:AddressPrefixes/a:AddressPrefix", namespaces=NS) == "10.3.0.0/16"


def test_seeded_vms_show_their_network_subnet_and_an_address_in_it(sms):
    assert sms.get_deployment_by_name("contoso-web", "contoso-web").virtual_network_name == "contoso-vnet"
    assert subnet_names(sms, "contoso-web", "web01") == ["frontend"]
    address = role_instance(sms, "contoso-web", "web01").findtext("a:IpAddress", namespaces=NS)
    assert ipaddress.ip_address(address) in ipaddress.ip_network("10.1.1.0/24")
    # A cloud service outside any network says nothing of one.
    tailspin = raw(sms, "/services/hostedservices/tailspin-web/deploymentslots/Production")
    assert tailspin.find("a:VirtualNetworkName", NS) is None
    assert subnet_names(sms, "tailspin-web", "web01") == []


def test_create_deployment_and_add_role_place_vms_in_the_chosen_subnets(sms, own_fabric):
    sms.create_hosted_service("vnet-svc", "vnet-svc", location="West US")
    created = sms.create_virtual_machine_deployment(
        "vnet-svc", "vnet-svc", "production", "vnet-svc", "batch01r", None,
        new_os_disk(own_fabric, "labstorewestus", "vnet-batch01r"), network_config=in_subnet("batch"),
        virtual_network_name="fabrikam-vnet", provision_guest_agent=True, role_size="Small")
    assert wait_operation(sms, created.request_id).status == "Succeeded"
    assert sms.get_deployment_by_name("vnet-svc", "vnet-svc").virtual_network_name == "fabrikam-vnet"
    assert subnet_names(sms, "vnet-svc", "batch01r") == ["batch"]
    first = role_instance(sms, "vnet-svc", "batch01r").findtext("a:IpAddress", namespaces=NS)
    assert first == "10.3.2.4"  # the first four addresses of a subnet are Azure's

    added = sms.add_role("vnet-svc", "vnet-svc", "app01r", None, new_os_disk(own_fabric, "labstorewestus", "vnet-app01r"),
                         network_config=in_subnet("app"), role_size="Small")
    assert wait_operation(sms, added.request_id).status == "Succeeded"
    assert subnet_names(sms, "vnet-svc", "app01r") == ["app"]
    address = role_instance(sms, "vnet-svc", "app01r").findtext("a:IpAddress", namespaces=NS)
    assert ipaddress.ip_address(address) in ipaddress.ip_network("10.3.1.0/24")


@pytest.mark.parametrize(("network", "subnet", "message"), [
    ("fabrikam-vnet", "nope", "The subnet nope does not exist in virtual network fabrikam-vnet."),
    ("no-such-vnet", "app", "The virtual network no-such-vnet does not exist."),
    ("contoso-vnet", "frontend", "The virtual network contoso-vnet is in East US, not in the location of hosted service"),
    ("", "app", "but the deployment is not in a virtual network"),
])
def test_create_deployment_refuses_a_subnet_or_network_that_does_not_fit(sms, own_fabric, network, subnet, message):
    service = f"refused-{subnet}-{network or 'none'}"[:40]
    sms.create_hosted_service(service, service, location="West US")
    with pytest.raises(AzureHttpError) as refused:
        sms.create_virtual_machine_deployment(service, service, "production", service, "vm01", None,
                                              new_os_disk(own_fabric, "labstorewestus", f"{service}-os"),
                                              network_config=in_subnet(subnet), virtual_network_name=network or None)
    assert refused.value.status_code == 400
    assert "<Code>BadRequest</Code>" in str(refused.value) and message in str(refused.value)
    assert not sms.get_hosted_service_properties(service, embed_detail=True).deployments  # nothing was built
    sms.delete_hosted_service(service)


def test_add_role_refuses_a_subnet_outside_the_deployments_network(sms, own_fabric):
    disk = new_os_disk(own_fabric, "labstoreeastus", "vnet-refused-os")
    with pytest.raises(AzureHttpError) as refused:
        sms.add_role("contoso-web", "contoso-web", "web09", None, disk, network_config=in_subnet("Subnet-1"))
    assert refused.value.status_code == 400
    assert "The subnet Subnet-1 does not exist in virtual network contoso-vnet." in str(refused.value)
    with pytest.raises(AzureHttpError) as outside:
        sms.add_role("tailspin-web", "tailspin-web", "web09", None, disk, network_config=in_subnet("Subnet-1"))
    assert outside.value.status_code == 400 and "not in a virtual network" in str(outside.value)
    names = {role.role_name for role in sms.get_deployment_by_name("contoso-web", "contoso-web").role_list}
    assert "web09" not in names
