"""A fabric that stops answering in the middle of a backup or a restore: a sentence to act on, nothing half-written."""

from __future__ import annotations

import pytest

from jobs.models import Status
from tests.fixtures.fabric import start_lab_fabric, stop_lab_fabric
from vaults.models import ProtectedItem
from vaults.operations import restore as restore_operation
from vaults.operations.restore import Restore
from vaults.services import backup
from vaults.services.restore import RestoreRequest
from vaults.services.storage import open_store

from .helpers import back_up, lab_vault, protect, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def own_fabric(tmp_path, subscription, monkeypatch):
    """A lab fabric of this test's own (it gets killed), the subscription pointed at it, retries cut to none."""
    from vaultstore import blobs

    fabric = start_lab_fabric(tmp_path, vms=2, log_name="fabric-gone.log")
    subscription.subscription_id, subscription.host = fabric.subscription_id, fabric.host
    subscription.save()
    monkeypatch.setenv("JOBS_TRANSIENT_RETRIES", "0")
    monkeypatch.setattr(blobs, "RETRY_DELAYS", (0.0,))
    try:
        yield fabric
    finally:
        stop_lab_fabric(fabric)


def kill(fabric) -> None:
    fabric.process.kill()
    fabric.process.wait(10)


def test_a_fabric_that_stops_answering_after_the_snapshot_fails_the_backup_clearly(own_fabric, subscription, member,
                                                                                  owner, monkeypatch):
    item = protect(member, lab_vault(owner, subscription), "contoso-web", "web01")
    wait_for_snapshot = backup.wait_for_snapshot

    def then_the_fabric_goes(*args, **kwargs):
        snapshot = wait_for_snapshot(*args, **kwargs)
        kill(own_fabric)
        return snapshot

    monkeypatch.setattr(backup, "wait_for_snapshot", then_the_fabric_goes)
    job = back_up(member, item)

    assert job.status == Status.FAILED and job.error_code == "TransientFailure", job.error_message
    host = own_fabric.host
    assert job.error_message == (f"The operation failed once with a temporary error and was stopped: Could not "
                                 f"connect to the disk storage at {host}. Check that it is running and reachable.")
    assert job.recommendations == ["Check that the subscription's endpoint is reachable, then run the operation again."]
    assert [(step.name, step.status) for step in job.subtasks.all()] == [("Take Snapshot", "completed"),
                                                                         ("Transfer data to vault", "failed")]
    assert not item.recovery_points.exists()
    store = open_store(item.vault)
    assert store.point_ids() == [] and not list(store.pending_dir.glob("*.json"))
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.ERROR and item.error_message == job.error_message


def test_a_fabric_that_stops_answering_during_a_restore_fails_it_clearly_without_a_vm(own_fabric, subscription, member,
                                                                                     owner, monkeypatch):
    item = protect(member, lab_vault(owner, subscription), "contoso-web", "web01")
    assert back_up(member, item).status == Status.COMPLETED
    real_sink = restore_operation.PageBlobSink

    def then_the_fabric_goes(*args, **kwargs):  # the target was checked; the first disk is about to be written
        kill(own_fabric)
        return real_sink(*args, **kwargs)

    monkeypatch.setattr(restore_operation, "PageBlobSink", then_the_fabric_goes)
    job = run(Restore.start(member, item.recovery_points.get(), RestoreRequest("rsgone", "contoso-web", False,
                                                                               "labstoreeastus")))

    assert job.status == Status.FAILED and job.error_code == "TransientFailure", job.error_message
    assert job.error_message.endswith(f"Could not connect to the disk storage at {own_fabric.host}. Check that it is "
                                      "running and reachable.")
    assert [(step.name, step.status) for step in job.subtasks.all()] == [("Check the restore target", "completed"),
                                                                         ("Restore disks", "failed")]
    assert not job.params.get("created_role")  # no VM was asked for
