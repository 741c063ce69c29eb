"""Soft delete, as the jobs run it in this process against the lab fabric: each way of deleting backup data keeps
the points and their files, the item shows Soft deleted with the days left, its points restore, UNDELETE brings it
back; retention and garbage collection leave it alone until the purge removes it for good."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from jobs.live import sentence
from jobs.models import Job, LogAction, Operation, OperationLogEntry, Status
from vaults.models import ProtectedItem, RecoveryPoint, Vault
from vaults.operations.backup import Backup
from vaults.operations.maintenance import DeleteBackupData, GarbageCollection, Retention, StopProtection
from vaults.operations.registration import Unregister
from vaults.operations.restore import Restore
from vaults.operations.undelete import Undelete
from vaults.services.refusals import NotNow
from vaults.services.restore import RestoreRequest
from vaults.services.soft_delete import set_soft_delete
from vaults.services.storage import open_store
from vaults.services.vaults import delete_vault

from .helpers import back_up, lab_vault, protect, run, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def store_points(vault: Vault) -> list[str]:
    """The point files the vault's store holds."""
    return sorted(open_store(vault).point_ids())


def point_ids(item: ProtectedItem) -> list[str]:
    return sorted(item.recovery_points.values_list("store_point_id", flat=True))


def completed(job):
    assert job.status == Status.COMPLETED, job.error_message
    return job


def soft_deleted(item: ProtectedItem, *, points: list[str], days: int = 14) -> ProtectedItem:
    """The item as Delete Backup Data left it: Soft deleted, every point row and file kept, purged after ``days``."""
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.SOFT_DELETED
    assert point_ids(item) == points and set(points) <= set(store_points(item.vault))
    assert timedelta(days=days, minutes=-5) < item.purge_after - timezone.now() <= timedelta(days=days)
    assert item.soft_delete_days_left() == days
    return item


def test_stop_protection_with_delete_data_keeps_the_points_which_restore_and_undelete_brings_back(
        client, lab_subscription, member, owner):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    item = protect(member, vault, "northwind-dev", "dev01")
    completed(back_up(member, item))
    completed(back_up(member, item))
    points = point_ids(item)
    assert len(points) == 2

    job = completed(run(StopProtection.start(owner, item, delete_data=True, reason="Decommissioned")))
    assert job.operation == Operation.DELETE_BACKUP_DATA
    assert [step.name for step in job.subtasks.all()] == ["Stop protection", "Soft delete backup data"]
    assert job.properties["Recovery points kept"] == 2
    item = soft_deleted(item, points=points)
    assert item.base_snapshots == {}  # released: no backup diffs against them any more
    [entry] = OperationLogEntry.objects.filter(operation=LogAction.SOFT_DELETE)
    assert (entry.user, entry.job, entry.item_name) == (owner, job, "dev01 (northwind-dev)")
    assert entry.details["recovery_points"] == 2 and entry.details["purge_after"] == item.purge_after.isoformat()
    assert job.properties["Purged after"] == f"{item.purge_after:%Y-%m-%d %H:%M} UTC"
    # The notification says what happened: kept, not gone.
    assert sentence(job) == (f"Backup data of 'dev01 (northwind-dev)' soft deleted: it is kept until "
                             f"{job.properties['Purged after']}, and UNDELETE brings it back until then.")

    # Protected Items: Soft deleted, with the days left and the date of the purge.
    client.force_login(member)
    page = client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert f'data-id="{item.pk}" data-status="soft_deleted"' in page and 'data-deleted="1"' in page
    assert "Soft deleted" in page and f"14 days left · purged after {item.purge_after:%Y-%m-%d %H:%M}" in page
    detail = client.get(reverse("vaults:protected_item", args=[vault.pk, item.pk])).content.decode()
    assert "14 days left, purged after" in detail

    # A soft-deleted item takes no backup, and cannot be deleted again.
    with pytest.raises(NotNow, match="is not protected"):
        Backup.start(member, item)
    with pytest.raises(NotNow, match="already deleted"):
        DeleteBackupData.start(owner, item)

    # Its points restore, as a real Restore job proves (the disks' digests equal the backup's).
    newest = item.recovery_points.order_by("-created").first()
    restored = completed(run(Restore.start(member, newest, RestoreRequest("rssoftdel", "northwind-dev", False,
                                                                          "labstorenortheu"))))
    assert restored.properties

    # UNDELETE: Protection Stopped, with every point.
    job = completed(run(Undelete.start(member, item)))
    assert [step.name for step in job.subtasks.all()] == ["Undelete backup data"]
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.STOPPED and point_ids(item) == points
    assert item.purge_after is None and item.deleted_at is None
    [entry] = OperationLogEntry.objects.filter(operation=Operation.UNDELETE)
    assert (entry.user, entry.job, entry.item_name) == (member, job, "dev01 (northwind-dev)")
    page = client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert f'data-id="{item.pk}" data-status="stopped"' in page
    with pytest.raises(NotNow, match="not soft deleted"):
        Undelete.start(member, item)


def test_delete_on_a_stopped_item_is_left_to_the_purge_by_retention_and_garbage_collection(lab_subscription, member,
                                                                                           owner):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    set_soft_delete(owner, vault, enabled=True, days=60, always_on=False)
    item = protect(member, vault, "northwind-dev", "dev02")
    completed(back_up(member, item))
    points = point_ids(item)
    completed(run(StopProtection.start(member, item, delete_data=False)))
    item.refresh_from_db()
    job = completed(run(DeleteBackupData.start(owner, item)))
    item = soft_deleted(item, points=points, days=60)
    assert OperationLogEntry.objects.get(operation=LogAction.SOFT_DELETE).job == job
    vault.refresh_from_db()
    used = vault.storage_used
    assert used > 0

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        # Every point's 30-day retention has ended: retention would take them, were the item not soft deleted.
        assert item.recovery_points.filter(expires__lte=timezone.now()).count() == 1
        job = completed(run(Retention.start(vault)))
        assert job.properties["Recovery points deleted"] == 0 and job.properties["Soft-deleted items purged"] == 0
        completed(run(GarbageCollection.start(vault, grace=0)))
        assert point_ids(item) == points and store_points(vault) == points
        assert open_store(vault).verify().ok  # every chunk the kept points name is still there
        vault.refresh_from_db()
        assert vault.storage_used == used

    with time_machine.travel(timezone.now() + timedelta(days=61)):
        job = completed(run(Retention.start(vault)))
        assert job.properties["Soft-deleted items purged"] == 1 and job.properties["Recovery points purged"] == 1
        assert not ProtectedItem.objects.filter(pk=item.pk).exists()
        assert not RecoveryPoint.objects.filter(store_point_id__in=points).exists()
        assert store_points(vault) == []
        [entry] = OperationLogEntry.objects.filter(operation=LogAction.PURGE)
        assert (entry.user, entry.job, entry.item_name, entry.details["recovery_points"]) \
            == (None, job, "dev02 (northwind-dev)", 1)
        completed(run(GarbageCollection.start(vault, grace=0)))
        vault.refresh_from_db()
        assert vault.storage_used < used


def test_deleting_a_vaults_items_keeps_their_data_and_the_vault_until_the_purge(lab_subscription, member, owner):
    """The road to deleting a vault (delete every item's data, unregister, DELETE) stops at the soft-deleted data,
    and says until when."""
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    items = [protect(member, vault, "northwind-dev", "dev01"), protect(member, vault, "northwind-eu", "files01")]
    for item in items:
        completed(back_up(member, item))
    kept = {item.pk: point_ids(item) for item in items}
    for item in items:
        completed(run(StopProtection.start(owner, item, delete_data=True)))
    items = [soft_deleted(item, points=kept[item.pk]) for item in items]
    until = max(item.purge_after for item in items)

    refusals = Unregister.start_many(member, vault, [item.item_id for item in items])
    assert len(refusals) == 2 and all("soft-deleted backup data, kept until" in r for r in refusals)
    with pytest.raises(NotNow) as refused:
        delete_vault(owner, vault, "moving to another region")
    assert f"It can be deleted after {until:%Y-%m-%d %H:%M} UTC" in str(refused.value)
    assert "turn soft delete off on CONFIGURE, UNDELETE the items" in str(refused.value)
    vault.refresh_from_db()
    assert vault.status == Vault.Status.ACTIVE and store_points(vault) == sorted(p for ps in kept.values() for p in ps)


def test_undelete_on_the_command_bar_is_for_operators(client, lab_subscription, member, owner, reader):
    vault = lab_vault(owner, lab_subscription, "North Europe", "eu")
    item = protect(member, vault, "northwind-dev", "dev01")
    completed(run(StopProtection.start(owner, item, delete_data=True)))
    url, page = reverse("vaults:undelete", args=[vault.pk]), reverse("vaults:protected", args=[vault.pk])
    client.force_login(reader)
    assert 'id="cmd-undelete"' not in client.get(page).content.decode()
    answer = client.post(url, {"items": str(item.pk)})
    assert "Only Backup Operators and Administrators can undelete backup data." in answer["HX-Trigger"]
    client.force_login(owner)
    assert "It is kept 14 days (soft delete): UNDELETE brings it back until then." in client.get(page).content.decode()
    client.force_login(member)
    assert 'id="cmd-undelete" data-requires="one" data-requires-flag="deleted"' in client.get(page).content.decode()
    answer = client.post(url, {"items": str(item.pk)})
    assert answer.status_code == 204 and "Undelete started for 'dev01 (northwind-dev)'." in answer["HX-Trigger"]
    job = Job.objects.get(operation=Operation.UNDELETE)
    assert (job.requested_by, job.params) == (member, {"protected_item": item.pk})
    assert "Another operation is in progress" in client.post(url, {"items": str(item.pk)})["HX-Trigger"]


@pytest.mark.django_db(transaction=True)
def test_undelete_command_waits_for_its_job(lab_subscription, member, owner, celery_worker_process, capsys):
    vault = lab_vault(owner, lab_subscription, "North Europe", "cli")
    item = protect(member, vault, "northwind-eu", "files01", runner=wait_for)
    completed(back_up(member, item, runner=wait_for))
    with pytest.raises(CommandError, match="not soft deleted"):
        call_command("undelete", "cli", "northwind-eu/files01", "--wait")
    completed(wait_for(StopProtection.start(owner, item, delete_data=True)))
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.SOFT_DELETED

    call_command("undelete", "cli", "northwind-eu/files01", "--wait", "--timeout", "60")
    out = capsys.readouterr().out
    assert "(Undelete) started" in out and "Recovery points: 1" in out and "Completed" in out
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.STOPPED and item.recovery_points.count() == 1
    assert OperationLogEntry.objects.get(operation=Operation.UNDELETE).user is None  # the machine's operator
    with pytest.raises(CommandError, match="No protected item"):
        call_command("undelete", "cli", "nothere")
