from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job
from vaults.cloud.hosted import FoundVM
from vaults.models import RegisteredItem, Vault, VirtualMachine
from vaults.operations.registration import Register
from vaults.services.registration import preflight_errors, registrable

pytestmark = pytest.mark.django_db


def make_vm(subscription, name, service="svc-a", region="East US", **fields) -> VirtualMachine:
    return VirtualMachine.objects.create(subscription=subscription, cloud_service=service, name=name, deployment=service,
                                         region=region, last_seen=timezone.now(), power_state="Started",
                                         agent_status="Ready", has_agent=True, **fields)


def found(vm: VirtualMachine, **changes) -> FoundVM:
    values = {"cloud_service": vm.cloud_service, "deployment": vm.deployment, "name": vm.name, "region": vm.region,
              "power_state": "Started", "agent_status": "Ready", "has_agent": True,
              "disks": [{"name": "os", "lun": None, "premium": False}]}
    return FoundVM(**{**values, **changes})


def notice(response) -> str:
    return json.loads(response["HX-Trigger"])["portal:notice"]["text"]


def test_preflight_names_every_documented_failure(subscription):
    vm = make_vm(subscription, "vm01")
    assert preflight_errors(vm, found(vm)) is None
    assert preflight_errors(vm, None).code == "VMNotFound"
    assert preflight_errors(vm, found(vm, has_agent=False)).code == "VMAgentNotPresent"
    disks = [{"name": "os", "lun": None}] + [{"name": f"d{i}", "lun": i} for i in range(17)]
    error = preflight_errors(vm, found(vm, disks=disks))
    assert error.code == "UnsupportedDataDiskCount"
    assert error.message == "Virtual machine 'vm01' has 17 data disks; backup supports at most 16."
    assert preflight_errors(vm, found(vm, disks=[{"name": "os", "lun": None, "premium": True}])).code == \
        "PremiumStorageNotSupported"
    stopped = preflight_errors(vm, found(vm, power_state="Stopped"))
    assert stopped.code == "VMNotInStateToInstallExtension"
    assert "Start the VM" in stopped.recommendations[0]


def test_register_makes_one_job_per_vm_and_marks_them_registering(member, vault):
    vms = [make_vm(vault.subscription, "web", service="svc-a"), make_vm(vault.subscription, "web", service="svc-b")]
    outcomes = Register.start_many(member, vault, [vm.pk for vm in vms])
    assert [o.refusal for o in outcomes] == ["", ""]
    assert RegisteredItem.objects.filter(vault=vault, status="registering").count() == 2
    jobs = Job.objects.filter(operation="register")
    assert sorted(j.item_key for j in jobs) == sorted(f"vm:{vm.pk}" for vm in vms)


def test_a_second_register_of_the_same_vm_makes_no_job(member, vault):
    vm = make_vm(vault.subscription, "web")
    Register.start_many(member, vault, [vm.pk])
    again = Register.start_many(member, vault, [vm.pk])
    assert again[0].refusal == "'web' is already registered with a vault."
    assert Job.objects.count() == 1


def test_a_vm_belongs_to_one_vault(member, vault, subscription):
    other = Vault.objects.create(subscription=subscription, name="second", region="East US", status="active")
    vm = make_vm(subscription, "web")
    Register.start_many(member, vault, [vm.pk])
    assert Register.start_many(member, other, [vm.pk])[0].refusal == "'web' is already registered with a vault."
    assert list(registrable(other)) == []


def test_only_vms_of_the_vaults_region_are_offered_and_accepted(member, vault):
    west = make_vm(vault.subscription, "west-vm", region="West US")
    east = make_vm(vault.subscription, "east-vm")
    gone = make_vm(vault.subscription, "old-vm", gone=True)
    assert list(registrable(vault)) == [east]
    refusals = {o.vm.name: o.refusal for o in Register.start_many(member, vault, [west.pk, gone.pk])}
    assert refusals["west-vm"] == "'west-vm' runs in West US; a vault protects only VMs in its own region (East US)."
    assert refusals["old-vm"] == "'old-vm' no longer exists. Run DISCOVER to refresh the list."


def test_readers_cannot_register_discover_or_unregister(client, reader, vault):
    vm = make_vm(vault.subscription, "web")
    client.force_login(reader)
    response = client.post(reverse("vaults:register", args=[vault.pk]), {"vm": vm.pk}, HTTP_HX_REQUEST="true")
    assert notice(response) == "Only Backup Operators and Administrators can register virtual machines."
    response = client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true")
    assert "Only Backup Operators" in notice(response)
    assert not Job.objects.exists()
    html = client.get(reverse("vaults:registered", args=[vault.pk])).content.decode()
    assert 'id="cmd-discover"' not in html


def test_one_discovery_at_a_time_per_vault(client, member, vault):
    client.force_login(member)
    assert client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true").status_code == 204
    second = client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true")
    assert notice(second) == "Another Discovery operation is already in progress."
    assert Job.objects.filter(operation="discovery").count() == 1


def test_register_dialog_lists_same_named_vms_with_their_cloud_service(client, member, vault):
    make_vm(vault.subscription, "web", service="svc-a")
    make_vm(vault.subscription, "web", service="svc-b")
    client.force_login(member)
    html = client.get(reverse("vaults:register_dialog", args=[vault.pk])).content.decode()
    assert "svc-a" in html and "svc-b" in html and html.count(">web<") == 2


def test_unregister_refuses_items_with_work_in_progress(client, member, vault):
    vm = make_vm(vault.subscription, "web")
    Register.start_many(member, vault, [vm.pk])
    item = RegisteredItem.objects.get()
    client.force_login(member)
    response = client.post(reverse("vaults:unregister", args=[vault.pk]), {"items": str(item.pk)}, HTTP_HX_REQUEST="true")
    assert notice(response) == "'web': Another operation is in progress on this item."


def test_outsider_gets_404_on_registered_items_urls(client, outsider, vault):
    client.force_login(outsider)
    for name in ("vaults:registered", "vaults:register_dialog"):
        assert client.get(reverse(name, args=[vault.pk])).status_code == 404
    for name in ("vaults:discover", "vaults:register", "vaults:unregister"):
        assert client.post(reverse(name, args=[vault.pk])).status_code == 404
