"""The Service Management subset, driven through azure-servicemanagement-legacy as the portal drives it."""

from __future__ import annotations

import pytest
import requests
from azure.common import AzureHttpError, AzureMissingResourceHttpError
from azure.servicemanagement import DataVirtualHardDisk, OSVirtualHardDisk

from tests.fabric.helpers import (
    NS,
    backup_extension,
    raw,
    role_instance,
    snapshot_result,
    wait_operation,
    wait_setting,
)

pytestmark = pytest.mark.integration


def test_lists_hosted_services_and_locations(sms):
    names = {service.service_name for service in sms.list_hosted_services()}
    assert {"contoso-web", "contoso-sql", "contoso-premium", "fabrikam-app", "northwind-eu"} <= names
    assert [location.name for location in sms.list_locations()] == ["East US", "West US", "North Europe"]


def test_embed_detail_shows_deployments_roles_and_instances(sms):
    service = sms.get_hosted_service_properties("contoso-web", embed_detail=True)
    assert service.hosted_service_properties.location == "East US"
    deployment = service.deployments[0]
    assert {instance.role_name: (instance.instance_status, instance.power_state)
            for instance in deployment.role_instance_list} == {"web01": ("ReadyRole", "Started"),
                                                               "web02": ("ReadyRole", "Started")}
    web01 = next(role for role in deployment.role_list if role.role_name == "web01")
    assert web01.os_virtual_hard_disk.media_link.endswith(".vhd")
    assert len(web01.data_virtual_hard_disks) == 1


def test_lab_shapes_the_cases_backup_must_handle(sms):
    sql = sms.get_role("contoso-sql", "contoso-sql", "sql01")
    assert len(sql.data_virtual_hard_disks) == 17
    premium = sms.get_role("contoso-premium", "contoso-premium", "db01")
    assert "/labpremiumeastus/" in premium.os_virtual_hard_disk.media_link
    premium_xml = raw(sms, "/services/hostedservices/contoso-premium/deployments/contoso-premium/roles/db01")
    assert premium_xml.findtext("a:OSVirtualHardDisk/a:IOType", namespaces=NS) == "Provisioned"
    standard_xml = raw(sms, "/services/hostedservices/contoso-web/deployments/contoso-web/roles/web01")
    assert standard_xml.findtext("a:DataVirtualHardDisks/a:DataVirtualHardDisk/a:IOType", namespaces=NS) == "Standard"
    assert sms.get_role("northwind-eu", "northwind-eu", "web01").role_name == "web01"  # same name as contoso-web/web01
    stopped = role_instance(sms, "fabrikam-batch", "batch01")
    assert (stopped.findtext("a:InstanceStatus", namespaces=NS), stopped.findtext("a:PowerState", namespaces=NS)) == (
        "StoppedVM", "Stopped")
    legacy = raw(sms, "/services/hostedservices/fabrikam-app/deployments/fabrikam-app/roles/legacy01")
    assert legacy.findtext("a:ProvisionGuestAgent", namespaces=NS) == "false"
    assert role_instance(sms, "fabrikam-app", "legacy01").find("a:GuestAgentStatus", NS) is None
    agent = role_instance(sms, "fabrikam-app", "app01").find("a:GuestAgentStatus", NS)
    assert agent.findtext("a:Status", namespaces=NS) == "Ready"


def test_disks_list_tells_where_each_disk_is_attached(sms):
    disks = {disk.name: disk for disk in sms.list_disks()}
    os_disk = sms.get_role("contoso-web", "contoso-web", "web02").os_virtual_hard_disk
    assert disks[os_disk.disk_name].attached_to.role_name == "web02"
    assert disks[os_disk.disk_name].media_link == os_disk.media_link
    assert {disk.location for disk in disks.values()} == {"East US", "West US", "North Europe"}


def test_update_role_installs_extension_and_snapshots_all_disks_app_consistent(sms):
    result = sms.update_role("contoso-web", "contoso-web", "web02", provision_guest_agent=True,
                             resource_extension_references=[backup_extension("task-web02-1", "VMSnapshotLinux")])
    assert wait_operation(sms, result.request_id).status == "Succeeded"
    role = raw(sms, "/services/hostedservices/contoso-web/deployments/contoso-web/roles/web02")
    reference = role.find("a:ResourceExtensionReferences/a:ResourceExtensionReference", NS)
    assert reference.findtext("a:Name", namespaces=NS) == "VMSnapshotLinux"
    setting = wait_setting(sms, "contoso-web", "web02", "task-web02-1")
    assert setting.findtext("a:Status", namespaces=NS) == "success"
    snapshot = snapshot_result(setting)
    assert snapshot["consistency"] == "AppConsistent"
    assert len(snapshot["snapshots"]) == 2
    assert len({item["snapshot"] for item in snapshot["snapshots"]}) == 1  # taken together
    for item in snapshot["snapshots"]:
        answer = requests.head(item["mediaLink"], params={"snapshot": item["snapshot"]}, timeout=5)
        assert answer.status_code == 200


def test_stopped_vm_is_snapshotted_crash_consistent_by_the_service(sms):
    result = sms.update_role("fabrikam-batch", "fabrikam-batch", "batch01",
                             resource_extension_references=[backup_extension("task-batch-1", "VMSnapshotLinux")])
    wait_operation(sms, result.request_id)
    setting = wait_setting(sms, "fabrikam-batch", "batch01", "task-batch-1")
    assert snapshot_result(setting)["consistency"] == "CrashConsistent"


def test_vm_without_agent_refuses_the_extension(sms):
    with pytest.raises(AzureHttpError) as refused:
        sms.update_role("fabrikam-app", "fabrikam-app", "legacy01", resource_extension_references=[backup_extension()])
    assert refused.value.status_code == 400
    assert "<Code>BadRequest</Code>" in str(refused.value)
    assert "VM agent" in str(refused.value)


def test_second_change_during_an_operation_is_a_conflict(sms):
    first = sms.update_role("northwind-dev", "northwind-dev", "dev01", provision_guest_agent=True)
    with pytest.raises(AzureHttpError) as conflict:
        sms.update_role("northwind-dev", "northwind-dev", "dev01", provision_guest_agent=True)
    assert conflict.value.status_code == 409
    assert "ConflictError" in str(conflict.value)
    wait_operation(sms, first.request_id)


def test_missing_service_deployment_and_role_are_404(sms):
    with pytest.raises(AzureMissingResourceHttpError):
        sms.get_hosted_service_properties("no-such-service")
    with pytest.raises(AzureMissingResourceHttpError):
        sms.get_role("contoso-web", "no-such-deployment", "web01")
    with pytest.raises(AzureMissingResourceHttpError) as missing:
        sms.get_role("contoso-web", "contoso-web", "no-such-vm")
    assert "<Code>ResourceNotFound</Code>" in str(missing.value)


def test_requests_without_version_header_are_refused(own_fabric):
    answer = requests.get(f"{own_fabric.base_url}/{own_fabric.subscription_id}/services/hostedservices", timeout=5)
    assert answer.status_code == 400
    assert "MissingOrIncorrectVersionHeader" in answer.text
    assert answer.headers["x-ms-request-id"]


def test_malformed_body_is_a_bad_request(own_fabric):
    answer = requests.put(f"{own_fabric.base_url}/{own_fabric.subscription_id}/services/hostedservices/contoso-web/"
                          "deployments/contoso-web/roles/web01", data=b"<PersistentVMRole", timeout=5,
                          headers={"x-ms-version": "2014-10-01"})
    assert answer.status_code == 400
    assert "<Code>BadRequest</Code>" in answer.text


def test_shutdown_and_start_change_power_state(sms):
    wait_operation(sms, sms.shutdown_role("northwind-eu", "northwind-eu", "files01").request_id)
    assert role_instance(sms, "northwind-eu", "files01").findtext("a:PowerState", namespaces=NS) == "Stopped"
    wait_operation(sms, sms.start_role("northwind-eu", "northwind-eu", "files01").request_id)
    assert role_instance(sms, "northwind-eu", "files01").findtext("a:PowerState", namespaces=NS) == "Started"


def test_restore_path_creates_a_vm_from_disks(sms, own_fabric):
    from vaults.cloud.pageblob import PageBlobClient

    disks = PageBlobClient()
    base = f"{own_fabric.base_url}/labstorewestus/vhds"
    disks.create(f"{base}/restored-os.vhd", 1 << 30)
    disks.write_pages(f"{base}/restored-os.vhd", 0, b"\x55" * 4096)
    disks.create(f"{base}/restored-data.vhd", 1 << 30)
    sms.create_hosted_service("restored-svc", "restored-svc", location="West US")
    os_disk = OSVirtualHardDisk(media_link=f"{base}/restored-os.vhd", os="Linux")
    data = DataVirtualHardDisk(media_link=f"{base}/restored-data.vhd", lun=0)
    result = sms.create_virtual_machine_deployment("restored-svc", "restored-svc", "production", "restored", "app01r",
                                                   None, os_disk, data_virtual_hard_disks=[data], provision_guest_agent=True,
                                                   role_size="Small")
    assert wait_operation(sms, result.request_id).status == "Succeeded"
    role = sms.get_role("restored-svc", "restored-svc", "app01r")
    assert role.os_virtual_hard_disk.media_link == f"{base}/restored-os.vhd"
    assert disks.read(role.os_virtual_hard_disk.media_link, 0, 4096) == b"\x55" * 4096

    disks.create(f"{base}/second-os.vhd", 1 << 30)
    added = sms.add_role("restored-svc", "restored-svc", "app02r", None,
                         OSVirtualHardDisk(media_link=f"{base}/second-os.vhd", os="Linux"), role_size="Small")
    assert wait_operation(sms, added.request_id).status == "Succeeded"
    assert {role.role_name for role in sms.get_deployment_by_name("restored-svc", "restored-svc").role_list} == {
        "app01r", "app02r"}
    with pytest.raises(AzureHttpError) as in_use:
        sms.add_role("restored-svc", "restored-svc", "app03r", None,
                     OSVirtualHardDisk(media_link=f"{base}/second-os.vhd", os="Linux"))
    assert in_use.value.status_code == 409


def test_unknown_subscription_is_forbidden(own_fabric):
    sms = own_fabric.sms()
    sms.subscription_id = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(AzureHttpError) as refused:
        sms.list_hosted_services()
    assert refused.value.status_code == 403
    assert "ForbiddenError" in str(refused.value)


def test_shutdown_deallocated_reports_stopped_deallocated(sms):
    wait_operation(sms, sms.shutdown_role("northwind-eu", "northwind-eu", "web01", "StoppedDeallocated").request_id)
    instance = role_instance(sms, "northwind-eu", "web01")
    assert instance.findtext("a:InstanceStatus", namespaces=NS) == "StoppedDeallocated"
    wait_operation(sms, sms.start_role("northwind-eu", "northwind-eu", "web01").request_id)
    assert role_instance(sms, "northwind-eu", "web01").findtext("a:InstanceStatus", namespaces=NS) == "ReadyRole"


def test_delete_hosted_service_refuses_one_with_a_deployment_and_removes_an_empty_one(sms):
    sms.create_hosted_service("empty-svc", "empty-svc", location="West US")
    sms.delete_hosted_service("empty-svc")
    assert "empty-svc" not in {service.service_name for service in sms.list_hosted_services()}
    with pytest.raises(AzureHttpError) as busy:
        sms.delete_hosted_service("contoso-web")
    assert busy.value.status_code == 409 and "has a deployment" in str(busy.value)
    with pytest.raises(AzureMissingResourceHttpError):
        sms.delete_hosted_service("no-such-svc")
