"""Protection status after a backup: Protection Error while the last backup failed, Protected once one succeeds.

The vault is quick-created and the VM registered and protected on the lab
fabric, as a person does it. The Backup job runs in this process; its snapshot
and transfer and the vault store are stood in for (the backup suite runs the
real ones), so these tests see only what the job's end does to the item.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from jobs import services
from jobs.errors import JobCancelled
from jobs.models import Job, Status
from tests.fixtures.vaults import protect_vm, quick_vault
from vaults.models import ProtectedItem, Vault, VirtualMachine
from vaults.operations import backup as backup_operation
from vaults.operations.backup import Backup
from vaults.services import backup
from vaults.services.vaults import dashboard_summary

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


class FakeStore:
    def has_point(self, point_id: str) -> bool:
        return False

    def delete_points(self, ids) -> None:
        pass

    def abandon(self, point_id: str) -> None:
        pass

    def stored_bytes(self) -> int:
        return 1 << 19


@pytest.fixture
def vault(lab_subscription, owner, vault_stores_removed):
    """A Locally Redundant vault (no Replicate job follows a backup), as its administrator set it up."""
    return quick_vault(owner, lab_subscription, "contoso-east", "East US", Vault.Replication.LRS)


@pytest.fixture
def item(vault, member, monkeypatch):
    """contoso-web/web01, protected under DefaultPolicy; its backups write to a stand-in store."""
    item = protect_vm(member, vault, "contoso-web", "web01")
    monkeypatch.setattr(backup_operation, "open_store", lambda vault: FakeStore())
    return item


@pytest.fixture
def snapshots_succeed(monkeypatch):
    """Take Snapshot and Transfer data to vault succeed without a fabric: the job publishes a point."""
    snapshot = backup.Snapshot("application", [{"disk": "os", "lun": None, "mediaLink": "http://lab/os.vhd",
                                                "snapshot": "2026-01-01T00:00:00Z"}])
    monkeypatch.setattr(backup, "request_snapshot", lambda *args, **kwargs: "snapshot-request")
    monkeypatch.setattr(backup, "wait_for_snapshot", lambda *args, **kwargs: snapshot)

    def transfer(ctx, item, store, snapshot, created):
        disk = SimpleNamespace(name="os", size=1 << 20, data_bytes=1 << 19, digest="d", source_snapshot="2026-01-01T00:00:00Z")
        return SimpleNamespace(id=f"job-{ctx.job.pk}", logical_bytes=1 << 20, stored_bytes=1 << 19,
                               read_bytes=1 << 20, disks=[disk])

    monkeypatch.setattr(backup_operation, "_transfer", transfer)


def back_up(member, item: ProtectedItem) -> Job:
    job = Backup.start(member, item)
    Backup.task.apply(args=[job.pk])
    job.refresh_from_db()
    item.refresh_from_db()
    return job


def vm_gone(item: ProtectedItem, gone: bool = True) -> None:
    VirtualMachine.objects.filter(pk=item.item.vm_id).update(gone=gone)


def test_a_failed_backup_shows_protection_error_until_a_backup_succeeds(client, member, vault, item,
                                                                        snapshots_succeed):
    vm_gone(item)
    job = back_up(member, item)
    assert job.status == Status.FAILED and job.error_code == "UserErrorVmNotFound"
    assert item.status == ProtectedItem.Status.ERROR and item.get_status_display() == "Protection Error"
    assert item.error_message == job.error_message and item.last_backup_status == "Failed"

    client.force_login(member)
    listing = client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert 'data-status="error"' in listing and '<span class="status error"' in listing
    assert "Protection Error" in listing and "no longer exists" in listing  # the message is the cell's title
    details = client.get(reverse("vaults:protected_item", args=[vault.pk, item.pk])).content.decode()
    assert '<span class="status error">Protection Error</span>' in details and escape(job.error_message) in details
    summary = dashboard_summary(vault)
    assert summary["protected_vms"] == 1 and summary["recent_errors"] == [job]  # still protected, with an error

    vm_gone(item, False)
    again = back_up(member, item)
    assert again.status == Status.COMPLETED, again.error_message
    assert item.status == ProtectedItem.Status.PROTECTED and item.error_message == ""
    assert item.last_backup_status == "Completed" and item.recovery_points.count() == 1
    details = client.get(reverse("vaults:protected_item", args=[vault.pk, item.pk])).content.decode()
    assert "Protection Error" not in details


def test_a_failed_initial_backup_leaves_pending_for_protection_error(member, item):
    assert item.status == ProtectedItem.Status.PENDING
    vm_gone(item)
    back_up(member, item)
    assert item.status == ProtectedItem.Status.ERROR


def test_a_backup_failed_by_the_reconciler_shows_protection_error(member, item):
    job = Backup.start(member, item)
    job.claim("dead-worker")
    Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(minutes=5))
    assert services.reconcile(stale_after=timedelta(seconds=60))["failed"] == 1
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.ERROR and item.last_backup_status == "Failed"
    assert "stopped unexpectedly" in item.error_message


def test_a_cancelled_backup_leaves_the_protection_status_alone(member, item, snapshots_succeed, monkeypatch):
    assert back_up(member, item).status == Status.COMPLETED
    assert item.status == ProtectedItem.Status.PROTECTED

    def cancelled(*args, **kwargs):
        raise JobCancelled()

    monkeypatch.setattr(backup, "wait_for_snapshot", cancelled)
    job = back_up(member, item)
    assert job.status == Status.CANCELLED
    assert item.status == ProtectedItem.Status.PROTECTED and item.last_backup_status == "Cancelled"


def test_a_backup_of_an_item_stopped_meanwhile_fails_and_the_item_stays_stopped(member, item):
    job = Backup.start(member, item)
    assert item.stop()  # what Stop Protection does, while the backup waits for a worker
    Backup.task.apply(args=[job.pk])
    job.refresh_from_db()
    item.refresh_from_db()
    assert job.status == Status.FAILED and job.error_code == "ProtectionStopped"
    assert item.status == ProtectedItem.Status.STOPPED and item.last_backup_status == "Failed"
