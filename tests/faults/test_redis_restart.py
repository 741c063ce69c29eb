"""Redis restarted while a backup transfers, on a worker using that Redis: the database is the record.

The running backup ends Completed; the earlier point still restores whole; nothing is left behind; the next
backup, asked for once Redis is back, is whole.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from jobs.models import Job, Status
from tests.conftest import wait_for
from vaults.cloud.pageblob import blob_client
from vaults.models import Vault
from vaults.operations.backup import Backup
from vaults.services.storage import open_store

from .helpers import finished, leftovers, protected, quick_created_vault, whole

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_redis_restart_mid_backup_loses_nothing(private_redis, fault_fabric, fault_worker,
                                                  subscription, owner, member, settings):
    url, restart = private_redis
    subscription.subscription_id, subscription.host = fault_fabric.subscription_id, fault_fabric.host
    subscription.save()
    fault_worker("redis-restart", broker=url, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    vault = quick_created_vault(owner, subscription, "redis-restart", replication=Vault.Replication.LRS)
    try:
        [item] = protected(member, vault, [("scale-0000", "vm05")])
        assert finished(Backup.start(member, item), 120).status == Status.COMPLETED
        os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
        blobs = blob_client(subscription.endpoint)
        for offset in range(0, 32 << 20, 4 << 20):
            blobs.write_pages(os_disk["media_link"], offset, os.urandom(4 << 20))
        fault_fabric.set_faults(latency_ms=150)
        job = Backup.start(member, item)
        wait_for(lambda: Job.objects.get(pk=job.pk).subtasks.filter(name="Transfer data to vault").exists(),
                 what="the transfer to start", timeout=60)
        restart(down=2.0)  # Redis goes away for two seconds and comes back empty (it keeps nothing on disk)
        fault_fabric.set_faults(latency_ms=0)
        job = finished(job, 120)
        assert job.status == Status.COMPLETED, job.error_message
        store = open_store(vault)
        assert item.recovery_points.count() == 2 and leftovers(store) == [] and whole(store, item)

        began = time.monotonic()
        again = finished(Backup.start(member, item), 120)
        assert again.status == Status.COMPLETED, again.error_message
        assert time.monotonic() - began < 60
        assert item.recovery_points.count() == 3 and whole(open_store(vault), item)
    finally:
        fault_fabric.clear_faults()
        shutil.rmtree(vault.store_path, ignore_errors=True)
