"""The retention engine: until when a policy keeps each recovery point.

A scheduled point is kept until the latest expiry among the ranges that
select it (PORTAL.md). Selection is by the point's UTC calendar date, the same
date its slot has (see ``vaults.policy``):

- daily selects every scheduled point and keeps it ``count`` days;
- weekly selects points on its weekdays, ``count`` weeks;
- monthly selects points on its day of month (1-28 or the last day), or on
  the First/Second/Third/Fourth/Last occurrence of its weekdays, ``count``
  calendar months;
- yearly selects, within its months, the same day choice, ``count`` years.

Calendar months and years end on the same day of the month, or on the month's
last day when that day does not exist (31 January + 1 month = 28 February).

Decisions where PORTAL.md is silent:

- Every point is kept at least the policy's *base* retention: the daily range,
  or for a weekly schedule (which may not have one) the weekly range. An
  ad-hoc BACKUP NOW point gets only the base ("kept for the policy's daily
  retention"), never the weekly, monthly or yearly ones, even on a Sunday. A
  scheduled point no range selects (taken under an earlier version of the
  policy) gets the base too, so a policy change never drops a point at once.
- Selection needs no other points: with one scheduled backup a day, a date
  either holds the selected point or has none (a failed backup on the last
  Sunday is not replaced by Saturday's). A scheduled point's time is its slot,
  recorded by the scheduler, so a backup finishing after midnight keeps its day.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from vaults.policy.rules import (
    LAST,
    MONTH_NAMES,
    WEEK_WORDS,
    DailyRetention,
    DayChoice,
    DayOfMonth,
    MonthlyRetention,
    Policy,
    RetentionRange,
    Week,
    WeeklyRetention,
    weekday_names,
)
from vaults.policy.schedule import as_utc, local_label, slots

# (expiry, the ranges that select the point, the range that sets the expiry)
Explanation = tuple[datetime, tuple[RetentionRange, ...], RetentionRange]
_WEEK_INDEX = {Week.FIRST: 0, Week.SECOND: 1, Week.THIRD: 2, Week.FOURTH: 3}


@dataclass(frozen=True)
class Point:
    """A recovery point as the engine needs it: when it was taken, and whether by BACKUP NOW."""

    time: datetime
    adhoc: bool = False


def add_months(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    return moment.replace(year=year, month=month + 1, day=min(moment.day, calendar.monthrange(year, month + 1)[1]))


def kept_until(r: RetentionRange, moment: datetime) -> datetime:
    """``moment`` plus the range's duration."""
    if isinstance(r, DailyRetention):
        return moment + timedelta(days=r.count)
    if isinstance(r, WeeklyRetention):
        return moment + timedelta(weeks=r.count)
    if isinstance(r, MonthlyRetention):
        return add_months(moment, r.count)
    return add_months(moment, 12 * r.count)


def _on_day(on: DayChoice, day: date) -> bool:
    month_length = calendar.monthrange(day.year, day.month)[1]
    if isinstance(on, DayOfMonth):
        return day.day == month_length if on.day == LAST else day.day == on.day
    if day.weekday() not in on.weekdays:
        return False
    if on.week == Week.LAST:
        return day.day + 7 > month_length  # no later occurrence of this weekday in the month
    return (day.day - 1) // 7 == _WEEK_INDEX[on.week]


def selects(r: RetentionRange, day: date) -> bool:
    """Whether range ``r`` selects a scheduled point taken on UTC date ``day``."""
    if isinstance(r, DailyRetention):
        return True
    if isinstance(r, WeeklyRetention):
        return day.weekday() in r.weekdays
    if isinstance(r, MonthlyRetention):
        return _on_day(r.on, day)
    return day.month in r.months and _on_day(r.on, day)


def base_range(policy: Policy) -> RetentionRange:
    """The retention every point gets at least (see the module docstring)."""
    for r in (policy.daily, policy.weekly, policy.monthly, policy.yearly):
        if r is not None:
            return r
    raise ValueError(f"policy {policy.name!r} has no retention range")


class RetentionEngine:
    """One policy's retention, for many points: recomputing thousands after a policy change is cheap.

    Durations keep the time of day, so a date's answer is computed once (for
    midnight) and every point of that date reuses it.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.base = base_range(policy)
        self._scheduled: dict[date, Explanation] = {}

    def _for_date(self, day: date) -> Explanation:
        cached = self._scheduled.get(day)
        if cached is None:
            midnight = datetime.combine(day, time(0), tzinfo=UTC)
            chosen = tuple(r for r in self.policy.retention if selects(r, day))
            # On a tie the base range wins, then policy order: the preview credits a range only when it keeps the point longer.
            longest = max((self.base, *chosen), key=lambda r: kept_until(r, midnight))
            cached = self._scheduled[day] = (kept_until(longest, midnight), chosen, longest)
        return cached

    def explain(self, point_time: datetime, *, adhoc: bool = False) -> Explanation:
        """(expiry, ranges that select the point, the range that sets its expiry)."""
        moment = as_utc(point_time)
        if adhoc:
            return kept_until(self.base, moment), (), self.base
        until_midnight, chosen, longest = self._for_date(moment.date())
        midnight = datetime.combine(moment.date(), time(0), tzinfo=UTC)
        return until_midnight + (moment - midnight), chosen, longest

    def expiry(self, point_time: datetime, *, adhoc: bool = False) -> datetime:
        return self.explain(point_time, adhoc=adhoc)[0]


def expiry(policy: Policy, point_time: datetime, *, adhoc: bool = False) -> datetime:
    """When ``policy`` lets go of a point taken at ``point_time`` (UTC result)."""
    return RetentionEngine(policy).expiry(point_time, adhoc=adhoc)


def _as_point(item: Point | datetime) -> Point:
    return item if isinstance(item, Point) else Point(item)


def expiries(policy: Policy, points: Iterable[Point | datetime]) -> list[datetime]:
    """Each point's expiry, in order; a bare datetime is a scheduled point."""
    engine = RetentionEngine(policy)
    return [engine.expiry(p.time, adhoc=p.adhoc) for p in map(_as_point, points)]


P = TypeVar("P", Point, datetime)


def expired(points: Iterable[P], policy: Policy, now: datetime) -> list[P]:
    """The points whose expiry is at or before ``now``, in input order."""
    engine, now = RetentionEngine(policy), as_utc(now)
    result = []
    for item in points:
        point = _as_point(item)
        if engine.expiry(point.time, adhoc=point.adhoc) <= now:
            result.append(item)
    return result


# --- Preview ---------------------------------------------------------------


@dataclass(frozen=True)
class PreviewPoint:
    time: datetime  # UTC slot
    label: str  # the slot in the viewer's zone, with its offset
    expires: datetime
    kept_by: str  # kind of the range that sets the expiry: "daily", "weekly", "monthly" or "yearly"
    selected_by: tuple[str, ...]


@dataclass(frozen=True)
class Preview:
    points: list[PreviewPoint]
    counts: dict[str, int] = field(default_factory=dict)  # points per deciding range

    def held_at(self, moment: datetime) -> list[PreviewPoint]:
        """The previewed points still kept at ``moment``."""
        return [p for p in self.points if p.time <= moment < p.expires]

    def beyond(self, kind: str) -> list[PreviewPoint]:
        """The points a longer range than ``kind`` keeps (the interesting rows for the editor)."""
        return [p for p in self.points if p.kept_by != kind]


def preview(policy: Policy, start: date, days: int = 365, tz: str | ZoneInfo = "UTC") -> Preview:
    """For the policy's scheduled backups over ``days`` days from UTC date ``start``: what is kept until when."""
    engine = RetentionEngine(policy)
    begin = datetime.combine(start, time(0), tzinfo=UTC)
    rows, counts = [], {}
    for slot in slots(policy, begin, begin + timedelta(days=days)):
        until, chosen, longest = engine.explain(slot)
        rows.append(PreviewPoint(slot, local_label(slot, tz), until, longest.kind, tuple(r.kind for r in chosen)))
        counts[longest.kind] = counts.get(longest.kind, 0) + 1
    return Preview(rows, counts)


# --- Wording ------------------------------------------------------------------

def _day_words(on: DayChoice) -> str:
    if isinstance(on, DayOfMonth):
        return _("the last day") if on.day == LAST else _("day %(day)s") % {"day": on.day}
    days = _(" and ").join(weekday_names(on.weekdays))
    return _("the %(week)s %(days)s") % {"week": WEEK_WORDS[on.week.value], "days": days}


def describe(r: RetentionRange) -> str:
    """A range in words for the Backup Policy drill-down, such as ``Monthly on the last Sunday, for 120 months``.

    Weekdays are the stored (UTC) ones: pass ranges from ``vaults.policy.schedule.policy_in_zone()`` to word them locally.
    """
    if isinstance(r, DailyRetention):
        return _("Daily, for %(count)s days") % {"count": r.count}
    if isinstance(r, WeeklyRetention):
        return _("Weekly on %(days)s, for %(count)s weeks") % {"days": ", ".join(weekday_names(r.weekdays)),
                                                               "count": r.count}
    if isinstance(r, MonthlyRetention):
        return _("Monthly on %(on)s, for %(count)s months") % {"on": _day_words(r.on), "count": r.count}
    months = ", ".join(str(MONTH_NAMES[m - 1]) for m in sorted(r.months))
    return _("Yearly on %(on)s of %(months)s, for %(count)s years") % {"on": _day_words(r.on), "months": months,
                                                                        "count": r.count}
