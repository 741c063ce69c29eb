"""DefaultPolicy, the policy every new vault starts with."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from vaults.policy.rules import DailyRetention, Policy, Schedule
from vaults.policy.schedule import from_local

DEFAULT_POLICY_NAME = "DefaultPolicy"
DEFAULT_LOCAL_TIME = time(22, 30)  # "at night" for whoever creates the vault
DEFAULT_RETENTION_DAYS = 30


def default_policy(tz: str | ZoneInfo = "UTC", on: date | None = None) -> Policy:
    """DefaultPolicy: daily at 22:30 in ``tz`` (standing on date ``on``), daily retention 30 days.

    With the default ``tz`` the schedule is 22:30 UTC. In a zone whose offset is
    not a whole half hour (Nepal, +05:45) the time is moved back to the half hour
    before, because the stored UTC time must sit on a 30-minute boundary.
    """
    at, _ = from_local(DEFAULT_LOCAL_TIME, tz, on)  # daily: the weekday move does not matter
    at = at.replace(minute=0 if at.minute < 30 else 30)
    return Policy(DEFAULT_POLICY_NAME, Schedule.daily(at), (DailyRetention(DEFAULT_RETENTION_DAYS),))
