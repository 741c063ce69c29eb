"""Disk full, stop protection, delete backup data, retention, GC and replication, run as jobs in this process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from jobs.models import Job, Operation, Status
from tests.fixtures.store import damage_chunk
from vaults.models import ProtectedItem, Vault
from vaults.operations.backup import Backup
from vaults.operations.maintenance import DeleteBackupData, GarbageCollection, Retention, StopProtection, Verify
from vaults.operations.restore import Restore
from vaults.services.restore import RestoreRequest
from vaults.services.soft_delete import set_soft_delete
from vaults.services.storage import open_store, secondary_store
from vaultstore import MemorySource, StoreFullError
from vaultstore.session import BackupSession

from .helpers import back_up, lab_vault, protect, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_a_full_vault_store_fails_clearly_and_loses_nothing(lab_subscription, member, owner, monkeypatch):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    item = protect(member, vault, "northwind-dev", "dev01")
    assert back_up(member, item).status == "completed"
    first = item.recovery_points.get()

    def full(self, **kwargs):
        self.abort()
        raise StoreFullError("no space left on the vault's device")

    monkeypatch.setattr(BackupSession, "publish", full)
    job = back_up(member, item)
    assert job.status == "failed" and job.error_code == "VaultStoreFull"
    assert "storage is full" in job.error_message and "intact" in " ".join(job.recommendations)
    assert list(item.recovery_points.all()) == [first]
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.ERROR and "storage is full" in item.error_message
    # The item still diffs against the first point's snapshots, which were kept.
    assert {v["snapshot"] for v in item.base_snapshots.values()} == {d["snapshot"] for d in first.disks}
    assert open_store(vault).point_ids() == [first.store_point_id]
    monkeypatch.undo()
    assert back_up(member, item).status == "completed"
    assert item.recovery_points.count() == 2
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.PROTECTED and item.error_message == ""


def replicate(vault: Vault) -> None:
    """Run the Replicate jobs the vault's backups started (one, or more when one was done before the next backup)."""
    jobs = Job.objects.filter(vault=vault, operation=Operation.REPLICATE, status=Status.NOT_STARTED)
    assert jobs.exists(), "a backup of a Geo-Redundant vault starts a Replicate job"
    for job in jobs:
        job = run(job)
        assert job.status == Status.COMPLETED, job.error_message


def test_stop_keeping_data_then_delete_data_then_retention_and_gc(lab_subscription, member, owner):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu", replication=Vault.Replication.GRS)
    assert vault.replication == Vault.Replication.GRS and vault.is_geo_redundant
    item = protect(member, vault, "northwind-dev", "dev02")
    assert back_up(member, item).status == "completed"
    assert back_up(member, item).status == "completed"
    # GRS: each backup started a Replicate job; run them. The copy lives in the paired region.
    replicate(vault)
    secondary = secondary_store(vault)
    assert secondary is not None and sorted(secondary.point_ids()) == sorted(
        item.recovery_points.values_list("store_point_id", flat=True))
    assert secondary.path == Path(settings.VAULT_STORE_DIR) / "secondary" / "West Europe" / vault.store_key
    assert (secondary.path / "store.json").exists()

    # A chunk the primary copy can no longer read comes from the secondary copy.
    newest = item.recovery_points.order_by("-created").first()
    store = open_store(vault)
    chunk = next(c for d in store.load_point(newest.store_point_id).disks for c in d.chunks if c)
    damage_chunk(store, chunk)
    job = run(Restore.start(member, newest, RestoreRequest("rsgrs", "northwind-dev", False, "labstorenortheu")))
    assert job.status == "completed", job.error_message
    assert job.properties["Chunks read from the secondary copy"] >= 1

    # Retention removes the expired point only.
    old = item.recovery_points.order_by("created").first()
    old.expires = timezone.now() - timedelta(minutes=1)
    old.save()
    assert run(Retention.start(vault)).status == "completed"
    assert item.recovery_points.count() == 1
    assert old.store_point_id not in open_store(vault).point_ids()
    job = run(GarbageCollection.start(vault))
    assert job.status == "completed"

    job = run(StopProtection.start(member, item, delete_data=False, reason="Other"))
    assert job.status == "completed"
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.STOPPED and item.recovery_points.count() == 1
    # A backup the scheduler had already queued when protection stopped does not run.
    job = run(Backup.enqueue(vault, item.pk, item.item.vm_id, item.item.vm.name))
    assert job.status == "failed" and job.error_code == "ProtectionStopped"
    assert item.recovery_points.count() == 1

    # With soft delete off (the administrator's choice), Delete Backup Data removes the data at once.
    set_soft_delete(owner, vault, enabled=False, days=14, always_on=False)
    vault.refresh_from_db()
    before = vault.storage_used
    job = run(DeleteBackupData.start(owner, item))
    assert job.status == "completed", job.error_message
    assert not ProtectedItem.objects.filter(pk=item.pk).exists()
    assert open_store(vault).point_ids() == []
    # The chunks wait for the next garbage collection; the storage-used figure follows the store each time.
    assert run(GarbageCollection.start(vault, grace=0)).status == "completed"
    vault.refresh_from_db()
    assert vault.storage_used == open_store(vault).stored_bytes() < before


def test_garbage_collection_waits_for_a_running_backup_and_never_removes_its_chunks(lab_subscription, member, owner):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    store = open_store(vault)
    with store.session("job-in-flight") as session:  # a backup holding the store's lease, mid-transfer
        session.back_up_disk("os", MemorySource(bytes(range(256)) * 4096))
        job = run(GarbageCollection.start(vault, member, grace=0, lock_timeout=0.5))
        assert job.status == "failed" and job.error_code == "StoreBusy"
        assert "garbage collection waits" in job.error_message
        session.publish(consistency="crash")
    job = run(GarbageCollection.start(vault, member, grace=0))
    assert job.status == "completed"
    store = open_store(vault)
    assert store.point_ids() == ["job-in-flight"] and store.verify().ok


def test_verify_of_a_grs_vault_repairs_damaged_chunks_from_the_paired_region(lab_subscription, member, owner):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu", replication=Vault.Replication.GRS)
    item = protect(member, vault, "northwind-dev", "dev01")
    assert back_up(member, item).status == "completed"
    replicate(vault)
    assert secondary_store(vault).point_ids() == [item.recovery_points.get().store_point_id]
    point = item.recovery_points.get()
    store = open_store(vault)
    chunks = [c for d in store.load_point(point.store_point_id).disks for c in d.chunks if c]
    damage_chunk(store, chunks[0])

    job = run(Verify.start_for(member, vault))
    assert job.status == "completed_with_warnings", job.error_message
    assert [step.name for step in job.subtasks.all()] == ["Verify recovery points", "Repair from the paired region"]
    assert job.properties["Chunks repaired"] == 1
    [warning] = job.properties["Warnings"]
    assert warning.startswith("1 damaged chunk was copied back from the paired region (West Europe)")
    assert "dev01 (northwind-dev) @ " in warning
    assert open_store(vault).verify().ok  # the primary copy is whole again

    # A chunk damaged in both copies cannot be repaired: verify fails and names the point.
    damage_chunk(open_store(vault), chunks[1])
    damage_chunk(secondary_store(vault), chunks[1])
    job = run(Verify.start_for(member, vault))
    assert job.status == "failed" and job.error_code == "VaultDataCorrupted"
    assert job.properties["Chunks repaired"] == 0
    assert "Still affected: dev01 (northwind-dev) @ " in job.error_message
    assert [name.split(" @ ")[0] for name in job.properties["Affected recovery points"]] == ["dev01 (northwind-dev)"]
