from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job
from tests.protection.helpers import SCALE_2, deleted_in_the_fabric, discover, discovered
from vaults.cloud.hosted import FoundVM
from vaults.models import RegisteredItem, VirtualMachine
from vaults.operations.registration import Register
from vaults.services.refusals import NotAllowed, Refusal
from vaults.services.registration import preflight_errors, registrable
from vaults.services.vaults import create_vault

pytestmark = pytest.mark.django_db


def make_vm(name, service="svc-a", region="East US") -> VirtualMachine:
    """A VM as discovery would record it (not saved: the checks under test only read it)."""
    return VirtualMachine(cloud_service=service, name=name, deployment=service, region=region,
                          last_seen=timezone.now(), power_state="Started", agent_status="Ready", has_agent=True)


def found(vm: VirtualMachine, **changes) -> FoundVM:
    values = {"cloud_service": vm.cloud_service, "deployment": vm.deployment, "name": vm.name, "region": vm.region,
              "power_state": "Started", "agent_status": "Ready", "has_agent": True,
              "disks": [{"name": "os", "lun": None, "premium": False}]}
    return FoundVM(**{**values, **changes})


def notice(response) -> str:
    return json.loads(response["HX-Trigger"])["portal:notice"]["text"]


def test_preflight_names_every_documented_failure():
    vm = make_vm("vm01")
    assert preflight_errors(vm, found(vm)) is None
    assert preflight_errors(vm, None).code == "VMNotFound"
    assert preflight_errors(vm, found(vm, has_agent=False)).code == "VMAgentNotPresent"
    disks = [{"name": "os", "lun": None}] + [{"name": f"d{i}", "lun": i} for i in range(17)]
    error = preflight_errors(vm, found(vm, disks=disks))
    assert error.code == "UnsupportedDataDiskCount"
    assert error.message == "Virtual machine 'vm01 (svc-a)' has 17 data disks; backup supports at most 16."
    assert preflight_errors(vm, found(vm, disks=[{"name": "os", "lun": None, "premium": True}])).code == \
        "PremiumStorageNotSupported"
    stopped = preflight_errors(vm, found(vm, power_state="Stopped"))
    assert stopped.code == "VMNotInStateToInstallExtension"
    assert "Start the VM" in stopped.recommendations[0]


def test_register_makes_one_job_per_vm_and_marks_them_registering(member, vault):
    vms = [discovered(member, vault, "web01", service) for service in ("contoso-web", "tailspin-web")]
    outcomes = Register.start_many(member, vault, [vm.pk for vm in vms])
    assert [o.refusal for o in outcomes] == ["", ""]
    assert RegisteredItem.objects.filter(vault=vault, status="registering").count() == 2
    jobs = Job.objects.filter(operation="register")
    assert sorted(j.item_key for j in jobs) == sorted(f"vm:{vm.pk}" for vm in vms)


def test_a_second_register_of_the_same_vm_makes_no_job(member, vault):
    vm = discovered(member, vault, "web01", "contoso-web")
    Register.start_many(member, vault, [vm.pk])
    again = Register.start_many(member, vault, [vm.pk])
    # Still registering: the second click is told so, not that the VM "is already registered".
    assert again[0].refusal == "'web01 (contoso-web)' is being registered with vault 'contoso-east'. Follow it on the Jobs tab."
    assert Job.objects.filter(operation="register").count() == 1


def test_a_vm_belongs_to_one_vault(member, owner, vault, subscription):
    other = create_vault(owner, subscription, "second", "East US")
    vm = discovered(member, vault, "web01", "contoso-web")
    Register.start_many(member, vault, [vm.pk])
    assert Register.start_many(member, other, [vm.pk])[0].refusal == (
        "'web01 (contoso-web)' is being registered with vault 'contoso-east'. Follow it on the Jobs tab.")
    east = VirtualMachine.objects.filter(subscription=subscription, region="East US", gone=False)
    assert set(registrable(other)) == set(east.exclude(pk=vm.pk))


def test_only_vms_of_the_vaults_region_are_offered_and_accepted(member, owner, vault, vm_lab):
    discover(member, create_vault(owner, vault.subscription, "contoso-west", "West US"))
    west = VirtualMachine.objects.get(subscription=vault.subscription, cloud_service="fabrikam-app", name="app01")
    east = discovered(member, vault, "web02", "contoso-web")
    gone = discovered(member, vault, "vm07", SCALE_2)
    deleted_in_the_fabric(vm_lab, member, vault, gone)
    offered = set(registrable(vault))
    assert east in offered and west not in offered and gone not in offered
    assert offered == set(VirtualMachine.objects.filter(subscription=vault.subscription, region="East US",
                                                        gone=False))
    refusals = {o.vm.name: o.refusal for o in Register.start_many(member, vault, [west.pk, gone.pk])}
    assert refusals["app01"] == "'app01 (fabrikam-app)' runs in West US; a vault protects only VMs in its own region (East US)."
    assert refusals["vm07"] == "'vm07 (scale-0003)' no longer exists. Run DISCOVER to refresh the list."


def test_a_reader_is_refused_with_the_code_and_sentence_every_caller_shows(reader, member, vault):
    vm = discovered(member, vault, "web01", "contoso-web")
    with pytest.raises(Refusal) as refusal:
        Register.start_many(reader, vault, [vm.pk])
    assert isinstance(refusal.value, NotAllowed)
    assert (refusal.value.code, str(refusal.value)) == (
        "NotAllowed", "Only Backup Operators and Administrators can register virtual machines.")
    assert not RegisteredItem.objects.exists()


def test_readers_cannot_register_discover_or_unregister(client, reader, member, vault):
    vm = discovered(member, vault, "web01", "contoso-web")
    jobs_before = set(Job.objects.values_list("pk", flat=True))
    client.force_login(reader)
    response = client.post(reverse("vaults:register", args=[vault.pk]), {"vm": vm.pk}, HTTP_HX_REQUEST="true")
    assert notice(response) == "Only Backup Operators and Administrators can register virtual machines."
    response = client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true")
    assert notice(response) == "Only Backup Operators and Administrators can discover VMs."
    assert set(Job.objects.values_list("pk", flat=True)) == jobs_before
    assert not RegisteredItem.objects.exists()
    html = client.get(reverse("vaults:registered", args=[vault.pk])).content.decode()
    assert 'id="cmd-discover"' not in html


def test_one_discovery_at_a_time_per_vault(client, member, vault):
    client.force_login(member)
    assert client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true").status_code == 204
    second = client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true")
    assert notice(second) == "Another Discovery operation is already in progress."
    assert Job.objects.filter(operation="discovery").count() == 1


def test_register_dialog_lists_same_named_vms_with_their_cloud_service(client, member, vault):
    discover(member, vault)
    client.force_login(member)
    html = client.get(reverse("vaults:register_dialog", args=[vault.pk])).content.decode()
    assert "contoso-web" in html and "tailspin-web" in html and html.count(">web01<") == 2


def test_unregister_refuses_items_with_work_in_progress(client, member, vault):
    vm = discovered(member, vault, "web01", "contoso-web")
    Register.start_many(member, vault, [vm.pk])
    item = RegisteredItem.objects.get()
    client.force_login(member)
    response = client.post(reverse("vaults:unregister", args=[vault.pk]), {"items": str(item.pk)}, HTTP_HX_REQUEST="true")
    assert notice(response) == "'web01': Another operation is in progress on this item."


def test_outsider_gets_404_on_registered_items_urls(client, outsider, vault):
    client.force_login(outsider)
    for name in ("vaults:registered", "vaults:register_dialog"):
        assert client.get(reverse(name, args=[vault.pk])).status_code == 404
    for name in ("vaults:discover", "vaults:register", "vaults:unregister"):
        assert client.post(reverse(name, args=[vault.pk])).status_code == 404
