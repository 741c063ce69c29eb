"""A policy's stored form: the JSON-able dict that ``Policy.definition`` holds, and back.

Lists are sorted, so equal policies store equal JSON, and ``policy_from_dict(policy_to_dict(p)) == p`` holds for
any policy, valid or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time

from vaults.policy.rules import (
    DailyRetention,
    DayChoice,
    DayOfMonth,
    Frequency,
    MonthlyRetention,
    Policy,
    RetentionRange,
    Schedule,
    Week,
    Weekday,
    WeekdayOfMonth,
    WeeklyRetention,
    YearlyRetention,
)

FORMAT_VERSION = 1


def _time_str(t: time) -> str:
    return t.isoformat(timespec="minutes") if not (t.second or t.microsecond) else t.isoformat()


def _day_names(days: Iterable[Weekday]) -> list[str]:
    return [d.name.lower() for d in sorted(days)]


def _day_values(names: Iterable[str]) -> frozenset[Weekday]:
    return frozenset(Weekday[n.upper()] for n in names)


def _choice_to_dict(on: DayChoice) -> dict:
    if isinstance(on, DayOfMonth):
        return {"day": on.day}
    return {"week": on.week.value, "weekdays": _day_names(on.weekdays)}


def _choice_from_dict(data: dict) -> DayChoice:
    if "day" in data:
        return DayOfMonth(data["day"])
    return WeekdayOfMonth(Week(data["week"]), _day_values(data["weekdays"]))


def range_to_dict(r: RetentionRange) -> dict:
    data: dict = {"kind": r.kind, "count": r.count}
    if isinstance(r, WeeklyRetention):
        data["weekdays"] = _day_names(r.weekdays)
    if isinstance(r, YearlyRetention):
        data["months"] = sorted(r.months)
    if isinstance(r, MonthlyRetention | YearlyRetention):
        data["on"] = _choice_to_dict(r.on)
    return data


def range_from_dict(data: dict) -> RetentionRange:
    kind, count = data["kind"], data["count"]
    if kind == "daily":
        return DailyRetention(count)
    if kind == "weekly":
        return WeeklyRetention(count, _day_values(data["weekdays"]))
    if kind == "monthly":
        return MonthlyRetention(count, _choice_from_dict(data["on"]))
    if kind == "yearly":
        return YearlyRetention(count, frozenset(data["months"]), _choice_from_dict(data["on"]))
    raise ValueError(f"unknown retention range kind {kind!r}")


def policy_to_dict(policy: Policy) -> dict:
    return {
        "version": FORMAT_VERSION,
        "name": policy.name,
        "schedule": {
            "frequency": policy.schedule.frequency.value,
            "times": [_time_str(t) for t in policy.schedule.times],
            "weekdays": _day_names(policy.schedule.weekdays),
        },
        "retention": [range_to_dict(r) for r in policy.retention],
    }


def policy_from_dict(data: dict) -> Policy:
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported policy format version {data.get('version')!r}")
    schedule = data["schedule"]
    return Policy(
        name=data["name"],
        schedule=Schedule(Frequency(schedule["frequency"]), tuple(time.fromisoformat(t) for t in schedule["times"]),
                          _day_values(schedule["weekdays"])),
        retention=tuple(range_from_dict(r) for r in data["retention"]),
    )
