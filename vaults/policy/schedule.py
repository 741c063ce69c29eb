"""When a policy's backups are due, and how its UTC schedule reads in a user's zone.

Slots are UTC datetimes: the schedule is stored in UTC (PORTAL.md), so a
daily 03:00 UTC policy runs every 24 hours exactly, all year. Across a DST
change the *local* reading moves instead (22:00 EST becomes 23:00 EDT in New
York); the editor shows the offset next to the time so that is visible. We
chose this over "same local time all year" because the stored value would
otherwise need a zone per policy, and PORTAL.md stores UTC.

A slot's identity is its UTC minute (``slot_id``): the scheduler enqueues a
backup keyed by (protected item, slot id), so a restart, a second beat or a
late tick finds the same slot and cannot enqueue it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from vaults.policy.rules import (
    Frequency,
    MonthlyRetention,
    Policy,
    Schedule,
    Weekday,
    WeekdayOfMonth,
    WeeklyRetention,
    YearlyRetention,
    weekday_names,
)

# --- Slots ----------------------------------------------------------------


def _schedule(policy: Policy | Schedule) -> Schedule:
    return policy.schedule if isinstance(policy, Policy) else policy


def as_utc(moment: datetime) -> datetime:
    # A naive datetime is a bug at the caller (USE_TZ is on): refuse rather than guess its zone.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"aware datetime required, got naive {moment!r}")
    return moment.astimezone(UTC)


def runs_on(policy: Policy | Schedule, day: date) -> bool:
    """Whether the schedule has a slot on UTC date ``day``."""
    return Weekday(day.weekday()) in _schedule(policy).days


def slot_on(policy: Policy | Schedule, day: date) -> datetime | None:
    """The slot on UTC date ``day``, or None when the schedule does not run that day."""
    schedule = _schedule(policy)
    return datetime.combine(day, schedule.time, tzinfo=UTC) if runs_on(schedule, day) else None


def next_run(policy: Policy | Schedule, after: datetime) -> datetime:
    """The first slot strictly after ``after``."""
    after = as_utc(after)
    for offset in range(8):  # a weekly schedule runs at least once in any 8 consecutive dates
        slot = slot_on(policy, after.date() + timedelta(days=offset))
        if slot is not None and slot > after:
            return slot
    raise ValueError("the schedule has no days to run on")


def previous_run(policy: Policy | Schedule, at: datetime) -> datetime:
    """The most recent slot at or before ``at``."""
    at = as_utc(at)
    for offset in range(8):
        slot = slot_on(policy, at.date() - timedelta(days=offset))
        if slot is not None and slot <= at:
            return slot
    raise ValueError("the schedule has no days to run on")


def slot_for(policy: Policy | Schedule, now: datetime, *, not_before: datetime | None = None,
             max_late: timedelta | None = None) -> datetime | None:
    """The slot a beat tick at ``now`` should make sure is enqueued, or None.

    It is the most recent slot at or before ``now``, so a tick that runs late
    (or a beat that was down) still finds it until the next slot replaces it;
    older missed slots are not made up, which keeps "one scheduled backup per
    VM per day". None when that slot is before ``not_before`` (typically when
    protection was configured: a VM protected at 23:00 is not owed the 22:30
    slot) or more than ``max_late`` old.
    """
    slot = previous_run(policy, now)
    if not_before is not None and slot < as_utc(not_before):
        return None
    if max_late is not None and as_utc(now) - slot > max_late:
        return None
    return slot


def slots(policy: Policy | Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every slot in [start, end), in order."""
    start, end = as_utc(start), as_utc(end)
    day = start.date()
    while day <= end.date():
        slot = slot_on(policy, day)
        if slot is not None and start <= slot < end:
            yield slot
        day += timedelta(days=1)


def slot_id(slot: datetime) -> str:
    """The slot's identity for idempotent enqueueing, such as ``2026-03-08T03:00Z``."""
    return f"{as_utc(slot):%Y-%m-%dT%H:%MZ}"


# --- Local time -------------------------------------------------------------


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def local_label(moment: datetime, tz: str | ZoneInfo) -> str:
    """A slot or point as a user in ``tz`` reads it: ``2026-03-07 22:00 (UTC-05:00)``."""
    local = as_utc(moment).astimezone(_zone(tz))
    return f"{local:%Y-%m-%d %H:%M} ({format_offset(local.utcoffset() or timedelta(0))})"


@dataclass(frozen=True)
class LocalTime:
    """A UTC schedule time as a user in some zone sees it on one date."""

    time: time
    offset: timedelta
    day_shift: int  # local date minus UTC date: -1, 0 or +1

    @property
    def label(self) -> str:
        return f"{self.time:%H:%M} ({format_offset(self.offset)})"


def to_local(utc_time: time, tz: str | ZoneInfo, on: date | None = None) -> LocalTime:
    """``utc_time`` on UTC date ``on`` (default today) seen in ``tz``.

    The offset depends on the date: a schedule stored at 03:00 UTC shows as
    22:00 (UTC-05:00) in New York in winter and 23:00 (UTC-04:00) in summer.
    """
    on = on or datetime.now(UTC).date()
    local = datetime.combine(on, utc_time, tzinfo=UTC).astimezone(_zone(tz))
    return LocalTime(local.time(), local.utcoffset() or timedelta(0), (local.date() - on).days)


def from_local(local_time: time, tz: str | ZoneInfo, on: date | None = None) -> tuple[time, int]:
    """The UTC time for ``local_time`` on local date ``on`` (default today), and UTC date minus local date.

    A local time that a DST change skips or repeats is read with zoneinfo's
    ``fold=0``, the offset in force before the change.
    """
    zone = _zone(tz)
    on = on or datetime.now(zone).date()
    utc = datetime.combine(on, local_time, tzinfo=zone).astimezone(UTC)
    return utc.time(), (utc.date() - on).days


def shift_weekdays(weekdays: Iterable[int], days: int) -> frozenset[Weekday]:
    return frozenset(Weekday((d + days) % 7) for d in weekdays)


def schedule_in_zone(policy: Policy | Schedule, tz: str | ZoneInfo,
                     on: date | None = None) -> tuple[LocalTime, frozenset[Weekday]]:
    """The stored schedule's time and weekdays as a user in ``tz`` reads them on UTC date ``on``."""
    schedule = _schedule(policy)
    local = to_local(schedule.time, tz, on)
    return local, shift_weekdays(schedule.weekdays, local.day_shift)


def local_time_choices(tz: str | ZoneInfo, on: date | None = None) -> list[tuple[time, LocalTime]]:
    """The 48 storable UTC times with their local reading, in local order, for the editor's time list.

    In a zone whose offset is not a whole half hour (Nepal, UTC+05:45) the
    local choices read 00:15, 00:45...: the stored UTC time stays on the boundary.
    """
    choices = [(t, to_local(t, tz, on)) for t in (time(h, m) for h in range(24) for m in (0, 30))]
    return sorted(choices, key=lambda c: c[1].time)


def shift_policy(policy: Policy, days: int) -> Policy:
    """``policy`` with every weekday moved by ``days``: schedule days, weekly retention and weekday forms.

    Days of the month and months of the year stay: PORTAL.md gives no way to
    move them, and the ranges read them on the UTC date (see ``vaults.policy``).
    """
    if days % 7 == 0:
        return policy
    ranges = []
    for r in policy.retention:
        if isinstance(r, WeeklyRetention):
            r = replace(r, weekdays=shift_weekdays(r.weekdays, days))
        elif isinstance(r, MonthlyRetention | YearlyRetention) and isinstance(r.on, WeekdayOfMonth):
            r = replace(r, on=replace(r.on, weekdays=shift_weekdays(r.on.weekdays, days)))
        ranges.append(r)
    schedule = replace(policy.schedule, weekdays=shift_weekdays(policy.schedule.weekdays, days))
    return replace(policy, schedule=schedule, retention=tuple(ranges))


def policy_from_local(policy: Policy, tz: str | ZoneInfo, on: date | None = None) -> Policy:
    """A policy the editor filled in local terms (time and weekdays), as stored: in UTC."""
    at, shift = from_local(policy.schedule.time, tz, on)
    moved = shift_policy(policy, shift)
    return replace(moved, schedule=replace(moved.schedule, times=(at,)))


def policy_in_zone(policy: Policy, tz: str | ZoneInfo, on: date | None = None) -> tuple[LocalTime, Policy]:
    """The stored policy's local time, and the policy with its weekdays as a user in ``tz`` reads them."""
    local = to_local(policy.schedule.time, tz, on)
    return local, shift_policy(policy, local.day_shift)


def describe_schedule(policy: Policy | Schedule, tz: str | ZoneInfo = "UTC", on: date | None = None) -> str:
    """``Daily at 22:30 (UTC+01:00)`` or ``Weekly on Sunday, Wednesday at 22:00 (UTC-05:00)``, in the user's terms."""
    schedule = _schedule(policy)
    local, weekdays = schedule_in_zone(schedule, tz, on)
    if schedule.frequency == Frequency.DAILY:
        return _("Daily at %(time)s") % {"time": local.label}
    return _("Weekly on %(days)s at %(time)s") % {"days": ", ".join(weekday_names(weekdays)), "time": local.label}
