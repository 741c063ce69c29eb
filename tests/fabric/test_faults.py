"""Faults switched on and off while the fabric runs."""

from __future__ import annotations

import time

import pytest
from azure.common import AzureHttpError, AzureMissingResourceHttpError

from tests.fabric.helpers import NS, backup_extension, extension_setting, wait_operation, wait_setting
from vaults.cloud.pageblob import PageBlobClient, PageBlobError

pytestmark = pytest.mark.integration


def test_latency_is_added_to_every_answer(sms, faults):
    faults(latency_ms=300)
    started = time.monotonic()
    sms.list_locations()
    assert time.monotonic() - started >= 0.3


def test_next_answers_fail_with_5xx_then_recover(sms, faults):
    faults(error_next=2, error_status=503)
    for _ in range(2):
        with pytest.raises(AzureHttpError) as failed:
            sms.list_hosted_services()
        assert failed.value.status_code == 503
    assert sms.list_hosted_services()


def test_blob_errors_are_transient_for_the_portal_client(own_fabric, faults, sms):
    url = sms.get_role("contoso-web", "contoso-web", "web01").os_virtual_hard_disk.media_link
    faults(error_next=1, error_scope="blob", error_status=500)
    sms.list_locations()  # compute answers are not affected by a blob-scoped fault
    with pytest.raises(PageBlobError) as failed:
        PageBlobClient().size(url)
    assert failed.value.transient and failed.value.status == 500
    assert PageBlobClient().size(url) > 0


def test_unresponsive_agent_never_reports_the_snapshot(sms, faults):
    faults(agent_unresponsive=["fabrikam-app/app02"])
    result = sms.update_role("fabrikam-app", "fabrikam-app", "app02", provision_guest_agent=True,
                             resource_extension_references=[backup_extension("task-app02-1", "VMSnapshotLinux")])
    assert wait_operation(sms, result.request_id).status == "Succeeded"  # the service accepted the change
    time.sleep(0.5)
    assert extension_setting(sms, "fabrikam-app", "app02") is None


def test_hanging_snapshot_stays_transitioning_until_the_fault_is_cleared(sms, faults, own_fabric):
    faults(snapshot_hang=["*"])
    result = sms.update_role("contoso-sql", "contoso-sql", "sql01", provision_guest_agent=True,
                             resource_extension_references=[backup_extension("task-sql-1")])
    wait_operation(sms, result.request_id)
    time.sleep(0.5)
    setting = extension_setting(sms, "contoso-sql", "sql01")
    assert setting.findtext("a:Status", namespaces=NS) == "transitioning"
    own_fabric.clear_faults()
    retry = sms.update_role("contoso-sql", "contoso-sql", "sql01", resource_extension_references=[backup_extension("task-sql-2")])
    wait_operation(sms, retry.request_id)
    setting = wait_setting(sms, "contoso-sql", "sql01", "task-sql-2")
    assert setting.findtext("a:Status", namespaces=NS) == "success"


def test_vanished_vm_answers_404(sms, own_fabric):
    own_fabric.vanish("northwind-dev/dev02")
    with pytest.raises(AzureMissingResourceHttpError):
        sms.get_role("northwind-dev", "northwind-dev", "dev02")
    roles = sms.get_hosted_service_properties("northwind-dev", embed_detail=True).deployments[0].role_list
    assert [role.role_name for role in roles] == ["dev01"]


def test_unknown_fault_is_refused(own_fabric):
    answer = own_fabric.session.post(f"{own_fabric.base_url}/_fabric/faults", data='{"meteor": 1}', timeout=5)
    assert answer.status_code == 400
