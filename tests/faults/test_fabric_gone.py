"""The lab fabric killed while a restore writes the disks, then started again.

The Restore job fails with a sentence to act on and asks for no VM; the blobs it had written are deleted by the
reconciler once the fabric answers again (its cleanup could not reach it before); the earlier point still
restores whole and the next backup is whole.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from django.conf import settings

from jobs.models import CLEANUP_PENDING, Job, Status
from tests.conftest import port_open, process_env, start_process, wait_for
from tests.fixtures.fabric import start_lab_fabric, stop_lab_fabric
from vaults.cloud.pageblob import PageBlobError, blob_client
from vaults.models import Vault
from vaults.operations.backup import Backup
from vaults.operations.restore import Restore
from vaults.services.restore import RestoreRequest
from vaults.services.storage import open_store

from .helpers import finished, leftovers, protected, quick_created_vault, whole

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_fabric(tmp_path):
    """A lab fabric of this test's own: it gets killed, then started again on its state."""
    fabric = start_lab_fabric(tmp_path, vms=12, log_name="fabric-killed.log",
                              extra_args=("--op-delay", "0", "--agent-delay", "0"))
    state = {"fabric": fabric}

    def start_again() -> None:
        env = process_env(settings.REDIS_URL)
        env["VAR_DIR"] = str(tmp_path)
        fabric.process = start_process([sys.executable, "manage.py", "fabric", "serve", "--port", str(fabric.port),
                                        "--op-delay", "0", "--agent-delay", "0"], env, "fabric-killed.log")
        wait_for(lambda: port_open(fabric.port), what="the lab fabric again", process=fabric.process)

    state["start_again"] = start_again
    try:
        yield state
    finally:
        stop_lab_fabric(fabric)


def _exists(blobs, url: str) -> bool:
    try:
        blobs.size(url)
    except PageBlobError as error:
        if error.status == 404:
            return False
        raise
    return True


def test_the_fabric_killed_mid_restore(own_fabric, fault_worker, control_plane, to_fault_workers, subscription,
                                       owner, member):
    fabric = own_fabric["fabric"]
    subscription.subscription_id, subscription.host = fabric.subscription_id, fabric.host
    subscription.save()
    fault_worker("fabric-killed", JOBS_TRANSIENT_RETRIES="1", JOBS_BACKOFF_BASE_MS="200")
    vault = quick_created_vault(owner, subscription, "fabric-killed", replication=Vault.Replication.LRS)
    try:
        [item] = protected(member, vault, [("tailspin-web", "web01")])
        assert finished(Backup.start(member, item), 120).status == Status.COMPLETED
        point = item.recovery_points.get()
        fabric.set_faults(latency_ms=300)
        job = Restore.start(member, point, RestoreRequest("gonevm", "tailspin-web", False, "labstoreeastus"))
        wait_for(lambda: len(Job.objects.get(pk=job.pk).params.get("created_blobs") or []) >= 1,
                 what="the restore to write a disk", timeout=60)
        fabric.process.kill()
        fabric.process.wait(10)

        job = finished(job, 180)
        assert job.status == Status.FAILED
        # The last attempt met the fabric gone at its first call: the disks' storage or the endpoint's API.
        assert f"Could not connect to the disk storage at {fabric.host}. Check that it is running" in job.error_message \
            or f"Could not connect to the endpoint at {fabric.host}. Check that it is running" in job.error_message
        assert not job.params.get("created_role")  # no VM was asked for
        assert job.params.get(CLEANUP_PENDING) == "disks"  # the fabric was gone: its blobs wait for it

        own_fabric["start_again"]()
        blobs = blob_client(subscription.endpoint)
        wait_for(lambda: CLEANUP_PENDING not in Job.objects.get(pk=job.pk).params,
                 what="the reconciler to finish the restore's cleanup", timeout=30)
        assert not any(_exists(blobs, url) for url in job.params["created_blobs"])  # nothing half-restored is left

        store = open_store(vault)
        assert leftovers(store) == [] and whole(store, item)
        again = finished(Backup.start(member, item), 120)
        assert again.status == Status.COMPLETED, again.error_message
        assert whole(open_store(vault), item)
    finally:
        if fabric.process is not None and fabric.process.poll() is None:
            fabric.clear_faults()
        shutil.rmtree(vault.store_path, ignore_errors=True)




def test_the_fabric_killed_mid_backup(own_fabric, fault_worker, control_plane, to_fault_workers, subscription,
                                      owner, member):
    """The snapshots the failed backup took cannot be released while the fabric is gone: the reconciler releases
    them once it answers again, and the item's base (the earlier point's snapshots) is untouched."""
    fabric = own_fabric["fabric"]
    subscription.subscription_id, subscription.host = fabric.subscription_id, fabric.host
    subscription.save()
    fault_worker("fabric-killed-backup", JOBS_TRANSIENT_RETRIES="0")
    vault = quick_created_vault(owner, subscription, "fabric-killed-backup", replication=Vault.Replication.LRS)
    try:
        [item] = protected(member, vault, [("tailspin-web", "web01")])
        assert finished(Backup.start(member, item), 120).status == Status.COMPLETED
        item.refresh_from_db()
        base = dict(item.base_snapshots)
        os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
        blobs = blob_client(subscription.endpoint)
        for offset in range(64 << 20, 96 << 20, 4 << 20):
            blobs.write_pages(os_disk["media_link"], offset, os.urandom(4 << 20))
        fabric.set_faults(latency_ms=300)
        job = Backup.start(member, item)
        wait_for(lambda: Job.objects.get(pk=job.pk).subtasks.filter(name="Transfer data to vault").exists(),
                 what="the transfer to start", timeout=60)
        fabric.process.kill()
        fabric.process.wait(10)

        job = finished(job, 180)
        assert job.status == Status.FAILED and fabric.host in job.error_message
        taken = job.params["new_snapshots"]
        assert job.params.get(CLEANUP_PENDING) == f"{len(taken)} snapshot(s)"

        own_fabric["start_again"]()
        wait_for(lambda: CLEANUP_PENDING not in Job.objects.get(pk=job.pk).params,
                 what="the reconciler to release the backup's snapshots", timeout=30)
        assert not any(blobs.snapshot_exists(entry["media_link"], entry["snapshot"]) for entry in taken.values())
        assert all(blobs.snapshot_exists(entry["media_link"], entry["snapshot"]) for entry in base.values())
        store = open_store(vault)
        assert item.recovery_points.count() == 1 and leftovers(store) == [] and whole(store, item)
        fabric.clear_faults()
        again = finished(Backup.start(member, item), 120)
        assert again.status == Status.COMPLETED, again.error_message
        assert again.properties["Backup kind"] == "Incremental" and whole(open_store(vault), item)
    finally:
        if fabric.process is not None and fabric.process.poll() is None:
            fabric.clear_faults()
        shutil.rmtree(vault.store_path, ignore_errors=True)
