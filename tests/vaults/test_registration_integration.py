"""Discovery, registration and unregistration as a user runs them: real worker, real Redis, the lab fabric."""

from __future__ import annotations

import shutil

import pytest

from jobs.models import Job
from tests.fixtures.vaults import wait_for_job
from vaults.cloud.endpoint import compute_client
from vaults.cloud.extension import extension_status, read_role, role_path
from vaults.models import RegisteredItem, Vault, VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.registration import Register, Unregister
from vaults.services.registration import registrable
from vaults.services.vaults import create_vault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab(lab_subscription, owner, celery_worker_process):
    """The Lab subscription of a running fabric, and a vault quick-created in each of two of its regions."""
    subscription = lab_subscription
    east = create_vault(owner, subscription, "east", "East US")
    west = create_vault(owner, subscription, "west", "West US")
    yield subscription, east, west
    for vault in (east, west):
        shutil.rmtree(vault.store_path, ignore_errors=True)


def discovered(user, vault: Vault) -> dict[tuple[str, str], VirtualMachine]:
    job = wait_for_job(Discovery.start(user, vault))
    assert job.status == "completed", job.error_message
    return {(vm.cloud_service, vm.name): vm for vm in VirtualMachine.objects.filter(region=vault.region)}


def register(user, vault: Vault, *vms: VirtualMachine) -> list[Job]:
    outcomes = Register.start_many(user, vault, [vm.pk for vm in vms])
    assert [o.refusal for o in outcomes] == [""] * len(vms)
    return [wait_for_job(Job.objects.get(item_key=o.item.item_key, operation="register")) for o in outcomes]


def test_discovery_records_the_vms_of_the_vaults_region_only(lab, member):
    _subscription, east, _west = lab
    vms = discovered(member, east)
    assert ("contoso-web", "web01") in vms and ("contoso-sql", "sql01") in vms
    assert all(vm.region == "East US" for vm in vms.values())
    web01 = vms[("contoso-web", "web01")]
    assert web01.power_state == "Started" and web01.agent_status == "Ready"
    assert web01.disks[0]["lun"] is None and web01.disks[0]["media_link"].startswith("http://127.0.0.1:")
    assert vms[("contoso-sql", "sql01")].data_disk_count == 17


def test_register_installs_the_extension_and_unregister_removes_it(lab, member, lab_fabric):
    subscription, east, _west = lab
    vm = discovered(member, east)[("contoso-web", "web02")]
    [job] = register(member, east, vm)
    assert job.status == "completed", job.error_message
    item = RegisteredItem.objects.get(vm=vm)
    assert item.status == "registered"
    client = compute_client(subscription.endpoint)
    assert extension_status(client, subscription.endpoint, vm.cloud_service, vm.name).handler_status == "Ready"

    Unregister.start_many(member, east, [item.pk])
    job = wait_for_job(Job.objects.get(item_key=item.item_key, operation="unregister"))
    assert job.status == "completed", job.error_message
    assert not RegisteredItem.objects.filter(pk=item.pk).exists()
    references, _os = read_role(client, role_path(subscription.subscription_id, vm.cloud_service, vm.deployment, vm.name))
    assert not any(ref.is_backup for ref in references)
    assert vm in registrable(east)


def test_documented_registration_failures(lab, member):
    _subscription, east, west = lab
    east_vms, west_vms = discovered(member, east), discovered(member, west)
    jobs = register(member, east, east_vms[("contoso-sql", "sql01")], east_vms[("contoso-premium", "db01")])
    jobs += register(member, west, west_vms[("fabrikam-app", "legacy01")], west_vms[("fabrikam-batch", "batch01")])
    codes = {job.item_name: (job.status, job.error_code) for job in jobs}
    assert codes == {
        "sql01 (contoso-sql)": ("failed", "UnsupportedDataDiskCount"),
        "db01 (contoso-premium)": ("failed", "PremiumStorageNotSupported"),
        "legacy01 (fabrikam-app)": ("failed", "VMAgentNotPresent"),
        "batch01 (fabrikam-batch)": ("failed", "VMNotInStateToInstallExtension"),
    }
    item = RegisteredItem.objects.get(vm__name="sql01")
    assert item.status == "error"
    assert item.error_message == "Virtual machine 'sql01 (contoso-sql)' has 17 data disks; backup supports at most 16."
    assert item.recommendation.startswith("Detach data disks")


def test_an_agent_that_never_answers_times_out_clearly(lab, member, fabric_faults):
    subscription, east, _west = lab
    vm = discovered(member, east)[("contoso-web", "web01")]
    fabric_faults(agent_unresponsive=["contoso-web/web01"])
    [job] = register(member, east, vm)
    assert (job.status, job.error_code) == ("failed", "ExtensionInstallTimedOut")
    assert "did not report ready on 'web01 (contoso-web)'" in job.error_message


def test_a_fabric_answering_5xx_is_retried_then_fails_clearly(lab, member, fabric_faults):
    _subscription, east, _west = lab
    vm = discovered(member, east)[("contoso-web", "web01")]
    fabric_faults(error_rate=1.0, error_status=503)
    [job] = register(member, east, vm)
    assert job.status == "failed"
    assert "503" in job.error_message or "server error" in job.error_message
    assert not RegisteredItem.objects.filter(vm=vm, status="registered").exists()


def test_another_operation_in_progress_on_the_item_is_refused(lab, member):
    _subscription, east, _west = lab
    vm = discovered(member, east)[("contoso-web", "web01")]
    first = Register.start_many(member, east, [vm.pk])
    item = first[0].item
    refusals = Unregister.start_many(member, east, [item.pk])
    assert refusals == ["'web01': Another operation is in progress on this item."]
    wait_for_job(Job.objects.get(item_key=item.item_key, operation="register"))
