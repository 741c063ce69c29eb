"""Backup policies: schedule, retention ranges, validation and their stored form.

Plain Python on purpose: the Django model keeps ``policy_to_dict()`` in a
JSONField, and the policy editor, the protect wizard and the admin all call
``validate()``, so every rule and message of PORTAL.md lives here once.
(Django's translation functions are the one exception: the messages are worded in the reader's language.)

Calendar conventions (PORTAL.md says "stored in UTC"): the schedule time and
every calendar choice (schedule weekdays, retention weekdays, days of the
month, months of the year) refer to the UTC date of a backup slot. The editor
converts a user's local choice with ``vaults.policy.schedule.shift_policy()``,
which also moves the weekdays when the local evening is already tomorrow in
UTC, and shows the stored schedule back with ``schedule_in_zone()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from enum import IntEnum, StrEnum
from typing import ClassVar, Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

# The words a message puts a range's kind and unit in; at the start of a sentence they are capitalized.
_KIND_WORDS = {"daily": pgettext_lazy("retention", "daily"), "weekly": pgettext_lazy("retention", "weekly"),
               "monthly": pgettext_lazy("retention", "monthly"), "yearly": pgettext_lazy("retention", "yearly")}
_UNIT_WORDS = {"days": gettext_lazy("days"), "weeks": gettext_lazy("weeks"), "months": gettext_lazy("months"),
               "years": gettext_lazy("years")}


def kind_word(kind: str, *, start: bool = False) -> str:
    word = str(_KIND_WORDS.get(kind, kind))
    return word[:1].upper() + word[1:] if start else word


# Names as a reader sees them (the enums' own names stay the stored form).
WEEKDAY_NAMES = (gettext_lazy("Monday"), gettext_lazy("Tuesday"), gettext_lazy("Wednesday"), gettext_lazy("Thursday"),
                 gettext_lazy("Friday"), gettext_lazy("Saturday"), gettext_lazy("Sunday"))
MONTH_NAMES = (gettext_lazy("January"), gettext_lazy("February"), gettext_lazy("March"), gettext_lazy("April"),
               gettext_lazy("May"), gettext_lazy("June"), gettext_lazy("July"), gettext_lazy("August"),
               gettext_lazy("September"), gettext_lazy("October"), gettext_lazy("November"),
               gettext_lazy("December"))
WEEK_WORDS = {"first": gettext_lazy("first"), "second": gettext_lazy("second"), "third": gettext_lazy("third"),
              "fourth": gettext_lazy("fourth"), "last": pgettext_lazy("week", "last")}


def weekday_names(days: Iterable[int]) -> list[str]:
    return [str(WEEKDAY_NAMES[int(day)]) for day in sorted(days)]


class Weekday(IntEnum):
    """Numbered like ``date.weekday()`` so a date's weekday is ``Weekday(d.weekday())``."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6

    @property
    def label(self) -> str:
        return self.name.title()


ALL_WEEKDAYS = frozenset(Weekday)


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class Week(StrEnum):
    """Which occurrence of a weekday in its month."""

    FIRST = "first"
    SECOND = "second"
    THIRD = "third"
    FOURTH = "fourth"
    LAST = "last"


LAST: Literal["last"] = "last"


def _weekdays(values: Iterable[int]) -> frozenset[Weekday]:
    return frozenset(Weekday(v) for v in values)


@dataclass(frozen=True)
class DayOfMonth:
    """Day-of-month form: a day 1-28, or ``LAST`` (29-31 do not occur every month)."""

    day: int | Literal["last"]


@dataclass(frozen=True)
class WeekdayOfMonth:
    """Weekday form: First/Second/Third/Fourth/Last + one or more weekdays."""

    week: Week
    weekdays: frozenset[Weekday]

    def __post_init__(self) -> None:
        object.__setattr__(self, "week", Week(self.week))
        object.__setattr__(self, "weekdays", _weekdays(self.weekdays))


DayChoice = DayOfMonth | WeekdayOfMonth


@dataclass(frozen=True)
class DailyRetention:
    kind: ClassVar[str] = "daily"
    limit: ClassVar[int] = 366
    unit: ClassVar[str] = "days"
    count: int


@dataclass(frozen=True)
class WeeklyRetention:
    kind: ClassVar[str] = "weekly"
    limit: ClassVar[int] = 260
    unit: ClassVar[str] = "weeks"
    count: int
    weekdays: frozenset[Weekday]

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", _weekdays(self.weekdays))


@dataclass(frozen=True)
class MonthlyRetention:
    kind: ClassVar[str] = "monthly"
    limit: ClassVar[int] = 120
    unit: ClassVar[str] = "months"
    count: int
    on: DayChoice


@dataclass(frozen=True)
class YearlyRetention:
    kind: ClassVar[str] = "yearly"
    limit: ClassVar[int] = 99
    unit: ClassVar[str] = "years"
    count: int
    months: frozenset[int]
    on: DayChoice

    def __post_init__(self) -> None:
        object.__setattr__(self, "months", frozenset(self.months))


RetentionRange = DailyRetention | WeeklyRetention | MonthlyRetention | YearlyRetention
RANGE_TYPES: dict[str, type] = {t.kind: t for t in (DailyRetention, WeeklyRetention, MonthlyRetention, YearlyRetention)}


@dataclass(frozen=True)
class Schedule:
    """When backups run. ``times`` are UTC; a list so "once a day at most" is a rule, not a shape."""

    frequency: Frequency
    times: tuple[time, ...]
    weekdays: frozenset[Weekday] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "frequency", Frequency(self.frequency))
        object.__setattr__(self, "times", tuple(self.times))
        object.__setattr__(self, "weekdays", _weekdays(self.weekdays))

    @classmethod
    def daily(cls, at: time) -> Schedule:
        return cls(Frequency.DAILY, (at,))

    @classmethod
    def weekly(cls, at: time, weekdays: Iterable[int]) -> Schedule:
        return cls(Frequency.WEEKLY, (at,), frozenset(weekdays))

    @property
    def time(self) -> time:
        return self.times[0]

    @property
    def days(self) -> frozenset[Weekday]:
        """The weekdays (UTC) the schedule runs on: all seven for a daily schedule."""
        return ALL_WEEKDAYS if self.frequency == Frequency.DAILY else self.weekdays


@dataclass(frozen=True)
class Policy:
    name: str
    schedule: Schedule
    retention: tuple[RetentionRange, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "retention", tuple(self.retention))

    def _range(self, kind: str) -> RetentionRange | None:
        return next((r for r in self.retention if r.kind == kind), None)

    @property
    def daily(self) -> DailyRetention | None:
        return self._range("daily")

    @property
    def weekly(self) -> WeeklyRetention | None:
        return self._range("weekly")

    @property
    def monthly(self) -> MonthlyRetention | None:
        return self._range("monthly")

    @property
    def yearly(self) -> YearlyRetention | None:
        return self._range("yearly")


# --- Validation ----------------------------------------------------------
# Readings of PORTAL.md where it is silent:
# - "Schedule days" of a daily schedule are all seven days. So with a daily
#   schedule weekly retention may fall on any weekdays and the subset rule
#   always holds: that is what makes the PORTAL.md example valid. "Weekly
#   retention days equal the schedule days" binds weekly schedules only.
# - A weekly schedule requires weekly retention (it may not have daily), so its
#   points always have a range of their own; a daily schedule takes no weekdays.
# - The 30-minute boundary applies to the stored UTC time; ``local_time_choices``
#   lists the matching local times (xx:15 and xx:45 in Nepal).
# - Names use ASCII letters and are unique in the vault regardless of case.

NAME_MIN, NAME_MAX = 3, 150
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9-]")


@dataclass(frozen=True)
class PolicyError:
    """One refusal: the form field it belongs to, a stable code, and a sentence saying what to do."""

    field: str
    code: str
    message: str


class PolicyInvalid(ValueError):
    """Raised by ``check()``; ``message_dict`` has the shape Django's ValidationError takes."""

    def __init__(self, errors: list[PolicyError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @property
    def message_dict(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for error in self.errors:
            result.setdefault(error.field, []).append(error.message)
        return result


def name_taken_error(name: str) -> PolicyError:
    """The caller checks uniqueness in the vault (it has the database); this is its message."""
    return PolicyError("name", "name_taken", _("A policy named '%(name)s' already exists in this vault: choose another "
                                               "name.") % {"name": name})


def _day_list(days: Iterable[Weekday]) -> str:
    return ", ".join(weekday_names(days))


def _name_errors(name: str, taken: Iterable[str]) -> list[PolicyError]:
    errors = []
    if not NAME_MIN <= len(name) <= NAME_MAX:
        errors.append(PolicyError("name", "name_length",
                                  _("The policy name must be %(min)s to %(max)s characters long; it has %(length)s.")
                                  % {"min": NAME_MIN, "max": NAME_MAX, "length": len(name)}))
    if not name:
        return errors
    if not _ASCII_LETTER.fullmatch(name[0]):
        errors.append(PolicyError("name", "name_start", _("The policy name must start with a letter (A to Z).")))
    bad = sorted(set(_NOT_ALLOWED.findall(name)))
    if bad:
        shown = ", ".join(_("the spaces") if c == " " else f"'{c}'" for c in bad)
        errors.append(PolicyError("name", "name_characters",
                                  _("The policy name may hold only letters, digits and hyphens: remove %(shown)s.")
                                  % {"shown": shown}))
    elif name[-1] == "-":
        errors.append(PolicyError("name", "name_end",
                                  _("The policy name must end with a letter or a digit: remove the final hyphen.")))
    # Names compare case-insensitively, so "Daily" and "daily" cannot both exist and confuse a reader.
    if name.casefold() in {t.casefold() for t in taken}:
        errors.append(name_taken_error(name))
    return errors


def _schedule_errors(schedule: Schedule) -> list[PolicyError]:
    errors = []
    if not schedule.times:
        errors.append(PolicyError("schedule.time", "time_required", _("Choose the time of day the backup runs.")))
    elif len(schedule.times) > 1:
        errors.append(PolicyError("schedule.time", "once_a_day",
                                  _("A policy backs up at most once a day: keep a single backup time.")))
    for at in sorted(set(schedule.times)):
        if at.minute not in (0, 30) or at.second or at.microsecond:
            errors.append(PolicyError("schedule.time", "time_boundary",
                                      _("The backup time must be on the hour or the half hour (such as 22:00 or "
                                        "22:30), not %(time)s.") % {"time": at.isoformat(timespec="seconds")}))
    if schedule.frequency == Frequency.WEEKLY and not schedule.weekdays:
        errors.append(PolicyError("schedule.weekdays", "weekdays_required",
                                  _("A weekly schedule needs at least one day: choose the days the backup runs.")))
    if schedule.frequency == Frequency.DAILY and schedule.weekdays:
        errors.append(PolicyError("schedule.weekdays", "daily_weekdays",
                                  _("A daily schedule runs every day: clear the chosen days, or make the schedule "
                                    "weekly.")))
    return errors


def _count_error(r: RetentionRange) -> list[PolicyError]:
    count = r.count
    if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= r.limit:
        return []
    return [PolicyError(f"retention.{r.kind}.count", f"{r.kind}_count",
                        _("%(kind)s retention keeps points for 1 to %(limit)s %(unit)s: enter a whole number in that "
                          "range.") % {"kind": kind_word(r.kind, start=True), "limit": r.limit,
                                       "unit": _UNIT_WORDS.get(r.unit, r.unit)})]


def _day_choice_errors(r: MonthlyRetention | YearlyRetention, schedule: Schedule) -> list[PolicyError]:
    field, on = f"retention.{r.kind}.on", r.on
    if isinstance(on, DayOfMonth):
        if on.day != LAST and not (isinstance(on.day, int) and not isinstance(on.day, bool) and 1 <= on.day <= 28):
            return [PolicyError(field, "day_of_month", _("Choose a day of the month from 1 to 28, or Last: days 29 to "
                                                         "31 do not occur in every month."))]
        if schedule.frequency == Frequency.WEEKLY:
            return [PolicyError(field, "weekly_day_of_month",
                                _("A weekly schedule cannot keep %(kind)s points by day of the month, because no "
                                  "backup may run on that day: choose a week and a weekday instead (such as Last "
                                  "Sunday).") % {"kind": kind_word(r.kind)})]
        return []
    if not on.weekdays:
        return [PolicyError(field, "weekday_required",
                            _("Choose at least one weekday for %(kind)s retention (such as Last Sunday).")
                            % {"kind": kind_word(r.kind)})]
    extra = on.weekdays - schedule.days
    if extra and schedule.days:  # with no schedule days, "weekdays_required" already says what to fix
        return [PolicyError(field, "weekday_subset",
                            _("%(kind)s retention can keep only days the schedule runs on (%(days)s): remove "
                              "%(extra)s.") % {"kind": kind_word(r.kind, start=True), "days": _day_list(schedule.days),
                                                "extra": _day_list(extra)})]
    return []


def _range_set_errors(schedule: Schedule, kinds: list[str]) -> list[PolicyError]:
    """Which ranges a policy has: each kind at most once, and those its schedule requires or forbids."""
    errors = [PolicyError(f"retention.{kind}", "duplicate_range",
                          _("A policy has at most one %(kind)s retention range: remove the extra one.")
                          % {"kind": kind_word(kind)})
              for kind in RANGE_TYPES if kinds.count(kind) > 1]
    if schedule.frequency == Frequency.DAILY and "daily" not in kinds:
        errors.append(PolicyError("retention.daily", "daily_required",
                                  _("A daily schedule requires daily retention: keep daily points for 1 to 366 "
                                    "days.")))
    if schedule.frequency == Frequency.WEEKLY:
        if "daily" in kinds:
            errors.append(PolicyError("retention.daily", "weekly_forbids_daily",
                                      _("A weekly schedule cannot have daily retention: remove it and keep points "
                                        "with weekly retention.")))
        # PORTAL.md is silent here; without it a weekly schedule's points would have no retention of their own.
        if "weekly" not in kinds:
            errors.append(PolicyError("retention.weekly", "weekly_required",
                                      _("A weekly schedule requires weekly retention: keep the weekly points for 1 "
                                        "to 260 weeks.")))
    return errors


def _range_errors(schedule: Schedule, r: RetentionRange) -> list[PolicyError]:
    """One range's own rules: its count, and the weekdays, months or days it keeps."""
    errors = _count_error(r)
    if isinstance(r, WeeklyRetention):
        if not r.weekdays:
            errors.append(PolicyError("retention.weekly.weekdays", "weekday_required",
                                      _("Choose at least one day of the week for weekly retention.")))
        elif schedule.frequency == Frequency.WEEKLY and r.weekdays != schedule.weekdays and schedule.weekdays:
            errors.append(PolicyError("retention.weekly.weekdays", "weekly_days_match",
                                      _("Weekly retention must keep the days the schedule runs on (%(days)s): "
                                        "choose exactly those days.") % {"days": _day_list(schedule.weekdays)}))
    if isinstance(r, YearlyRetention):
        if not r.months:
            errors.append(PolicyError("retention.yearly.months", "months_required",
                                      _("Choose at least one month of the year for yearly retention.")))
        elif not all(isinstance(m, int) and 1 <= m <= 12 for m in r.months):
            errors.append(PolicyError("retention.yearly.months", "month_range",
                                      _("Months of the year run from 1 (January) to 12 (December).")))
    if isinstance(r, MonthlyRetention | YearlyRetention):
        errors += _day_choice_errors(r, schedule)
    return errors


def _retention_errors(schedule: Schedule, retention: tuple[RetentionRange, ...]) -> list[PolicyError]:
    errors = _range_set_errors(schedule, [r.kind for r in retention])
    for r in retention:
        errors += _range_errors(schedule, r)
    return errors


def validate(policy: Policy, taken_names: Iterable[str] = ()) -> list[PolicyError]:
    """Every refusal for ``policy``, in form order; empty when it may be saved.

    ``taken_names`` are the other policies' names in the vault (leave out the
    policy's own name when editing it).
    """
    return (_name_errors(policy.name, taken_names) + _schedule_errors(policy.schedule)
            + _retention_errors(policy.schedule, policy.retention))


def check(policy: Policy, taken_names: Iterable[str] = ()) -> Policy:
    """``policy`` if valid, else ``PolicyInvalid`` carrying every error."""
    errors = validate(policy, taken_names)
    if errors:
        raise PolicyInvalid(errors)
    return policy
