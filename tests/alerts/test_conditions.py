"""Each condition raised by real state and resolved when it clears: a missed backup (time moved on), damage found by
Verify (a corrupted pack), a job In Progress too long (a VM agent that never answers), a nearly full store."""

from __future__ import annotations

from datetime import time, timedelta
from unittest import mock

import pytest
import time_machine
from celery import current_app
from django.utils import timezone

from alerts.conditions import policy_window
from alerts.models import Alert, Condition, Rule
from alerts.services import update_rule
from jobs.models import Status
from jobs.services import request_cancel
from tests.fixtures.store import damage_chunk
from tests.fixtures.vaults import protect_vm, run_job
from vaults.models import Vault
from vaults.operations.backup import Backup
from vaults.operations.maintenance import Verify
from vaults.policy.rules import Schedule, Weekday
from vaults.services.storage import open_store
from vaults.services.vaults import set_replication

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def lrs_vault(vault, owner):
    """contoso-east made Locally Redundant, so a backup starts no Replicate job."""
    return set_replication(owner, vault, Vault.Replication.LRS)


def alerts(vault, condition: str) -> list[Alert]:
    return list(Alert.objects.filter(vault=vault, condition=condition).order_by("pk"))


def test_the_missed_backup_window_follows_the_policy():
    assert policy_window(Schedule.daily(time(22, 30))) == timedelta(hours=26)
    assert policy_window(Schedule.weekly(time(3, 0), [Weekday.SUNDAY])) == timedelta(days=7, hours=2)
    assert policy_window(Schedule.weekly(time(3, 0), [Weekday.MONDAY, Weekday.FRIDAY])) == timedelta(days=4, hours=2)


def test_no_backup_for_longer_than_the_daily_policy_allows_is_an_alert_until_a_backup_succeeds(lrs_vault, member,
                                                                                              evaluate):
    item = protect_vm(member, lrs_vault, "scale-0000", "vm03")
    protected_at = item.configured

    with time_machine.travel(protected_at + timedelta(hours=25), tick=False):
        evaluate()
    assert alerts(lrs_vault, Condition.MISSED_BACKUP) == []  # DefaultPolicy is daily: 24 hours and a grace of 2

    with time_machine.travel(protected_at + timedelta(hours=27), tick=False):
        evaluate()
    [alert] = alerts(lrs_vault, Condition.MISSED_BACKUP)
    assert alert.is_active and alert.subject == "vm03 (scale-0000)" and alert.severity == "warning"
    assert alert.summary.startswith("No successful backup of vm03 (scale-0000) for 27 hours (since protection was "
                                    "configured")
    assert alert.summary.endswith("the alert is raised after 26 hours.")

    with time_machine.travel(protected_at + timedelta(hours=28), tick=True):
        assert run_job(Backup.start(member, item)).status == Status.COMPLETED
        evaluate()
    alert.refresh_from_db()
    assert alert.status == "resolved"

    with time_machine.travel(protected_at + timedelta(hours=28 + 27), tick=False):  # a day without the next backup
        evaluate()
    assert [a.status for a in alerts(lrs_vault, Condition.MISSED_BACKUP)] == ["resolved", "active"]


def test_damage_found_by_verify_is_an_alert_until_a_verify_finds_the_vault_whole(lrs_vault, member, committed):
    item = protect_vm(member, lrs_vault, "scale-0000", "vm04")
    assert run_job(Backup.start(member, item)).status == Status.COMPLETED
    store = open_store(lrs_vault)
    point = store.load_point(item.recovery_points.get().store_point_id)
    damage_chunk(store, next(chunk for disk in point.disks for chunk in disk.chunks if chunk))

    job = Verify.start_for(member, lrs_vault)
    with committed():  # the Verify job ends: the vault is evaluated at once
        verify = run_job(job)
    assert verify.status == Status.FAILED and verify.error_code == "VaultDataCorrupted"
    [alert] = alerts(lrs_vault, Condition.VERIFY_DAMAGE)
    assert alert.is_active and alert.severity == "critical" and alert.subject == "contoso-east"
    assert verify.error_message in alert.summary

    assert run_job(Backup.start(member, item)).status == Status.COMPLETED  # the backup heals the damaged chunk
    job = Verify.start_for(member, lrs_vault)
    with committed():
        assert run_job(job).status == Status.COMPLETED
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_job_in_progress_for_longer_than_the_limit_is_an_alert_until_it_ends(lrs_vault, owner, member, evaluate,
                                                                              lab_faults, settings):
    item = protect_vm(member, lrs_vault, "scale-0000", "vm05")
    settings.BACKUP_SNAPSHOT_TIMEOUT_SECONDS = 3600
    lab_faults(agent_unresponsive=["scale-0000/vm05"])
    job = Backup.start(member, item)
    with mock.patch("jobs.queue.enqueue", return_value=True):  # the worker runs it once: it parks, waiting for the agent
        current_app.tasks[job.task_name].apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == Status.IN_PROGRESS and job.is_parked

    evaluate()
    with time_machine.travel(timezone.now() + timedelta(minutes=239), tick=False):
        evaluate()
    assert alerts(lrs_vault, Condition.LONG_RUNNING_JOB) == []  # the default limit is 240 minutes
    with time_machine.travel(timezone.now() + timedelta(minutes=241), tick=False):
        evaluate()
    [alert] = alerts(lrs_vault, Condition.LONG_RUNNING_JOB)
    assert alert.is_active and alert.subject == "Backup of vm05 (scale-0000)" and alert.subject_key == f"job:{job.pk}"
    assert "has been In Progress for 241 minutes" in alert.summary

    update_rule(owner, Rule.objects.get(vault=lrs_vault, condition=Condition.LONG_RUNNING_JOB), enabled=True,
                threshold=300)
    with time_machine.travel(timezone.now() + timedelta(minutes=241), tick=False):
        evaluate()
    alert.refresh_from_db()
    assert alert.status == "resolved"  # under the new limit
    update_rule(owner, Rule.objects.get(vault=lrs_vault, condition=Condition.LONG_RUNNING_JOB), enabled=True,
                threshold=1)
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        evaluate()
    [_, again] = alerts(lrs_vault, Condition.LONG_RUNNING_JOB)
    assert again.is_active

    request_cancel(job, member)
    assert run_job(job).status == Status.CANCELLED
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        evaluate()
    again.refresh_from_db()
    assert again.status == "resolved"


def test_a_store_filesystem_fuller_than_the_threshold_is_an_alert_until_the_threshold_is_above_it(vault, owner,
                                                                                                evaluate):
    import shutil

    evaluate()
    assert alerts(vault, Condition.STORE_NEARLY_FULL) == []  # 90% by default; this machine's disk is not that full
    usage = shutil.disk_usage(vault.store_path.parent if not vault.store_path.exists() else vault.store_path)
    percent = 100 * (usage.total - usage.free) / usage.total
    rule = Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    update_rule(owner, rule, enabled=True, threshold=max(1, int(percent) - 1))

    evaluate()
    [alert] = alerts(vault, Condition.STORE_NEARLY_FULL)
    assert alert.is_active and alert.subject == "contoso-east"
    assert f"is {percent:.0f}% full" in alert.summary

    update_rule(owner, rule, enabled=True, threshold=min(100, int(percent) + 2))
    evaluate()
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_disabled_rule_raises_nothing_and_closes_its_alerts(vault, owner, evaluate):
    evaluate()
    rule = Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    update_rule(owner, rule, enabled=True, threshold=1)
    evaluate()
    [alert] = alerts(vault, Condition.STORE_NEARLY_FULL)
    update_rule(owner, rule, enabled=False, threshold=1)
    evaluate()
    alert.refresh_from_db()
    assert alert.status == "resolved" and alerts(vault, Condition.STORE_NEARLY_FULL) == [alert]
