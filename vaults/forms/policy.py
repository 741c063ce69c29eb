"""The policy editor's fields: read a posted form into a policy, and a stored policy back into fields.

The editor works in the user's local terms (weekdays as they read them); the
time list's values are the storable UTC times (``local_time_choices``), so a
local choice is always on a 30-minute boundary in UTC. A policy is stored with
its weekdays moved by the day the UTC time falls on (``shift_policy``), and
shown back with ``policy_in_zone``. Validation is ``vaults.policy.rules``'s alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from vaults.policy import retention, rules
from vaults.policy.defaults import default_policy
from vaults.policy.schedule import local_label, local_time_choices, policy_in_zone, shift_policy, to_local

WEEKDAYS = [(d.value, rules.WEEKDAY_NAMES[d.value]) for d in rules.Weekday]
MONTHS = list(enumerate(rules.MONTH_NAMES, start=1))
DAYS_OF_MONTH = [(str(d), str(d)) for d in range(1, 29)] + [("last", gettext_lazy("Last"))]
WEEKS = list(zip([w.value for w in rules.Week], (gettext_lazy("First"), gettext_lazy("Second"), gettext_lazy("Third"),
                                                 gettext_lazy("Fourth"), pgettext_lazy("week", "Last")), strict=True))
KINDS = ("daily", "weekly", "monthly", "yearly")
PREVIEW_ROWS = 12


@dataclass
class Fields:
    """The editor's values, as strings and sets the template renders back."""

    name: str = ""
    frequency: str = "daily"
    time: str = "22:30"  # UTC value of the time list
    sched_days: set[int] = field(default_factory=set)
    on: set[str] = field(default_factory=lambda: {"daily"})
    daily_count: str = "30"
    weekly_count: str = "4"
    weekly_days: set[int] = field(default_factory=set)
    monthly_count: str = "12"
    monthly_form: str = "weekday"
    monthly_day: str = "1"
    monthly_week: str = "last"
    monthly_weekdays: set[int] = field(default_factory=set)
    yearly_count: str = "10"
    yearly_months: set[int] = field(default_factory=lambda: {1})
    yearly_form: str = "weekday"
    yearly_day: str = "1"
    yearly_week: str = "first"
    yearly_weekdays: set[int] = field(default_factory=set)


def _ints(data: QueryDict, name: str) -> set[int]:
    return {int(v) for v in data.getlist(name) if v.strip().lstrip("-").isdigit()}


def read(data: QueryDict) -> Fields:
    return Fields(
        name=data.get("name", "").strip(), frequency=data.get("frequency", "daily"), time=data.get("time", ""),
        sched_days=_ints(data, "sched_days"), on={k for k in KINDS if data.get(f"{k}_on")},
        daily_count=data.get("daily_count", ""), weekly_count=data.get("weekly_count", ""),
        weekly_days=_ints(data, "weekly_days"), monthly_count=data.get("monthly_count", ""),
        monthly_form=data.get("monthly_form", "weekday"), monthly_day=data.get("monthly_day", "1"),
        monthly_week=data.get("monthly_week", "last"), monthly_weekdays=_ints(data, "monthly_weekdays"),
        yearly_count=data.get("yearly_count", ""), yearly_months=_ints(data, "yearly_months"),
        yearly_form=data.get("yearly_form", "weekday"), yearly_day=data.get("yearly_day", "1"),
        yearly_week=data.get("yearly_week", "first"), yearly_weekdays=_ints(data, "yearly_weekdays"),
    )


def _count(value: str) -> int | str:
    value = value.strip()
    return int(value) if value.isdigit() else value  # validation words anything else


def _day_choice(form: str, day: str, week: str, weekdays: set[int]) -> rules.DayChoice:
    if form == "day":
        return rules.DayOfMonth("last" if day == "last" else int(day) if day.isdigit() else 0)
    return rules.WeekdayOfMonth(rules.Week(week if week in rules.Week._value2member_map_ else "last"), weekdays)


def _utc_time(value: str) -> time | None:
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


def to_policy(f: Fields, tz: ZoneInfo, on: date | None = None) -> rules.Policy:
    """The policy as stored (UTC time, weekdays moved with the UTC date) from the local fields."""
    at = _utc_time(f.time)
    frequency = rules.Frequency.WEEKLY if f.frequency == "weekly" else rules.Frequency.DAILY
    days = f.sched_days if frequency == rules.Frequency.WEEKLY else set()
    schedule = rules.Schedule(frequency, (at,) if at else (), days)
    ranges: list[rules.RetentionRange] = []
    if "daily" in f.on:
        ranges.append(rules.DailyRetention(_count(f.daily_count)))
    if "weekly" in f.on:
        ranges.append(rules.WeeklyRetention(_count(f.weekly_count), f.weekly_days))
    if "monthly" in f.on:
        ranges.append(rules.MonthlyRetention(_count(f.monthly_count), _day_choice(
            f.monthly_form, f.monthly_day, f.monthly_week, f.monthly_weekdays)))
    if "yearly" in f.on:
        ranges.append(rules.YearlyRetention(_count(f.yearly_count), f.yearly_months, _day_choice(
            f.yearly_form, f.yearly_day, f.yearly_week, f.yearly_weekdays)))
    local = rules.Policy(f.name, schedule, tuple(ranges))
    shift = to_local(at, tz, on).day_shift if at else 0  # local date minus UTC date
    return shift_policy(local, -shift)


def from_policy(policy: rules.Policy, tz: ZoneInfo, on: date | None = None) -> Fields:
    """The fields that show a stored policy in the user's terms."""
    _local, seen = policy_in_zone(policy, tz, on)
    f = Fields(name=policy.name, frequency=policy.schedule.frequency.value,
               time=policy.schedule.time.strftime("%H:%M") if policy.schedule.times else "",
               sched_days={d.value for d in seen.schedule.weekdays}, on={r.kind for r in seen.retention})
    for r in seen.retention:
        setattr(f, f"{r.kind}_count", str(r.count))
        if isinstance(r, rules.WeeklyRetention):
            f.weekly_days = {d.value for d in r.weekdays}
        if isinstance(r, rules.YearlyRetention):
            f.yearly_months = set(r.months)
        if isinstance(r, rules.MonthlyRetention | rules.YearlyRetention):
            if isinstance(r.on, rules.DayOfMonth):
                setattr(f, f"{r.kind}_form", "day")
                setattr(f, f"{r.kind}_day", str(r.on.day))
            else:
                setattr(f, f"{r.kind}_form", "weekday")
                setattr(f, f"{r.kind}_week", r.on.week.value)
                setattr(f, f"{r.kind}_weekdays", {d.value for d in r.on.weekdays})
    return f


def errors_by_field(errors: list[rules.PolicyError]) -> dict[str, list[str]]:
    """``schedule.time`` → ``schedule_time``: keys a template can look up."""
    result: dict[str, list[str]] = {}
    for error in errors:
        result.setdefault(error.field.replace(".", "_"), []).append(error.message)
    return result


def time_choices(tz: ZoneInfo) -> list[tuple[str, str]]:
    return [(utc.strftime("%H:%M"), local.label) for utc, local in local_time_choices(tz)]


@dataclass
class PreviewSummary:
    """What a year of scheduled backups under the policy keeps: per range, the first rows, and what is held."""

    total: int
    per_range: list[tuple[str, int, str]]  # (range, points it keeps longest, kept until ...)
    rows: list[dict[str, str]]  # the first points a range longer than the base keeps: label, kept_by, until
    held_at_end: int
    end_label: str
    rows_caption: str = ""


def summarise(policy: rules.Policy, tz: ZoneInfo, start: date | None = None) -> PreviewSummary:
    start = start or datetime.now(UTC).date()
    result = retention.preview(policy, start, days=365, tz=tz)
    per_range = []
    for kind in KINDS:
        points = [p for p in result.points if p.kept_by == kind]
        if points:
            last = max(p.expires for p in points)
            per_range.append((rules.kind_word(kind, start=True), len(points), local_label(last, tz)[:10]))
    base = retention.base_range(policy)
    interesting = result.beyond(base.kind) if base is not None else result.points
    rows = [{"label": p.label, "kept_by": ", ".join(rules.kind_word(k, start=True) for k in p.selected_by),
             "until": local_label(p.expires, tz)[:10]} for p in (interesting or result.points)[:PREVIEW_ROWS]]
    end = datetime.combine(start, time(0), tzinfo=UTC) + timedelta(days=365)
    caption = (_("The first %(count)s backups kept longer than the %(kind)s range:")
               % {"count": len(rows), "kind": rules.kind_word(base.kind)} if interesting and base
               else _("The first %(count)s backups:") % {"count": len(rows)})
    return PreviewSummary(len(result.points), per_range, rows, len(result.held_at(end)), local_label(end, tz)[:10],
                          caption)


# Every place a message can show; the live preview refreshes each one (clearing those that no longer apply).
ERROR_KEYS = ("name", "schedule_time", "schedule_weekdays", "retention_daily", "retention_daily_count",
              "retention_weekly", "retention_weekly_count", "retention_weekly_weekdays", "retention_monthly",
              "retention_monthly_count", "retention_monthly_on", "retention_yearly", "retention_yearly_count",
              "retention_yearly_months", "retention_yearly_on")


def error_slots(errors: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    return [(key, errors.get(key, [])) for key in ERROR_KEYS]


def month_ranges(f: Fields) -> list[tuple]:
    """The monthly and yearly ranges' values, so one template block renders both."""
    return [("monthly", f.monthly_form, f.monthly_day, f.monthly_week, f.monthly_weekdays, f.monthly_count,
             rules.MonthlyRetention.limit, gettext_lazy("months")),
            ("yearly", f.yearly_form, f.yearly_day, f.yearly_week, f.yearly_weekdays, f.yearly_count,
             rules.YearlyRetention.limit, gettext_lazy("years"))]


def editor_choices(tz: ZoneInfo, f: Fields) -> dict:
    return {"time_choices": time_choices(tz), "weekdays": WEEKDAYS, "months": MONTHS, "days_of_month": DAYS_OF_MONTH,
            "weeks": WEEKS, "month_ranges": month_ranges(f), "tz": tz.key}


def new_fields(tz: ZoneInfo) -> Fields:
    """A new policy's starting values: DefaultPolicy's, at night in the user's zone, without its name."""
    fields = from_policy(default_policy(tz), tz)
    fields.name = ""
    return fields
