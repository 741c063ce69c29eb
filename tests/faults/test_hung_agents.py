"""Four VMs whose agents hang do not hold up the backup of a healthy one (a worker of two slots, as `make run`).

Each hung backup waits for its snapshot parked, not in a worker slot: the healthy VM's backup starts at once and
completes, and the hung ones fail at their snapshot timeout with the documented code and recommendations.
"""

from __future__ import annotations

import shutil

import pytest

from jobs.models import Job, Status
from tests.conftest import wait_for
from vaults.models import ProtectedItem, Vault
from vaults.operations.backup import Backup
from vaults.services.backup import SNAPSHOT_TIMEOUT_CODE, SNAPSHOT_TIMEOUT_MESSAGE, SNAPSHOT_TIMEOUT_RECOMMENDATIONS

from .helpers import finished, protected, quick_created_vault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HUNG = [("scale-0000", f"vm0{index}") for index in range(4)]
HEALTHY = ("scale-0000", "vm09")
SNAPSHOT_TIMEOUT = 12


def test_four_hung_agents_do_not_hold_up_a_healthy_backup(fault_fabric, fault_worker, to_fault_workers, subscription,
                                                          owner, member):
    subscription.subscription_id, subscription.host = fault_fabric.subscription_id, fault_fabric.host
    subscription.save()
    fault_worker("hung-agents", BACKUP_SNAPSHOT_TIMEOUT_SECONDS=str(SNAPSHOT_TIMEOUT))
    vault = quick_created_vault(owner, subscription, "hung-east", replication=Vault.Replication.LRS)
    try:
        items = protected(member, vault, [*HUNG, HEALTHY])
        fault_fabric.set_faults(agent_unresponsive=[f"{service}/{name}" for service, name in HUNG])
        hung = [Backup.start(member, item) for item in items[:4]]
        wait_for(lambda: Job.objects.filter(pk__in=[job.pk for job in hung], resume_at__isnull=False).count() >= 2,
                 what="the hung backups to park", timeout=20)

        healthy = Backup.start(member, items[4])
        wait_for(lambda: Job.objects.get(pk=healthy.pk).started is not None, what="the healthy backup to start",
                 timeout=30)
        healthy.refresh_from_db()
        delay = (healthy.started - healthy.created).total_seconds()
        print(f"\nhealthy backup started {delay:.2f} s after it was asked for, beside 4 hung ones")
        assert delay < 5
        healthy = finished(healthy, 60)
        assert healthy.status == Status.COMPLETED, healthy.error_message
        assert items[4].recovery_points.count() == 1

        for job in hung:
            job = finished(job, SNAPSHOT_TIMEOUT + 40)
            assert job.status == Status.FAILED
            assert (job.error_code, job.error_message) == (SNAPSHOT_TIMEOUT_CODE, SNAPSHOT_TIMEOUT_MESSAGE)
            assert job.recommendations == SNAPSHOT_TIMEOUT_RECOMMENDATIONS
            assert job.duration.total_seconds() >= SNAPSHOT_TIMEOUT
            assert [(s.name, s.status) for s in job.subtasks.all()] == [("Take Snapshot", Status.FAILED)]
        for item in items[:4]:
            item.refresh_from_db()
            assert item.status == ProtectedItem.Status.ERROR and not item.recovery_points.exists()
            assert item.error_message == SNAPSHOT_TIMEOUT_MESSAGE
    finally:
        fault_fabric.clear_faults()
        shutil.rmtree(vault.store_path, ignore_errors=True)
