"""Hypothesis strategies for valid policies and point histories, shared by the policy tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import strategies as st

from vaults.policy.rules import (
    LAST,
    DailyRetention,
    DayOfMonth,
    Frequency,
    MonthlyRetention,
    Policy,
    Schedule,
    Week,
    Weekday,
    WeekdayOfMonth,
    WeeklyRetention,
    YearlyRetention,
)


def portal_example(name: str = "Example-Policy") -> Policy:
    """PORTAL.md: daily 30 days; weekly on Sunday 104 weeks; monthly on the last Sunday 120 months;
    yearly on the first Sunday of January 99 years."""
    return Policy(name, Schedule.daily(time(22, 30)), (
        DailyRetention(30),
        WeeklyRetention(104, {Weekday.SUNDAY}),
        MonthlyRetention(120, WeekdayOfMonth(Week.LAST, {Weekday.SUNDAY})),
        YearlyRetention(99, {1}, WeekdayOfMonth(Week.FIRST, {Weekday.SUNDAY})),
    ))



slot_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 30]))
weekday_sets = st.frozensets(st.sampled_from(list(Weekday)), min_size=1)
names = st.from_regex(r"[A-Za-z]([A-Za-z0-9-]{1,20}[A-Za-z0-9])?", fullmatch=True).filter(lambda n: len(n) >= 3)


def day_choices(schedule_days: frozenset[Weekday], allow_day_of_month: bool):
    weekday_form = st.builds(WeekdayOfMonth, st.sampled_from(list(Week)),
                             st.frozensets(st.sampled_from(sorted(schedule_days)), min_size=1))
    if not allow_day_of_month:
        return weekday_form
    return st.one_of(st.builds(DayOfMonth, st.one_of(st.integers(1, 28), st.just(LAST))), weekday_form)


@st.composite
def valid_policies(draw, frequency: Frequency | None = None) -> Policy:
    frequency = frequency or draw(st.sampled_from(list(Frequency)))
    at = draw(slot_times)
    if frequency == Frequency.DAILY:
        schedule = Schedule.daily(at)
        ranges = [DailyRetention(draw(st.integers(1, 366)))]
        if draw(st.booleans()):
            ranges.append(WeeklyRetention(draw(st.integers(1, 260)), draw(weekday_sets)))
    else:
        schedule = Schedule.weekly(at, draw(weekday_sets))
        ranges = [WeeklyRetention(draw(st.integers(1, 260)), schedule.weekdays)]
    daily_schedule = frequency == Frequency.DAILY
    if draw(st.booleans()):
        ranges.append(MonthlyRetention(draw(st.integers(1, 120)), draw(day_choices(schedule.days, daily_schedule))))
    if draw(st.booleans()):
        months = draw(st.frozensets(st.integers(1, 12), min_size=1))
        ranges.append(YearlyRetention(draw(st.integers(1, 99)), months, draw(day_choices(schedule.days, daily_schedule))))
    return Policy(draw(names), schedule, tuple(draw(st.permutations(ranges))))


@st.composite
def point_histories(draw, policy: Policy) -> list[tuple[datetime, bool]]:
    """A run of consecutive days (so month ends and leap days come up) plus scattered days.

    Most points sit on the schedule's time; some are ad hoc, some come at
    another time of a day that already has one (a retry).
    """
    start = draw(st.dates(date(2000, 1, 1), date(2090, 12, 31)))
    run = list(range(draw(st.integers(1, 150))))
    scattered = draw(st.lists(st.integers(0, 4 * 366), max_size=30))
    points = []
    for offset in run + scattered:
        day = start + timedelta(days=offset)
        adhoc = draw(st.integers(0, 4)) == 0
        at = draw(st.times()) if adhoc or draw(st.integers(0, 9)) == 0 else policy.schedule.time
        points.append((datetime.combine(day, at, tzinfo=UTC), adhoc))
    return points
