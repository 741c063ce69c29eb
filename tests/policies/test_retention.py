"""The retention engine: which ranges select a point, until when it is kept, and the editor's preview."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policies import reference
from tests.policies.strategies import point_histories, portal_example, valid_policies
from vaults.policy.defaults import default_policy
from vaults.policy.retention import Point, RetentionEngine, add_months, describe, expired, expiries, expiry, preview, selects
from vaults.policy.rules import (
    LAST,
    DayOfMonth,
    MonthlyRetention,
    Policy,
    Schedule,
    Week,
    Weekday,
    WeekdayOfMonth,
    WeeklyRetention,
    YearlyRetention,
)

SUN, WED = Weekday.SUNDAY, Weekday.WEDNESDAY


def at(*args) -> datetime:
    return datetime(*args, 22, 30, tzinfo=UTC)


# --- The PORTAL.md example, point by point ----------------------------------------

@pytest.mark.parametrize(("taken", "kept_until"), [
    (at(2026, 3, 3), at(2026, 4, 2)),  # a Tuesday: daily, 30 days
    (at(2026, 3, 8), at(2028, 3, 5)),  # a Sunday: weekly, 104 weeks
    (at(2026, 3, 29), at(2036, 3, 29)),  # the last Sunday of March: monthly, 120 months
    (at(2026, 1, 4), at(2125, 1, 4)),  # the first Sunday of January: yearly, 99 years
    (at(2026, 2, 1), at(2028, 1, 30)),  # the first Sunday of February: only weekly
])
def test_portal_example_keeps_each_point_for_its_longest_range(taken, kept_until):
    assert expiry(portal_example(), taken) == kept_until


def test_backup_now_is_kept_for_the_daily_retention_even_on_a_chosen_sunday():
    assert expiry(portal_example(), at(2026, 1, 4), adhoc=True) == at(2026, 2, 3)


def test_weekly_schedule_keeps_backup_now_and_off_schedule_points_for_the_weekly_range():
    policy = Policy("Weekly", Schedule.weekly(time(1, 0), {SUN}), (WeeklyRetention(12, {SUN}),))
    wednesday = datetime(2026, 3, 4, 9, 15, tzinfo=UTC)
    assert expiry(policy, wednesday, adhoc=True) == wednesday + timedelta(weeks=12)
    assert expiry(policy, wednesday) == wednesday + timedelta(weeks=12)


def test_policy_without_retention_is_refused_by_the_engine():
    with pytest.raises(ValueError, match="has no retention range"):
        expiry(Policy("Empty", Schedule.daily(time(1, 0))), at(2026, 1, 1))


# --- Calendar edges ----------------------------------------------------------------

@pytest.mark.parametrize(("day", "selected"), [
    (date(2026, 2, 28), True), (date(2028, 2, 28), False), (date(2028, 2, 29), True),
    (date(2026, 4, 30), True), (date(2026, 5, 30), False), (date(2026, 5, 31), True),
])
def test_last_day_of_month(day, selected):
    assert selects(MonthlyRetention(1, DayOfMonth(LAST)), day) is selected


@pytest.mark.parametrize(("week", "days"), [
    # Sundays of March 2026: 1, 8, 15, 22, 29.
    (Week.FIRST, [1]), (Week.SECOND, [8]), (Week.THIRD, [15]), (Week.FOURTH, [22]), (Week.LAST, [29]),
])
def test_nth_weekday_of_a_month_with_five_sundays(week, days):
    rng = MonthlyRetention(1, WeekdayOfMonth(week, {SUN}))
    assert [d for d in range(1, 32) if selects(rng, date(2026, 3, d))] == days


def test_last_weekday_is_the_fourth_in_a_month_with_four():
    # February 2026 has Sundays 1, 8, 15, 22: the last is also the fourth.
    last, fourth = (MonthlyRetention(1, WeekdayOfMonth(w, {SUN})) for w in (Week.LAST, Week.FOURTH))
    assert selects(last, date(2026, 2, 22)) and selects(fourth, date(2026, 2, 22))


def test_several_weekdays_select_each_of_them():
    rng = MonthlyRetention(1, WeekdayOfMonth(Week.FIRST, {SUN, WED}))
    assert [d for d in range(1, 32) if selects(rng, date(2026, 3, d))] == [1, 4]


def test_yearly_selects_only_in_its_months():
    rng = YearlyRetention(1, {1, 7}, DayOfMonth(1))
    assert [m for m in range(1, 13) if selects(rng, date(2026, m, 1))] == [1, 7]


@pytest.mark.parametrize(("start", "months", "end"), [
    (datetime(2026, 1, 31, 5, tzinfo=UTC), 1, datetime(2026, 2, 28, 5, tzinfo=UTC)),
    (datetime(2028, 1, 31, 5, tzinfo=UTC), 1, datetime(2028, 2, 29, 5, tzinfo=UTC)),
    (datetime(2026, 1, 31, 5, tzinfo=UTC), 2, datetime(2026, 3, 31, 5, tzinfo=UTC)),
    (datetime(2028, 2, 29, 5, tzinfo=UTC), 12, datetime(2029, 2, 28, 5, tzinfo=UTC)),
    (datetime(2026, 11, 30, 5, tzinfo=UTC), 3, datetime(2027, 2, 28, 5, tzinfo=UTC)),
])
def test_calendar_months_end_on_the_same_day_or_the_months_last(start, months, end):
    assert add_months(start, months) == end


def test_expiry_is_utc_whatever_zone_the_point_comes_in():
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 3, 17, 30, tzinfo=ZoneInfo("America/New_York"))
    assert expiry(portal_example(), local) == at(2026, 4, 2)


# --- Expired points and recomputation ------------------------------------------------

def test_expired_returns_the_points_past_their_expiry_in_input_order():
    points = [at(2026, 3, 3), Point(at(2026, 3, 8), adhoc=True), at(2026, 3, 8), at(2026, 3, 29)]
    assert expired(points, portal_example(), at(2026, 4, 7)) == [at(2026, 3, 3), Point(at(2026, 3, 8), adhoc=True)]
    assert expired(points, portal_example(), at(2026, 4, 2) - timedelta(seconds=1)) == []


def test_a_policy_change_recomputes_every_point_cheaply():
    points = [at(2000, 1, 1) + timedelta(days=i) for i in range(20_000)]
    started = clock.perf_counter()
    before, after = expiries(portal_example(), points), expiries(default_policy(), points)
    assert clock.perf_counter() - started < 5.0  # about 0.3 s; the bound only catches a per-point slowdown
    assert after == [p + timedelta(days=30) for p in points]
    assert sum(b > a for b, a in zip(before, after, strict=True)) == sum(p.weekday() == SUN for p in points)


# --- Property: the engine agrees with the plain reference ---------------------------------

@settings(max_examples=300, deadline=None)
@given(st.data())
def test_engine_matches_the_reference_on_random_policies_and_histories(data):
    policy = data.draw(valid_policies())
    history = data.draw(point_histories(policy))
    engine = RetentionEngine(policy)
    for moment, adhoc in history:
        assert engine.expiry(moment, adhoc=adhoc) == reference.expiry(policy, moment, adhoc), (moment, adhoc)
    now = data.draw(st.sampled_from([m for m, _ in history])) + timedelta(days=data.draw(st.integers(0, 4000)))
    points = [Point(m, a) for m, a in history]
    assert expired(points, policy, now) == [p for p in points if reference.expiry(policy, p.time, p.adhoc) <= now]


day_choices = st.one_of(
    st.builds(DayOfMonth, st.one_of(st.integers(1, 28), st.just(LAST))),
    st.builds(WeekdayOfMonth, st.sampled_from(list(Week)), st.frozensets(st.sampled_from(list(Weekday)), min_size=1)),
)


@settings(max_examples=300, deadline=None)
@given(day_choices, st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.frozensets(st.integers(1, 12), min_size=1))
def test_selection_agrees_with_the_reference_on_every_day_of_a_month(on, day, months):
    for current in reference.days_of_month(day):
        for r in (MonthlyRetention(1, on), YearlyRetention(1, months, on)):
            assert selects(r, current) == reference.selects(r, current), (r, current)


# --- Preview --------------------------------------------------------------------------

def test_preview_of_a_year_of_daily_backups_for_the_portal_example():
    result = preview(portal_example(), date(2026, 1, 1), tz="Europe/London")
    assert len(result.points) == 365
    # 2026: 52 Sundays (weekly), 12 last Sundays (monthly), one first Sunday of January (yearly).
    assert result.counts == {"daily": 313, "weekly": 39, "monthly": 12, "yearly": 1}
    first_sunday = result.points[3]
    assert (first_sunday.label, first_sunday.kept_by, first_sunday.selected_by, first_sunday.expires) == (
        "2026-01-04 22:30 (UTC+00:00)", "yearly", ("daily", "weekly", "yearly"), at(2125, 1, 4))
    assert result.points[180].label == "2026-06-30 23:30 (UTC+01:00)"
    monthly = [p.time.date() for p in result.beyond("weekly") if p.kept_by == "monthly"]
    assert monthly[:2] == [date(2026, 1, 25), date(2026, 2, 22)]


def test_preview_held_at_shows_what_remains_a_year_on():
    result = preview(portal_example(), date(2026, 1, 1))
    held = result.held_at(at(2026, 12, 31) + timedelta(minutes=1))
    # The dailies of the last 30 days (2-31 December; 1 December expired a minute ago) and every Sunday of the year.
    sundays = [p for p in result.points if p.time.weekday() == SUN]
    assert set(sundays) <= set(held)
    recent = [p for p in result.points if p.time > at(2026, 12, 1) and p.time.weekday() != SUN]
    assert len(held) == len(sundays) + len(recent) == 52 + 26


def test_preview_of_a_weekly_schedule_lists_only_its_slots():
    policy = Policy("Weekly", Schedule.weekly(time(1, 0), {SUN, WED}),
                    (WeeklyRetention(4, {SUN, WED}), MonthlyRetention(6, WeekdayOfMonth(Week.LAST, {SUN}))))
    result = preview(policy, date(2026, 1, 1), days=31, tz="America/New_York")
    assert [p.time.day for p in result.points] == [4, 7, 11, 14, 18, 21, 25, 28]
    assert result.counts == {"weekly": 7, "monthly": 1}
    assert result.points[0].label == "2026-01-03 20:00 (UTC-05:00)"


def test_ranges_in_words():
    assert [describe(r) for r in portal_example().retention] == [
        "Daily, for 30 days",
        "Weekly on Sunday, for 104 weeks",
        "Monthly on the last Sunday, for 120 months",
        "Yearly on the first Sunday of January, for 99 years",
    ]
    assert describe(MonthlyRetention(6, DayOfMonth(LAST))) == "Monthly on the last day, for 6 months"
    assert describe(YearlyRetention(2, {7, 1}, DayOfMonth(15))) == "Yearly on day 15 of January, July, for 2 years"
    assert describe(WeeklyRetention(3, {WED, SUN})) == "Weekly on Wednesday, Sunday, for 3 weeks"
