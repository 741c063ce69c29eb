"""A backup whose worker is killed mid-transfer: the reconciler fails it, no point appears, the next backup succeeds.

Runs its own worker (killed with SIGKILL, as the jobs suite does) on a queue of its own, where this test sends its
jobs, so the shared session worker, started by whichever test asked for it first, never takes them.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest

from jobs import services
from jobs.models import Job, Status
from tests.conftest import wait_for
from tests.jobs.test_integration import worker
from vaults.models import ProtectedItem
from vaults.operations.backup import Backup
from vaults.services.storage import open_store

from .helpers import lab_vault, protect, write
from .helpers import wait_for as wait_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_queue(redis_url, monkeypatch) -> str:
    """Jobs this test starts go to a queue only its own workers take (``jobs.queue`` sends through ``_override``)."""
    from celery import Celery

    from jobs import queue

    name = f"killed-worker-{os.getpid()}"
    app = Celery("jobs-private", broker=redis_url, set_as_current=False)
    app.conf.task_default_queue = name
    monkeypatch.setattr(queue, "_override", app)
    return name


def test_worker_killed_mid_transfer_leaves_no_point_and_the_next_backup_succeeds(
        redis_url, lab_subscription, member, owner, fabric_faults, private_queue):
    process = worker(redis_url, "backup-kill", queues=private_queue, CELERY_QUEUE=private_queue,
                     JOBS_HEARTBEAT_SECONDS="1")
    try:
        vault = lab_vault(owner, lab_subscription)
        item = protect(member, vault, "tailspin-web", "web01", runner=wait_job)
        os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
        write(lab_subscription, os_disk["media_link"], 64 << 20, os.urandom(48 << 20))
        fabric_faults(latency_ms=250)
        job = Backup.start(member, item)
        wait_for(lambda: Job.objects.get(pk=job.pk).subtasks.filter(name="Transfer data to vault").exists(),
                 what="the transfer to start", timeout=60)
        time.sleep(1.0)
        assert Job.objects.get(pk=job.pk).status == Status.IN_PROGRESS
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    fabric_faults(latency_ms=0)
    wait_for(lambda: services.reconcile(stale_after=timedelta(seconds=3))["failed"] == 1,
             what="the reconciler to fail the job", timeout=30)
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error_code == "WorkerLost"
    assert not item.recovery_points.exists()
    assert open_store(vault).point_ids() == []
    item.refresh_from_db()
    assert item.last_backup_status == "Failed"
    assert item.status == ProtectedItem.Status.ERROR and "stopped unexpectedly" in item.error_message

    process = worker(redis_url, "backup-kill-2", queues=private_queue, CELERY_QUEUE=private_queue)
    try:
        again = wait_job(Backup.start(member, item), timeout=120)
        assert again.status == Status.COMPLETED, again.error_message
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    assert item.recovery_points.count() == 1
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.PROTECTED and item.error_message == ""
    store = open_store(vault)
    assert store.point_ids() == [item.recovery_points.get().store_point_id]
    assert store.verify().ok
