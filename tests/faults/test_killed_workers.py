"""A worker killed mid-transfer, its main process or the pool process running the backup, at default settings.

The real reconciler (beat and the control worker, as ``make run`` starts them) fails the job within 30 s; no
point appears, nothing is left behind in the store, the earlier point still restores whole, and the next
backup is whole.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from jobs.models import Job, Status
from tests.conftest import wait_for
from vaults.cloud.pageblob import blob_client
from vaults.models import ProtectedItem, Vault
from vaults.operations.backup import Backup
from vaults.services.storage import open_store

from .helpers import children, finished, leftovers, protected, quick_created_vault, whole, writing_to

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VM = ("tailspin-web", "web01")
FAIL_WITHIN = 30


def _churn(subscription, item: ProtectedItem) -> None:
    """A day's writes big enough that the next backup's transfer takes a few seconds."""
    os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
    blobs = blob_client(subscription.endpoint)
    for offset in range(64 << 20, 112 << 20, 4 << 20):  # Put Page takes at most 4 MiB
        blobs.write_pages(os_disk["media_link"], offset, os.urandom(4 << 20))


def _mid_transfer(job: Job) -> None:
    wait_for(lambda: Job.objects.get(pk=job.pk).subtasks.filter(name="Transfer data to vault").exists(),
             what="the transfer to start", timeout=60)
    time.sleep(0.5)
    assert Job.objects.get(pk=job.pk).status == Status.IN_PROGRESS


def _failed_by_the_reconciler(job: Job, killed: float) -> float:
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Status.FAILED, what="the reconciler to fail the job",
             timeout=FAIL_WITHIN + 15)
    took = time.monotonic() - killed
    job.refresh_from_db()
    assert job.error_code == "WorkerLost"
    assert job.error_message.startswith("The worker running this job stopped unexpectedly")
    return took


@pytest.mark.parametrize("kill", ["main process", "pool process"])
def test_a_worker_killed_mid_transfer(kill, fault_fabric, fault_worker, control_plane, to_fault_workers,
                                      subscription, owner, member):
    subscription.subscription_id, subscription.host = fault_fabric.subscription_id, fault_fabric.host
    subscription.save()
    worker = fault_worker(f"killed-{kill.split()[0]}")
    vault = quick_created_vault(owner, subscription, f"killed-{kill.split()[0]}", replication=Vault.Replication.LRS)
    try:
        [item] = protected(member, vault, [VM])
        assert finished(Backup.start(member, item), 120).status == Status.COMPLETED
        _churn(subscription, item)
        fault_fabric.set_faults(latency_ms=200)
        job = Backup.start(member, item)
        _mid_transfer(job)
        if kill == "main process":
            os.killpg(worker.pid, signal.SIGKILL)
        else:
            [running] = writing_to(children(worker.pid), vault.store_path)
            os.kill(running, signal.SIGKILL)
        killed = time.monotonic()
        fault_fabric.set_faults(latency_ms=0)
        took = _failed_by_the_reconciler(job, killed)
        print(f"\nkill -9 of the worker's {kill} to Failed: {took:.1f} s")
        assert took < FAIL_WITHIN

        # The reconciler fails the job, then runs its cleanup hook, then its failure hook: once the item shows the
        # failure, the cleanup is done.
        wait_for(lambda: ProtectedItem.objects.get(pk=item.pk).status == ProtectedItem.Status.ERROR,
                 what="the item to show the failure", timeout=10)
        item.refresh_from_db()
        assert "stopped unexpectedly" in item.error_message
        store = open_store(vault)
        assert item.recovery_points.count() == 1 and len(store.point_ids()) == 1  # no point of the killed job
        assert leftovers(store) == []  # its temp packs and pending record went with the job
        assert whole(store, item)  # the earlier point still restores bit-exact

        if kill == "main process":
            fault_worker("killed-again")
        again = finished(Backup.start(member, item), 120)
        assert again.status == Status.COMPLETED, again.error_message
        item.refresh_from_db()
        assert item.status == ProtectedItem.Status.PROTECTED and item.recovery_points.count() == 2
        assert whole(open_store(vault), item)
    finally:
        fault_fabric.clear_faults()
        shutil.rmtree(vault.store_path, ignore_errors=True)
