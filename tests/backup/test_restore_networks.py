"""Restore into a virtual network's subnet: the wizard lists the lab's networks, the job places the new VM in the subnet."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from azure.common import AzureHttpError
from django.urls import reverse

from vaults.cloud.endpoint import compute_client
from vaults.cloud.errors import FabricError
from vaults.operations.restore import Restore
from vaults.services.refusals import Refusal
from vaults.services.restore import RestoreRequest

from .helpers import back_up, lab_vault, protect, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def west(lab_subscription, owner):
    return lab_vault(owner, lab_subscription, "West US", "west")


def placement(subscription, service: str, vm: str) -> tuple[str, list[str], str]:
    """(the deployment's virtual network, the VM's subnets, the VM's address) as Get Deployment shows them."""
    client = compute_client(subscription.endpoint)
    [deployment] = client.get_hosted_service_properties(service, embed_detail=True).deployments
    role = next(role for role in deployment.role_list if role.role_name == vm)
    instance = next(instance for instance in deployment.role_instance_list if instance.role_name == vm)
    return (deployment.virtual_network_name, [name for config in role.configuration_sets for name in config.subnet_names],
            instance.ip_address)


def test_restore_places_the_new_vm_in_the_chosen_subnet(west, member, lab_subscription):
    item = protect(member, west, "fabrikam-app", "app02")
    assert back_up(member, item).status == "completed"
    point = item.recovery_points.get()

    # A new cloud service: Create Deployment in the network, the VM in the subnet.
    job = run(Restore.start(member, point, RestoreRequest("rsvnet1", "rs-vnet-svc", True, "labstorewestus",
                                                          "fabrikam-vnet", "batch")))
    try:
        assert job.status == "completed", job.error_message
        network, subnets, address = placement(lab_subscription, "rs-vnet-svc", "rsvnet1")
        assert (network, subnets) == ("fabrikam-vnet", ["batch"])
        assert ipaddress.ip_address(address) in ipaddress.ip_network("10.3.2.0/24")
    finally:
        # The shared lab keeps its own cloud services only (other suites count them).
        client = compute_client(lab_subscription.endpoint)
        with contextlib.suppress(AzureHttpError):
            client.delete_role("rs-vnet-svc", "rs-vnet-svc", "rsvnet1")
        with contextlib.suppress(AzureHttpError):
            client.delete_hosted_service("rs-vnet-svc")

    # An existing cloud service in that network: Add Role, the VM in another of its subnets.
    job = run(Restore.start(member, point, RestoreRequest("rsvnet2", "fabrikam-app", False, "labstorewestus",
                                                          "fabrikam-vnet", "app")))
    assert job.status == "completed", job.error_message
    assert placement(lab_subscription, "fabrikam-app", "rsvnet2")[:2] == ("fabrikam-vnet", ["app"])


def test_restore_refuses_a_network_the_cloud_service_cannot_join(west, member, lab_subscription):
    item = protect(member, west, "fabrikam-app", "app02")
    point = item.recovery_points.create(created="2026-03-09T03:00:00Z", consistency="application", store_point_id="p1",
                                        disks=[])
    with pytest.raises(Refusal, match="'fabrikam-batch' is not in a virtual network"):
        Restore.start(member, point, RestoreRequest("rsvnet3", "fabrikam-batch", False, "labstorewestus",
                                                    "fabrikam-vnet", "app"))
    with pytest.raises(Refusal, match="subnet 'frontend' does not exist in virtual network 'fabrikam-vnet'"):
        Restore.start(member, point, RestoreRequest("rsvnet3", "fabrikam-app", False, "labstorewestus",
                                                    "fabrikam-vnet", "frontend"))
    with pytest.raises(Refusal, match="virtual network 'contoso-vnet' does not exist in West US"):
        Restore.start(member, point, RestoreRequest("rsvnet3", "fabrikam-app", False, "labstorewestus",
                                                    "contoso-vnet", "frontend"))


def test_wizard_lists_the_labs_networks_and_says_so_when_the_fabric_fails(west, member, lab_subscription, client,
                                                                        fabric_faults):
    item = protect(member, west, "fabrikam-app", "app02")
    point = item.recovery_points.create(created="2026-03-09T03:00:00Z", consistency="application", store_point_id="p1",
                                        disks=[])
    client.force_login(member)
    url = reverse("vaults:restore", args=[west.pk])
    page = client.post(url, {"item": item.pk, "nav": "network", "page": "2", "point": point.pk,
                             "virtual_network": "fabrikam-vnet"}).content.decode()
    assert '<option value="fabrikam-vnet" selected>' in page and "contoso-vnet" not in page
    assert '<option value="app" >' in page and '<option value="batch" >' in page

    fabric_faults(error_next=1, error_status=500, error_scope="compute")
    answer = client.post(url, {"item": item.pk, "nav": "next", "point": point.pk})
    assert answer.status_code == 200
    assert "The virtual networks could not be listed." in answer.content.decode()
    assert "answered with a server error (500)" in answer.content.decode()
    fabric_faults(error_next=2, error_status=500, error_scope="compute")  # the disk list (which may fail), then networks
    with pytest.raises(FabricError, match="server error"):
        Restore.start(member, point, RestoreRequest("rsvnet4", "fabrikam-app", False, "labstorewestus",
                                                    "fabrikam-vnet", "app"))
