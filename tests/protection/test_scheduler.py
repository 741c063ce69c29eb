from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from jobs.models import Job, Operation, Status
from tests.fixtures.vaults import run_job
from vaults.models import ScheduledBackup
from vaults.operations import scheduler
from vaults.operations.backup import Backup
from vaults.policy import rules
from vaults.policy.schedule import slot_id

from .helpers import SCALE, SCALE_2, make_policy, protected, stop_protection

pytestmark = pytest.mark.django_db


def backups():
    return Job.objects.filter(operation=Operation.BACKUP)


def finish_backups(jobs=None):
    """Run the backups the ticks started (all of them, or ``jobs``), as a worker would."""
    for job in jobs if jobs is not None else backups().filter(status=Status.NOT_STARTED):
        assert run_job(job).status == Status.COMPLETED, job.error_message


def test_tick_starts_one_backup_job_per_due_item_with_its_slot(vault, owner, member):
    policy = make_policy(owner, vault)
    item = protected(member, vault, policy, "vm01")
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, 20, tzinfo=UTC), tick=False):
        result = scheduler.tick()
    assert result.started == 1
    job = backups().get()
    assert job.item_key == item.item.item_key
    assert job.task_name == "vaults.backup"
    assert job.params == {"protected_item": item.pk, "slot": "2026-03-02T03:00Z", "adhoc": False}
    item.refresh_from_db()
    assert item.last_scheduled_slot == "2026-03-02T03:00Z"


def test_duplicate_ticks_a_late_tick_and_a_restart_make_one_backup_per_slot(vault, owner, member):
    policy = make_policy(owner, vault)
    item = protected(member, vault, policy, "vm01")
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tick=False):
        scheduler.tick()
        scheduler.tick()  # a second beat in the same minute
    finish_backups()
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        scheduler.tick()  # late, after the backup finished
    # A restart loses memory of last_scheduled_slot; the claim row still holds the slot.
    item.__class__.objects.filter(pk=item.pk).update(last_scheduled_slot="")
    with time_machine.travel(datetime(2026, 3, 2, 9, 1, tzinfo=UTC), tick=False):
        result = scheduler.tick()
    assert result.claimed == 0
    assert backups().count() == 1
    with time_machine.travel(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), tick=False):
        scheduler.tick()
    assert backups().count() == 2


def test_two_beats_racing_claim_each_slot_once(vault, owner, member):
    """Two ticks that both read the item as due: the unique claim lets one of them start the job."""
    policy = make_policy(owner, vault)
    protected(member, vault, policy, "vm01")
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    first, second = scheduler.due_items(now), scheduler.due_items(now)
    assert len(first) == len(second) == 1
    ScheduledBackup.objects.create(protected_item_id=first[0].item_id, slot=first[0].slot, claimed_by="other-beat")
    with time_machine.travel(now, tick=False):
        assert scheduler.tick().claimed == 0
    assert backups().count() == 0


def test_item_protected_after_the_slot_waits_for_the_next_one(vault, owner, member):
    policy = make_policy(owner, vault)
    protected(member, vault, policy, "vm01", configured=datetime(2026, 3, 2, 3, 30, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 3, 2, 4, 0, tzinfo=UTC), tick=False):
        assert scheduler.tick().due == 0
    with time_machine.travel(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), tick=False):
        assert scheduler.tick().started == 1


def test_slot_is_utc_so_a_dst_change_moves_neither_slot_nor_count(vault, owner, member):
    """03:00 UTC every day across New York's and Berlin's spring change: one backup per day, none doubled."""
    policy = make_policy(owner, vault)
    protected(member, vault, policy, "vm01")
    start = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    for minute in range(0, 5 * 24 * 60, 30):  # a tick every half hour for five days across 8 March and 29 March
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            scheduler.tick()
        finish_backups()
    slots = sorted(j.params["slot"] for j in backups())
    assert slots == [f"2026-03-{d:02d}T03:00Z" for d in range(7, 12)]


def test_local_evening_schedule_across_dst_keeps_its_utc_slot(vault, owner, member):
    definition = rules.Policy("Evening", rules.Schedule.daily(time(23, 30)), (rules.DailyRetention(7),))
    protected(member, vault, make_policy(owner, vault, "Evening", definition), "vm01")
    for day in (28, 29, 30):  # Europe's change is on 29 March 2026
        with time_machine.travel(datetime(2026, 3, day, 23, 45, tzinfo=UTC), tick=False):
            scheduler.tick()
        finish_backups()
    assert sorted(j.params["slot"] for j in backups()) == [f"2026-03-{d}T23:30Z" for d in (28, 29, 30)]


def test_weekly_schedule_across_a_week_boundary(vault, owner, member):
    weekly = rules.Policy("Weekends", rules.Schedule.weekly(time(22, 0), [rules.Weekday.SATURDAY, rules.Weekday.SUNDAY]),
                          (rules.WeeklyRetention(4, [rules.Weekday.SATURDAY, rules.Weekday.SUNDAY]),))
    protected(member, vault, make_policy(owner, vault, "Weekends", weekly), "vm01")
    start = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # a Thursday
    for hour in range(0, 10 * 24):
        with time_machine.travel(start + timedelta(hours=hour, minutes=1), tick=False):
            scheduler.tick()
        finish_backups()
    slots = sorted(j.params["slot"] for j in backups())
    assert slots == ["2026-03-07T22:00Z", "2026-03-08T22:00Z", "2026-03-14T22:00Z"]


def test_stagger_runs_at_most_four_backups_per_cloud_service(vault, owner, member):
    policy = make_policy(owner, vault)
    crowded = [protected(member, vault, policy, f"vm0{i}", SCALE) for i in range(6)]
    for i in range(2):
        protected(member, vault, policy, f"vm0{i}", SCALE_2)
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tick=False):
        first = scheduler.tick()
        again = scheduler.tick()  # four still running: nothing more for web-svc
    assert first.started == 6 and first.waiting == 2
    assert again.started == 0
    crowded_backups = backups().filter(item_key__in=[item.item.item_key for item in crowded])
    assert crowded_backups.count() == 4
    finish_backups(crowded_backups[:2])
    with time_machine.travel(datetime(2026, 3, 2, 3, 1, tzinfo=UTC), tick=False):
        assert scheduler.tick().started == 2
    assert backups().count() == 8
    assert {j.params["slot"] for j in backups()} == {slot_id(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))}


def test_item_busy_with_another_operation_is_retried_next_tick(vault, owner, member):
    policy = make_policy(owner, vault)
    item = protected(member, vault, policy, "vm01")
    busy = Backup.start(member, item)  # BACKUP NOW, just before the slot
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tick=False):
        assert scheduler.tick().started == 0
    finish_backups([busy])
    with time_machine.travel(datetime(2026, 3, 2, 3, 1, tzinfo=UTC), tick=False):
        assert scheduler.tick().started == 1


def test_stopped_items_are_not_backed_up(vault, owner, member):
    policy = make_policy(owner, vault)
    stop_protection(member, protected(member, vault, policy, "vm01"))
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tick=False):
        assert scheduler.tick().due == 0


def test_a_slot_missed_by_more_than_the_window_is_not_made_up(vault, owner, member):
    policy = make_policy(owner, vault)
    protected(member, vault, policy, "vm01")
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC) + scheduler.MAX_LATE + timedelta(minutes=1),
                             tick=False):
        assert scheduler.tick().due == 0
    assert backups().count() == 0


def test_the_beat_task_runs_a_tick(vault, owner, member):
    from vaults.operations.beat import schedule_backups

    protected(member, vault, make_policy(owner, vault), "vm01")
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tick=False):
        result = schedule_backups.apply().get()
    assert result["started"] == 1


def test_beat_schedule_ticks_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["vaults-schedule-backups"]
    assert entry["task"] == "vaults.schedule_backups" and entry["schedule"] <= 60
