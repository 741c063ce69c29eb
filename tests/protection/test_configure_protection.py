"""The Configure Protection job, run in this process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from vaults.protection import create_default_policy, protect_items
from vaults.protection_tasks import configure_protection

from jobs.models import Job, Operation, Status
from vaults.models import ProtectedItem, RecoveryPoint, RegisteredItem

from .helpers import make_policy, protected, registered

pytestmark = pytest.mark.django_db


def run(job: Job) -> Job:
    configure_protection.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def configure_job(item: ProtectedItem) -> Job:
    return Job.objects.get(operation=Operation.CONFIGURE_PROTECTION, item_key=item.item.item_key, status="not_started")


def test_protecting_leaves_the_vm_pending_its_initial_backup(vault, member):
    policy = create_default_policy(vault)
    vm = registered(vault, "vm01")
    assert protect_items(member, vault, [vm.pk], policy) == (1, [])
    item = ProtectedItem.objects.get(item=vm)
    job = run(configure_job(item))
    assert job.status == Status.COMPLETED, job.error_message
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.PENDING and item.policy == policy
    assert item.get_status_display() == "Protected - (initial backup pending)"


def test_a_vm_no_longer_registered_fails_clearly_and_is_left_unprotected(vault, member):
    policy = create_default_policy(vault)
    vm = registered(vault, "vm01")
    protect_items(member, vault, [vm.pk], policy)
    item = ProtectedItem.objects.get(item=vm)
    RegisteredItem.objects.filter(pk=vm.pk).update(status=RegisteredItem.Status.UNREGISTERING)
    job = run(configure_job(item))
    assert (job.status, job.error_code) == (Status.FAILED, "ItemNotRegistered")
    assert not ProtectedItem.objects.filter(pk=item.pk).exists()


def test_reprotecting_with_another_policy_keeps_points_and_redates_them(vault, member):
    old = make_policy(vault)
    item = protected(vault, old, "vm01")
    point = RecoveryPoint.objects.create(protected_item=item, created=datetime(2026, 3, 2, 3, tzinfo=UTC),
                                         consistency="crash", store_point_id="p1")
    ProtectedItem.objects.filter(pk=item.pk).update(status=ProtectedItem.Status.STOPPED)
    other = create_default_policy(vault)  # daily retention 30 days
    assert protect_items(member, vault, [item.item.pk], other) == (1, [])
    job = run(configure_job(item))
    assert job.status == Status.COMPLETED, job.error_message
    item.refresh_from_db()
    point.refresh_from_db()
    assert item.policy == other and item.status == ProtectedItem.Status.PROTECTED
    assert point.expires == datetime(2026, 4, 1, 3, tzinfo=UTC)


def test_protecting_twice_is_refused_while_the_first_job_runs(vault, member):
    policy = create_default_policy(vault)
    vm = registered(vault, "vm01")
    protect_items(member, vault, [vm.pk], policy)
    started, refusals = protect_items(member, vault, [vm.pk], policy)
    assert started == 0 and refusals


def test_a_failed_reconfigure_after_a_policy_edit_keeps_the_vm_protected(vault, owner):
    from vaults.protection import update_policy

    from vaults.policy import rules

    policy = make_policy(vault)
    item = protected(vault, policy, "vm01")
    update_policy(owner, policy, rules.Policy("Nightly", rules.Schedule.daily(rules.time(4, 0)), (rules.DailyRetention(9),)))
    job = configure_job(item)
    assert job.params["reconfigure"] is True
    RegisteredItem.objects.filter(pk=item.item.pk).update(status=RegisteredItem.Status.UNREGISTERING)
    assert run(job).status == Status.FAILED
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.ERROR and "no longer registered" in item.error_message
