"""Protection as a person sets it up, through the services and jobs the buttons call, each job run in this process.

DISCOVER finds the VMs, REGISTER installs their backup extension, PROTECT configures them under a policy; the
fabric is the run's lab (``vm_lab``). The ``vault`` fixture's region, East US, holds contoso-web/web01 and web02,
tailspin-web/web01, and the small VMs vm00...vm09 of each of the cloud services scale-0000 and scale-0003.
scale-0003/vm07, vm08 and vm09 are deleted from the lab by the tests that need a VM to disappear; no other test
uses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time

import time_machine
from django.db import transaction
from django.test import override_settings

from jobs.models import Job, Operation, Status
from tests.fixtures.vaults import run_job
from vaults.models import Policy, ProtectedItem, RecoveryPoint, RegisteredItem, Vault, VirtualMachine
from vaults.operations.backup import Backup
from vaults.operations.discovery import Discovery
from vaults.operations.maintenance import StopProtection
from vaults.operations.protection import ConfigureProtection
from vaults.operations.registration import Register, Unregister
from vaults.policy import rules
from vaults.policy.defaults import DEFAULT_POLICY_NAME
from vaults.policy.retention import expiry
from vaults.services.backup import SNAPSHOT_TIMEOUT_CODE
from vaults.services.policies import create_policy

SCALE, SCALE_2 = "scale-0000", "scale-0003"  # the lab's two cloud services of ten small VMs each in East US
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def default_policy(vault: Vault) -> Policy:
    """The DefaultPolicy every vault is created with."""
    return vault.policies.get(name=DEFAULT_POLICY_NAME)


def make_policy(owner, vault: Vault, name: str = "Nightly", definition: rules.Policy | None = None) -> Policy:
    """A policy the administrator created (daily at 03:00 UTC, 30 days, unless ``definition`` says otherwise)."""
    definition = definition or rules.Policy(name, rules.Schedule.daily(time(3, 0)), (rules.DailyRetention(30),))
    return create_policy(owner, vault, definition)


@contextmanager
def run_here() -> Iterator[None]:
    """Jobs started in the block reach the broker only when it ends, after this process has run them: a worker
    of the session that gets their message finds them ended and leaves them."""
    with transaction.atomic():
        yield


def completed(job: Job) -> Job:
    """``job`` run here, as a worker would run it, to its successful end."""
    job = run_job(job)
    assert job.status == Status.COMPLETED, job.error_message
    return job


def discover(user, vault: Vault) -> None:
    """DISCOVER, its job run: the VM list holds what the fabric shows of the vault's region."""
    with run_here():
        completed(Discovery.start(user, vault))


def discovered(user, vault: Vault, name: str, service: str = SCALE) -> VirtualMachine:
    """The lab VM as DISCOVER recorded it (discovery runs once, the first time a test asks)."""
    found = VirtualMachine.objects.filter(subscription=vault.subscription, region=vault.region, cloud_service=service,
                                          name=name)
    if not found.exists():
        discover(user, vault)
    return found.get()


def registered(user, vault: Vault, name: str, service: str = SCALE) -> RegisteredItem:
    """REGISTER of one lab VM, its Register job run to the end."""
    vm = discovered(user, vault, name, service)
    with run_here():
        [outcome] = Register.start_many(user, vault, [vm.pk])
        assert outcome.refusal == "", outcome.refusal
        completed(Job.objects.get(item_key=outcome.item.item_key, operation=Operation.REGISTER,
                                  status=Status.NOT_STARTED))
    return RegisteredItem.objects.select_related("vm").get(pk=outcome.item.pk)


def unregister(user, vault: Vault, item: RegisteredItem) -> None:
    """UNREGISTER of one item, its job run: the backup extension comes off and the item is gone."""
    with run_here():
        assert Unregister.start_many(user, vault, [item.pk]) == []
        completed(Job.objects.get(item_key=item.item_key, operation=Operation.UNREGISTER, status=Status.NOT_STARTED))
    assert not RegisteredItem.objects.filter(pk=item.pk).exists()


def protect(user, vault: Vault, items: list[RegisteredItem], policy: Policy) -> list[ProtectedItem]:
    """PROTECT of registered items with ``policy``, every Configure Protection job run."""
    with run_here():
        started, refusals = ConfigureProtection.protect(user, vault, [item.pk for item in items], policy)
        assert (started, refusals) == (len(items), []), refusals
        for item in items:
            completed(Job.objects.get(item_key=item.item_key, operation=Operation.CONFIGURE_PROTECTION,
                                      status=Status.NOT_STARTED))
    return [ProtectedItem.objects.select_related("item__vm", "policy").get(item=item) for item in items]


def protected(user, vault: Vault, policy: Policy, name: str, service: str = SCALE, *,
              configured: datetime = LONG_AGO) -> ProtectedItem:
    """A lab VM registered, then protected with ``policy``, both at the moment ``configured`` (and the instant
    after it): the scheduler owes an item no slot from before it was protected."""
    with time_machine.travel(configured):
        [item] = protect(user, vault, [registered(user, vault, name, service)], policy)
    return item


def deleted_in_the_fabric(lab, user, vault: Vault, vm: VirtualMachine) -> None:
    """The VM is deleted in the fabric (for good), and DISCOVER notices: its row is marked gone."""
    lab.vanish(f"{vm.cloud_service}/{vm.name}")
    discover(user, vault)
    vm.refresh_from_db()
    assert vm.gone


def stop_protection(user, item: ProtectedItem) -> ProtectedItem:
    """STOP PROTECTION keeping the data, its job run: Protection Stopped, the points stay."""
    with run_here():
        completed(StopProtection.start(user, item, delete_data=False))
    item.refresh_from_db()
    return item


def point(item: ProtectedItem, created: datetime, store_point_id: str = "") -> RecoveryPoint:
    """A recovery point of ``item`` taken at ``created``, and the item's record of that backup.

    What a Backup job publishes, written here as a row: the pages under test only read points, and a real backup
    for each would make these tests slow without testing anything more.
    """
    row = RecoveryPoint.objects.create(protected_item=item, created=created, consistency="crash",
                                       store_point_id=store_point_id or f"{item.item.name}-{created:%Y%m%d%H%M}",
                                       expires=expiry(item.policy.rules, created, adhoc=False))
    assert item.record_backup({}, created)
    return row


def failed_backup(lab, user, item: ProtectedItem) -> Job:
    """BACKUP NOW while the VM's snapshot never completes: the job fails as documented ("Snapshot VM sub task timed
    out.") and the item shows Protection Error (a stopped one stays stopped), with Failed as its last backup."""
    lab.set_faults(snapshot_hang=[f"{item.item.cloud_service}/{item.item.name}"])
    try:
        with override_settings(BACKUP_SNAPSHOT_TIMEOUT_SECONDS=0.01), run_here():
            job = run_job(Backup.start(user, item))
    finally:
        lab.clear_faults()
    assert (job.status, job.error_code) == (Status.FAILED, SNAPSHOT_TIMEOUT_CODE), job.error_message
    item.refresh_from_db()
    return job
