"""Scheduled slots with a frozen clock: across DST changes and a week boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policies.strategies import valid_policies
from vaults.policy.defaults import default_policy
from vaults.policy.rules import (
    MonthlyRetention,
    Policy,
    Schedule,
    Week,
    Weekday,
    WeekdayOfMonth,
    WeeklyRetention,
    YearlyRetention,
    validate,
)
from vaults.policy.schedule import (
    describe_schedule,
    from_local,
    local_label,
    local_time_choices,
    next_run,
    policy_from_local,
    policy_in_zone,
    previous_run,
    slot_for,
    slot_id,
    slots,
    to_local,
)

NEW_YORK, LONDON = "America/New_York", "Europe/London"
SUN, MON, WED, SAT = Weekday.SUNDAY, Weekday.MONDAY, Weekday.WEDNESDAY, Weekday.SATURDAY


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(at: time) -> Policy:
    return Policy("Nightly", Schedule.daily(at))


def run_beat(policy: Policy, start: datetime, end: datetime, every: timedelta = timedelta(minutes=1)) -> list[str]:
    """A beat that ticks on the frozen clock and enqueues each slot once, as the scheduler will (keyed by slot id)."""
    enqueued: dict[str, datetime] = {}
    with time_machine.travel(start, tick=False) as clock:
        while datetime.now(UTC) < end:
            slot = slot_for(policy, datetime.now(UTC), not_before=start)
            if slot is not None:
                enqueued.setdefault(slot_id(slot), datetime.now(UTC))
            clock.shift(every)
    return list(enqueued)


def test_next_run_is_strictly_after():
    policy = daily(time(22, 30))
    assert next_run(policy, utc(2026, 5, 1, 22, 29)) == utc(2026, 5, 1, 22, 30)
    assert next_run(policy, utc(2026, 5, 1, 22, 30)) == utc(2026, 5, 2, 22, 30)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware datetime required"):
        next_run(daily(time(1, 0)), datetime(2026, 5, 1))


def test_aware_datetimes_in_any_zone_are_read_as_the_same_instant():
    from zoneinfo import ZoneInfo

    local = datetime(2026, 5, 1, 18, 29, tzinfo=ZoneInfo(NEW_YORK))  # 22:29 UTC
    assert next_run(daily(time(22, 30)), local) == utc(2026, 5, 1, 22, 30)


def test_daily_slots_stay_24_hours_apart_across_new_york_dst_start_and_the_local_time_moves():
    # 8 March 2026: New York springs forward. The schedule is stored at 03:00 UTC.
    policy = daily(time(3, 0))
    ids = run_beat(policy, utc(2026, 3, 6, 12, 0), utc(2026, 3, 10, 12, 0), every=timedelta(minutes=7))
    assert ids == ["2026-03-07T03:00Z", "2026-03-08T03:00Z", "2026-03-09T03:00Z", "2026-03-10T03:00Z"]
    labels = [local_label(s, NEW_YORK) for s in slots(policy, utc(2026, 3, 7), utc(2026, 3, 11))]
    assert labels == ["2026-03-06 22:00 (UTC-05:00)", "2026-03-07 22:00 (UTC-05:00)",
                      "2026-03-08 23:00 (UTC-04:00)", "2026-03-09 23:00 (UTC-04:00)"]


def test_slot_inside_the_london_autumn_repeated_hour_runs_once():
    # 25 October 2026: London falls back, 01:00-02:00 local happens twice. 00:30 and 01:30 UTC are both in it.
    policy = daily(time(0, 30))
    ids = run_beat(policy, utc(2026, 10, 24, 0, 0), utc(2026, 10, 27, 0, 0))
    assert ids == ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T00:30Z"]
    assert [local_label(utc(2026, 10, d, 0, 30), LONDON) for d in (24, 25, 26)] == [
        "2026-10-24 01:30 (UTC+01:00)", "2026-10-25 01:30 (UTC+01:00)", "2026-10-26 00:30 (UTC+00:00)"]


def test_london_spring_gap_does_not_skip_a_slot():
    # 29 March 2026: 01:00-02:00 local does not exist in London; 01:30 UTC still comes once a day.
    policy = daily(time(1, 30))
    assert run_beat(policy, utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0), every=timedelta(minutes=5)) == [
        "2026-03-28T01:30Z", "2026-03-29T01:30Z", "2026-03-30T01:30Z"]
    assert to_local(time(1, 30), LONDON, date(2026, 3, 29)).label == "02:30 (UTC+01:00)"


def test_weekly_schedule_across_a_week_and_year_boundary():
    policy = Policy("Weekend", Schedule.weekly(time(23, 30), {SAT, SUN}))
    ids = run_beat(policy, utc(2026, 12, 25, 0, 0), utc(2027, 1, 5, 0, 0), every=timedelta(minutes=10))
    assert ids == ["2026-12-26T23:30Z", "2026-12-27T23:30Z", "2027-01-02T23:30Z", "2027-01-03T23:30Z"]
    assert next_run(policy, utc(2026, 12, 27, 23, 30)) == utc(2027, 1, 2, 23, 30)
    assert previous_run(policy, utc(2027, 1, 2, 23, 29)) == utc(2026, 12, 27, 23, 30)


def test_a_late_tick_still_finds_its_slot_and_a_repeat_tick_finds_the_same():
    policy = Policy("Sundays", Schedule.weekly(time(2, 0), {SUN}))
    with time_machine.travel(utc(2026, 11, 24, 9, 0), tick=False):  # a Tuesday: the beat was down since Sunday
        assert slot_for(policy, datetime.now(UTC)) == utc(2026, 11, 22, 2, 0)
        assert slot_id(slot_for(policy, datetime.now(UTC))) == "2026-11-22T02:00Z"
    assert slot_for(policy, utc(2026, 11, 24, 9, 0), max_late=timedelta(hours=12)) is None
    assert slot_for(policy, utc(2026, 11, 22, 2, 0)) == utc(2026, 11, 22, 2, 0)  # due at its very minute


def test_a_vm_protected_after_the_slot_waits_for_the_next():
    policy = daily(time(22, 30))
    protected_at = utc(2026, 5, 1, 23, 0)
    assert slot_for(policy, utc(2026, 5, 1, 23, 1), not_before=protected_at) is None
    assert slot_for(policy, utc(2026, 5, 2, 22, 30), not_before=protected_at) == utc(2026, 5, 2, 22, 30)


def test_slots_lists_a_half_open_range():
    policy = daily(time(12, 0))
    assert list(slots(policy, utc(2026, 1, 1, 12, 0), utc(2026, 1, 3, 12, 0))) == [utc(2026, 1, 1, 12), utc(2026, 1, 2, 12)]


# --- Local time ---------------------------------------------------------------

def test_stored_time_is_shown_with_its_offset_for_the_date():
    assert to_local(time(3, 0), NEW_YORK, date(2026, 1, 10)).label == "22:00 (UTC-05:00)"
    assert to_local(time(3, 0), NEW_YORK, date(2026, 7, 10)).label == "23:00 (UTC-04:00)"
    assert to_local(time(3, 0), NEW_YORK, date(2026, 7, 10)).day_shift == -1
    assert to_local(time(20, 0), "Asia/Kolkata", date(2026, 7, 10)).label == "01:30 (UTC+05:30)"


def test_local_display_uses_today_under_a_frozen_clock():
    with time_machine.travel(utc(2026, 7, 1, 12, 0), tick=False):
        assert to_local(time(21, 30), LONDON).label == "22:30 (UTC+01:00)"
        assert default_policy(LONDON).schedule.time == time(21, 30)
    with time_machine.travel(utc(2026, 1, 1, 12, 0), tick=False):
        assert to_local(time(21, 30), LONDON).label == "21:30 (UTC+00:00)"


def test_from_local_in_a_dst_gap_uses_the_offset_before_the_change():
    # 02:30 does not exist in New York on 8 March 2026; fold=0 reads it with EST (-05:00).
    assert from_local(time(2, 30), NEW_YORK, date(2026, 3, 8)) == (time(7, 30), 0)


def test_local_time_choices_offer_48_storable_times_in_local_order():
    choices = local_time_choices("Asia/Kathmandu", date(2026, 1, 1))
    assert len(choices) == 48
    assert [c[1].time for c in choices[:2]] == [time(0, 15), time(0, 45)]
    assert all(t.minute in (0, 30) for t, _ in choices)
    assert choices[0][0] == time(18, 30)


@settings(max_examples=150, deadline=None)
@given(valid_policies(), st.datetimes(datetime(2001, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_next_and_previous_runs_bracket_any_moment(policy, moment):
    after = next_run(policy, moment)
    before = previous_run(policy, moment)
    for slot in (after, before):
        assert slot.time() == policy.schedule.time and Weekday(slot.weekday()) in policy.schedule.days
    assert before <= moment < after
    assert previous_run(policy, after - timedelta(microseconds=1)) == before  # nothing in between
    assert slot_for(policy, moment) == before
    assert after - before <= timedelta(days=7)


def test_policy_chosen_on_sunday_night_in_new_york_moves_every_weekday_to_monday_utc():
    local_choice = Policy("Sunday-Night", Schedule.weekly(time(22, 0), {SUN}), (
        WeeklyRetention(104, {SUN}),
        MonthlyRetention(120, WeekdayOfMonth(Week.LAST, {SUN})),
        YearlyRetention(99, {1}, WeekdayOfMonth(Week.FIRST, {SUN})),
    ))
    stored = policy_from_local(local_choice, NEW_YORK, date(2026, 1, 4))
    assert stored == Policy("Sunday-Night", Schedule.weekly(time(3, 0), {MON}), (
        WeeklyRetention(104, {MON}),
        MonthlyRetention(120, WeekdayOfMonth(Week.LAST, {MON})),
        YearlyRetention(99, {1}, WeekdayOfMonth(Week.FIRST, {MON})),
    ))
    assert validate(stored) == []
    local, shown = policy_in_zone(stored, NEW_YORK, date(2026, 1, 5))
    assert local.label == "22:00 (UTC-05:00)"
    assert shown == replace(local_choice, schedule=replace(local_choice.schedule, times=(time(3, 0),)))


def test_policy_in_a_zone_on_the_same_date_keeps_its_weekdays():
    policy = Policy("Weekly", Schedule.weekly(time(12, 0), {WED}), (WeeklyRetention(4, {WED}),))
    assert policy_in_zone(policy, LONDON, date(2026, 7, 1)) == (to_local(time(12, 0), LONDON, date(2026, 7, 1)), policy)


def test_schedule_described_in_the_users_terms():
    assert describe_schedule(daily(time(21, 30)), LONDON, date(2026, 7, 1)) == "Daily at 22:30 (UTC+01:00)"
    weekly = Schedule.weekly(time(3, 0), {MON, Weekday.THURSDAY})
    assert describe_schedule(weekly, NEW_YORK, date(2026, 1, 5)) == "Weekly on Wednesday, Sunday at 22:00 (UTC-05:00)"


def test_two_beats_ticking_at_different_moments_find_the_same_slots():
    policy = Policy("Weekend", Schedule.weekly(time(6, 30), {SAT, SUN}))
    start, end = utc(2026, 10, 23, 0, 0), utc(2026, 11, 2, 0, 0)  # London and New York both fall back in between
    first = run_beat(policy, start, end, every=timedelta(minutes=5))
    second = run_beat(policy, start + timedelta(minutes=3), end, every=timedelta(minutes=47))
    assert first == second == ["2026-10-24T06:30Z", "2026-10-25T06:30Z", "2026-10-31T06:30Z", "2026-11-01T06:30Z"]


@settings(max_examples=100, deadline=None)
@given(valid_policies(), st.datetimes(datetime(2001, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
       st.lists(st.integers(1, 23 * 60), min_size=1, max_size=40))
def test_ticks_less_than_a_day_apart_find_every_slot_exactly_once(policy, start, gaps):
    found, now = [], start
    for gap in gaps:
        slot = slot_for(policy, now, not_before=start)
        if slot is not None and slot_id(slot) not in found:
            found.append(slot_id(slot))
        now += timedelta(minutes=gap)
    last_tick = now - timedelta(minutes=gaps[-1])
    assert found == [slot_id(s) for s in slots(policy, start, last_tick + timedelta(microseconds=1))]
