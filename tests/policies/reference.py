"""A plain retention reference: the rules of vaults/retention.py's docstring, day by day.

Deliberately written another way than the engine: occurrences of a weekday
are found by listing the month's days, and calendar months are counted one
step at a time, stepping the day back until the date exists.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from vaults.policy.rules import LAST, DailyRetention, DayOfMonth, MonthlyRetention, Policy, Week, WeeklyRetention

WEEKS = [Week.FIRST, Week.SECOND, Week.THIRD, Week.FOURTH]


def days_of_month(day: date) -> list[date]:
    first = day.replace(day=1)
    result = []
    current = first
    while current.month == first.month:
        result.append(current)
        current += timedelta(days=1)
    return result


def on_day(on, day: date) -> bool:
    month = days_of_month(day)
    if isinstance(on, DayOfMonth):
        return day == (month[-1] if on.day == LAST else month[on.day - 1])
    for weekday in on.weekdays:
        occurrences = [d for d in month if d.weekday() == weekday]
        chosen = occurrences[-1] if on.week == Week.LAST else occurrences[WEEKS.index(on.week)]
        if chosen == day:
            return True
    return False


def selects(r, day: date) -> bool:
    if isinstance(r, DailyRetention):
        return True
    if isinstance(r, WeeklyRetention):
        return day.weekday() in r.weekdays
    if isinstance(r, MonthlyRetention):
        return on_day(r.on, day)
    return day.month in r.months and on_day(r.on, day)


def months_later(moment: datetime, months: int) -> datetime:
    year, month = moment.year, moment.month
    for _ in range(months):
        month += 1
        if month == 13:
            year, month = year + 1, 1
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def kept_until(r, moment: datetime) -> datetime:
    if isinstance(r, DailyRetention):
        return moment + timedelta(hours=24 * r.count)
    if isinstance(r, WeeklyRetention):
        return moment + timedelta(hours=24 * 7 * r.count)
    if isinstance(r, MonthlyRetention):
        return months_later(moment, r.count)
    return months_later(moment, 12 * r.count)


def expiry(policy: Policy, moment: datetime, adhoc: bool) -> datetime:
    by_kind = {r.kind: r for r in reversed(policy.retention)}
    base = next(by_kind[k] for k in ("daily", "weekly", "monthly", "yearly") if k in by_kind)
    candidates = [kept_until(base, moment)]
    if not adhoc:
        candidates += [kept_until(r, moment) for r in policy.retention if selects(r, moment.date())]
    return max(candidates)
