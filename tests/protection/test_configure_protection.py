"""The Configure Protection job, run in this process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.models import Job, Operation, Status
from tests.fixtures.vaults import run_job
from vaults.models import ProtectedItem, RegisteredItem
from vaults.operations.protection import ConfigureProtection
from vaults.policy import rules
from vaults.services.refusals import Refusal
from vaults.services.vaults import create_vault

from .helpers import (
    SCALE_2,
    default_policy,
    deleted_in_the_fabric,
    make_policy,
    point,
    protected,
    registered,
    stop_protection,
)

pytestmark = pytest.mark.django_db


def configure_job(item: RegisteredItem) -> Job:
    return Job.objects.get(operation=Operation.CONFIGURE_PROTECTION, item_key=item.item_key, status="not_started")


def test_protecting_leaves_the_vm_pending_its_initial_backup(vault, member):
    policy = default_policy(vault)
    vm = registered(member, vault, "vm01")
    assert ConfigureProtection.protect(member, vault, [vm.pk], policy) == (1, [])
    item = ProtectedItem.objects.get(item=vm)
    job = run_job(configure_job(vm))
    assert job.status == Status.COMPLETED, job.error_message
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.PENDING and item.policy == policy
    assert item.get_status_display() == "Protected - (initial backup pending)"


def test_a_vm_no_longer_registered_fails_clearly_and_is_left_unprotected(vault, member, vm_lab):
    policy = default_policy(vault)
    vm = registered(member, vault, "vm09", SCALE_2)
    ConfigureProtection.protect(member, vault, [vm.pk], policy)
    item = ProtectedItem.objects.get(item=vm)
    deleted_in_the_fabric(vm_lab, member, vault, vm.vm)  # while the job waits in the queue
    job = run_job(configure_job(vm))
    assert (job.status, job.error_code) == (Status.FAILED, "ItemNotRegistered")
    assert not ProtectedItem.objects.filter(pk=item.pk).exists()


def test_reprotecting_with_another_policy_keeps_points_and_redates_them(vault, member, owner):
    old = make_policy(owner, vault)
    item = protected(member, vault, old, "vm01")
    kept = point(item, datetime(2026, 3, 2, 3, tzinfo=UTC))
    stop_protection(member, item)
    other = default_policy(vault)  # daily retention 30 days
    assert ConfigureProtection.protect(member, vault, [item.item.pk], other) == (1, [])
    job = run_job(configure_job(item.item))
    assert job.status == Status.COMPLETED, job.error_message
    item.refresh_from_db()
    kept.refresh_from_db()
    assert item.policy == other and item.status == ProtectedItem.Status.PROTECTED
    assert kept.expires == datetime(2026, 4, 1, 3, tzinfo=UTC)


def test_protecting_twice_is_refused_while_the_first_job_runs(vault, member):
    policy = default_policy(vault)
    vm = registered(member, vault, "vm01")
    ConfigureProtection.protect(member, vault, [vm.pk], policy)
    started, refusals = ConfigureProtection.protect(member, vault, [vm.pk], policy)
    assert started == 0 and refusals


def test_a_failed_reconfigure_after_a_policy_edit_keeps_the_vm_protected(vault, member, owner, vm_lab):
    policy = make_policy(owner, vault)
    item = protected(member, vault, policy, "vm08", SCALE_2)
    edited = rules.Policy("Nightly", rules.Schedule.daily(rules.time(4, 0)), (rules.DailyRetention(9),))
    saved = ConfigureProtection.update_policy(owner, policy, edited)
    assert (saved.jobs, saved.refusals) == (1, [])
    job = configure_job(item.item)
    assert job.params["reconfigure"] is True
    deleted_in_the_fabric(vm_lab, member, vault, item.item.vm)  # while the job waits in the queue
    assert run_job(job).status == Status.FAILED
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.ERROR and "no longer registered" in item.error_message


def test_a_policy_of_another_vault_is_refused(vault, member, owner, settings, tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    other = create_vault(owner, vault.subscription, "contoso-east-2", "East US")
    vm = registered(member, vault, "vm01")
    with pytest.raises(Refusal) as refusal:
        ConfigureProtection.protect(member, vault, [vm.pk], default_policy(other))
    assert (refusal.value.code, refusal.value.field, str(refusal.value)) == (
        "InvalidRequest", "existing", "Choose a policy of this vault.")
    assert not ProtectedItem.objects.exists()
    assert not Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION).exists()
