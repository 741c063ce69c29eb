"""An immutable vault deletes no recovery point before its retention ends, by any road: Delete Backup Data (started
before or after the lock), a policy edit that would shorten kept points, a re-protection under a shorter policy, and
the purge of an item soft deleted before the vault became immutable. Jobs run in this process on the lab fabric."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
import time_machine

from jobs.models import Job, LogAction, Operation, OperationLogEntry, Status
from vaults.models import ProtectedItem, Vault
from vaults.operations.maintenance import DeleteBackupData, Retention, StopProtection
from vaults.operations.protection import ConfigureProtection
from vaults.policy import rules
from vaults.policy.defaults import DEFAULT_POLICY_NAME
from vaults.services.policies import create_policy
from vaults.services.refusals import NotNow
from vaults.services.soft_delete import deletion_refusal, set_immutability
from vaults.services.storage import open_store

from .helpers import back_up, lab_vault, protect, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def completed(job):
    assert job.status == Status.COMPLETED, job.error_message
    return job


def locked(owner, vault: Vault) -> Vault:
    set_immutability(owner, vault, Vault.Immutability.LOCKED, confirm_lock=True)
    vault.refresh_from_db()
    assert vault.is_immutability_locked
    return vault


def test_a_locked_vault_deletes_no_point_before_its_retention_ends(lab_subscription, member, owner):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    item = protect(member, vault, "northwind-dev", "dev01")
    completed(back_up(member, item))
    point = item.recovery_points.get()
    completed(run(StopProtection.start(member, item, delete_data=False)))
    item.refresh_from_db()
    started_before = DeleteBackupData.start(owner, item)  # allowed: the vault is not immutable yet
    vault = locked(owner, vault)
    item.refresh_from_db()

    # The job started before the lock runs after it: it fails and deletes nothing.
    job = run(started_before)
    assert (job.status, job.error_code) == (Status.FAILED, "ImmutableVault")
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.STOPPED and list(item.recovery_points.all()) == [point]

    # DELETE and STOP PROTECTION with delete data are refused, with the date the last point's retention ends.
    sentence = (f"Vault 'eu' is immutable: the recovery points of 'dev01 (northwind-dev)' cannot be deleted before "
                f"their retention ends, the last on {point.expires:%Y-%m-%d %H:%M} UTC.")
    with pytest.raises(NotNow, match=re.escape(sentence)):
        DeleteBackupData.start(owner, item)
    with pytest.raises(NotNow, match="is immutable"):
        StopProtection.start(owner, item, delete_data=True)

    # A policy edit that would keep the point for less time is refused; nothing changes.
    policy = vault.policies.get(name=DEFAULT_POLICY_NAME)
    shorter = dataclasses.replace(policy.rules, retention=(rules.DailyRetention(7),))
    with pytest.raises(NotNow, match=r"would end 1 recovery point\(s\) sooner than they are kept now"):
        ConfigureProtection.update_policy(owner, policy, shorter)
    policy.refresh_from_db()
    point.refresh_from_db()
    assert policy.rules.retention == (rules.DailyRetention(30),) and point.expires == point.created + timedelta(days=30)
    # A longer one is fine.
    ConfigureProtection.update_policy(owner, policy, dataclasses.replace(policy.rules, retention=(rules.DailyRetention(60),)))
    point.refresh_from_db()
    assert point.expires == point.created + timedelta(days=60)

    # Protected again under a shorter policy, the point keeps its expiry.
    short = create_policy(owner, vault, rules.Policy("Short", policy.rules.schedule, (rules.DailyRetention(7),)))
    started, refusals = ConfigureProtection.protect(member, vault, [item.item_id], short)
    assert (started, refusals) == (1, [])
    completed(run(Job.objects.get(operation=Operation.CONFIGURE_PROTECTION, status=Status.NOT_STARTED)))
    point.refresh_from_db()
    assert point.expires == point.created + timedelta(days=60)

    # Once its retention has ended, the point may go.
    with time_machine.travel(point.expires + timedelta(minutes=1)):
        assert deletion_refusal(item) == ""


def test_the_purge_waits_for_retention_in_an_immutable_vault(lab_subscription, member, owner):
    """An item soft deleted before the vault became immutable keeps its points until their retention ends."""
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    item = protect(member, vault, "northwind-dev", "dev02")
    completed(back_up(member, item))
    point = item.recovery_points.get()
    completed(run(StopProtection.start(owner, item, delete_data=True)))
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.SOFT_DELETED and item.purge_after < point.expires
    vault = locked(owner, vault)

    with time_machine.travel(item.purge_after + timedelta(days=1)):  # the soft-delete period is over
        job = completed(run(Retention.start(vault)))
        assert job.properties["Soft-deleted items purged"] == 0
        assert job.properties["Purges postponed by immutability"] == 1
        item.refresh_from_db()
        assert item.status == ProtectedItem.Status.SOFT_DELETED and item.purge_after == point.expires
        assert list(item.recovery_points.all()) == [point] and point.store_point_id in open_store(vault).point_ids()
        entry = OperationLogEntry.objects.get(operation=LogAction.PURGE)
        assert entry.details["postponed_until"] == point.expires.isoformat()

    with time_machine.travel(point.expires + timedelta(minutes=1)):
        job = completed(run(Retention.start(vault)))
        assert job.properties["Soft-deleted items purged"] == 1
        assert not ProtectedItem.objects.filter(pk=item.pk).exists()
        assert open_store(vault).point_ids() == []
