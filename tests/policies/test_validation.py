"""Every policy rule of PORTAL.md refuses bad input with its own message."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest
from hypothesis import given, settings

from tests.policies.strategies import portal_example, valid_policies
from vaults.policy.defaults import default_policy
from vaults.policy.rules import (
    LAST,
    DailyRetention,
    DayOfMonth,
    Frequency,
    MonthlyRetention,
    Policy,
    PolicyError,
    PolicyInvalid,
    Schedule,
    Week,
    Weekday,
    WeekdayOfMonth,
    WeeklyRetention,
    YearlyRetention,
    check,
    name_taken_error,
    validate,
)

SUN, MON, WED = Weekday.SUNDAY, Weekday.MONDAY, Weekday.WEDNESDAY


def weekly_policy(*ranges, days=frozenset({SUN, WED})) -> Policy:
    return Policy("Weekly", Schedule.weekly(time(1, 0), days), ranges or (WeeklyRetention(12, days),))


def only_error(policy: Policy, taken: tuple[str, ...] = ()) -> PolicyError:
    errors = validate(policy, taken)
    assert len(errors) == 1, errors
    return errors[0]


def with_name(name: str) -> Policy:
    return replace(portal_example(), name=name)


def test_portal_example_is_valid():
    assert validate(portal_example()) == []


def test_default_policy_is_daily_at_night_keeping_30_days():
    policy = default_policy()
    assert validate(policy) == []
    assert policy.name == "DefaultPolicy"
    assert policy.schedule == Schedule.daily(time(22, 30))
    assert policy.retention == (DailyRetention(30),)


def test_default_policy_is_at_night_in_the_owners_zone():
    from datetime import date

    assert default_policy("America/New_York", date(2026, 1, 15)).schedule.time == time(3, 30)
    assert default_policy("Europe/London", date(2026, 7, 15)).schedule.time == time(21, 30)
    # +05:45: 22:30 local is 16:45 UTC, moved back to the half hour so it can be stored.
    kathmandu = default_policy("Asia/Kathmandu", date(2026, 1, 15))
    assert kathmandu.schedule.time == time(16, 30)
    assert validate(kathmandu) == []


# --- Name ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["abc", "A" * 150, "a1-b2", "Weekly-Sunday-2"])
def test_name_accepts_letters_digits_and_inner_hyphens(name):
    assert validate(with_name(name)) == []


@pytest.mark.parametrize("name", ["ab", "a" * 151])
def test_name_refuses_wrong_length(name):
    assert only_error(with_name(name)) == PolicyError(
        "name", "name_length", f"The policy name must be 3 to 150 characters long; it has {len(name)}.")


def test_name_refuses_empty():
    assert only_error(with_name("")).message == "The policy name must be 3 to 150 characters long; it has 0."


@pytest.mark.parametrize("name", ["1abc", "-abc", "Éabc"])
def test_name_must_start_with_a_letter(name):
    errors = validate(with_name(name))
    assert PolicyError("name", "name_start", "The policy name must start with a letter (A to Z).") in errors


def test_name_refuses_other_characters_naming_them():
    assert only_error(with_name("my policy_1.x")) == PolicyError(
        "name", "name_characters", "The policy name may hold only letters, digits and hyphens: remove the spaces, '.', '_'.")


def test_name_must_end_with_a_letter_or_digit():
    assert only_error(with_name("weekly-")) == PolicyError(
        "name", "name_end", "The policy name must end with a letter or a digit: remove the final hyphen.")


def test_name_taken_in_the_vault_ignores_case():
    assert only_error(portal_example("Gold"), taken=("gold", "Silver")) == PolicyError(
        "name", "name_taken", "A policy named 'Gold' already exists in this vault: choose another name.")
    assert name_taken_error("Gold").message == "A policy named 'Gold' already exists in this vault: choose another name."


# --- Schedule ----------------------------------------------------------------

def test_schedule_needs_a_time():
    policy = replace(portal_example(), schedule=Schedule(Frequency.DAILY, ()))
    assert only_error(policy) == PolicyError("schedule.time", "time_required", "Choose the time of day the backup runs.")


@pytest.mark.parametrize("times", [(time(1, 0), time(13, 0)), (time(1, 0), time(1, 0))])
def test_schedule_runs_once_a_day_at_most(times):
    policy = replace(portal_example(), schedule=Schedule(Frequency.DAILY, times))
    assert only_error(policy) == PolicyError(
        "schedule.time", "once_a_day", "A policy backs up at most once a day: keep a single backup time.")


@pytest.mark.parametrize(("at", "shown"), [(time(22, 15), "22:15:00"), (time(22, 0, 30), "22:00:30"), (time(0, 59), "00:59:00")])
def test_schedule_time_on_a_30_minute_boundary(at, shown):
    policy = replace(portal_example(), schedule=Schedule.daily(at))
    assert only_error(policy) == PolicyError(
        "schedule.time", "time_boundary",
        f"The backup time must be on the hour or the half hour (such as 22:00 or 22:30), not {shown}.")


def test_weekly_schedule_needs_a_weekday():
    policy = Policy("Weekly", Schedule.weekly(time(1, 0), ()), (WeeklyRetention(4, {SUN}),))
    assert only_error(policy) == PolicyError(
        "schedule.weekdays", "weekdays_required", "A weekly schedule needs at least one day: choose the days the backup runs.")


def test_daily_schedule_takes_no_weekdays():
    policy = replace(portal_example(), schedule=Schedule(Frequency.DAILY, (time(1, 0),), {SUN}))
    assert only_error(policy) == PolicyError(
        "schedule.weekdays", "daily_weekdays",
        "A daily schedule runs every day: clear the chosen days, or make the schedule weekly.")


# --- Retention: shape rules ---------------------------------------------------

def test_at_most_one_range_of_each_kind():
    policy = replace(portal_example(), retention=(DailyRetention(30), DailyRetention(7)))
    assert only_error(policy) == PolicyError(
        "retention.daily", "duplicate_range", "A policy has at most one daily retention range: remove the extra one.")


def test_daily_schedule_requires_daily_retention():
    policy = replace(portal_example(), retention=(WeeklyRetention(104, {SUN}),))
    assert only_error(policy) == PolicyError(
        "retention.daily", "daily_required", "A daily schedule requires daily retention: keep daily points for 1 to 366 days.")


def test_weekly_schedule_forbids_daily_retention():
    policy = weekly_policy(DailyRetention(30), WeeklyRetention(4, {SUN, WED}))
    assert only_error(policy) == PolicyError(
        "retention.daily", "weekly_forbids_daily",
        "A weekly schedule cannot have daily retention: remove it and keep points with weekly retention.")


def test_weekly_schedule_requires_weekly_retention():
    policy = weekly_policy(MonthlyRetention(12, WeekdayOfMonth(Week.LAST, {SUN})))
    assert only_error(policy) == PolicyError(
        "retention.weekly", "weekly_required",
        "A weekly schedule requires weekly retention: keep the weekly points for 1 to 260 weeks.")


@pytest.mark.parametrize("form", [MonthlyRetention(12, DayOfMonth(1)), YearlyRetention(5, {1}, DayOfMonth(LAST))])
def test_weekly_schedule_forbids_day_of_month_forms(form):
    error = only_error(weekly_policy(WeeklyRetention(4, {SUN, WED}), form))
    assert error == PolicyError(
        f"retention.{form.kind}.on", "weekly_day_of_month",
        f"A weekly schedule cannot keep {form.kind} points by day of the month, because no backup may run on that day: "
        f"choose a week and a weekday instead (such as Last Sunday).")


def test_weekly_retention_days_equal_the_schedule_days():
    policy = weekly_policy(WeeklyRetention(4, {SUN}))
    assert only_error(policy) == PolicyError(
        "retention.weekly.weekdays", "weekly_days_match",
        "Weekly retention must keep the days the schedule runs on (Wednesday, Sunday): choose exactly those days.")


def test_daily_schedule_keeps_weekly_points_on_any_weekday():
    policy = replace(portal_example(), retention=(DailyRetention(7), WeeklyRetention(4, {MON, WED})))
    assert validate(policy) == []


@pytest.mark.parametrize("kind", ["monthly", "yearly"])
def test_monthly_and_yearly_weekdays_are_a_subset_of_the_schedule_days(kind):
    on = WeekdayOfMonth(Week.FIRST, {SUN, MON})
    form = MonthlyRetention(12, on) if kind == "monthly" else YearlyRetention(3, {1, 7}, on)
    assert only_error(weekly_policy(WeeklyRetention(4, {SUN, WED}), form)) == PolicyError(
        f"retention.{kind}.on", "weekday_subset",
        f"{kind.title()} retention can keep only days the schedule runs on (Wednesday, Sunday): remove Monday.")


def test_weekly_schedule_accepts_weekday_forms_on_schedule_days():
    policy = weekly_policy(WeeklyRetention(104, {SUN, WED}), MonthlyRetention(120, WeekdayOfMonth(Week.LAST, {SUN})),
                           YearlyRetention(99, {1}, WeekdayOfMonth(Week.FIRST, {SUN, WED})))
    assert validate(policy) == []


# --- Retention: each range's limits ---------------------------------------------

def _with_range(kind: str, count) -> Policy:
    ranges = {r.kind: r for r in portal_example().retention}
    ranges[kind] = replace(ranges[kind], count=count)
    return replace(portal_example(), retention=tuple(ranges.values()))


@pytest.mark.parametrize(("kind", "limit", "unit"), [("daily", 366, "days"), ("weekly", 260, "weeks"),
                                                     ("monthly", 120, "months"), ("yearly", 99, "years")])
def test_each_range_keeps_points_within_its_limits(kind, limit, unit):
    assert validate(_with_range(kind, 1)) == []
    assert validate(_with_range(kind, limit)) == []
    expected = PolicyError(f"retention.{kind}.count", f"{kind}_count",
                           f"{kind.title()} retention keeps points for 1 to {limit} {unit}: enter a whole number in that range.")
    for bad in (0, -1, limit + 1, True, 2.5, None):
        assert only_error(_with_range(kind, bad)) == expected


def test_weekly_retention_needs_a_weekday():
    policy = replace(portal_example(), retention=(DailyRetention(30), WeeklyRetention(104, ())))
    assert only_error(policy) == PolicyError(
        "retention.weekly.weekdays", "weekday_required", "Choose at least one day of the week for weekly retention.")


@pytest.mark.parametrize("kind", ["monthly", "yearly"])
def test_weekday_form_needs_a_weekday(kind):
    on = WeekdayOfMonth(Week.LAST, ())
    form = MonthlyRetention(12, on) if kind == "monthly" else YearlyRetention(3, {1}, on)
    policy = replace(portal_example(), retention=(DailyRetention(30), form))
    assert only_error(policy) == PolicyError(
        f"retention.{kind}.on", "weekday_required", f"Choose at least one weekday for {kind} retention (such as Last Sunday).")


@pytest.mark.parametrize("day", [1, 28, LAST])
def test_day_of_month_form_accepts_1_to_28_and_last(day):
    policy = replace(portal_example(), retention=(DailyRetention(30), MonthlyRetention(12, DayOfMonth(day)),
                                                  YearlyRetention(2, {2}, DayOfMonth(day))))
    assert validate(policy) == []


@pytest.mark.parametrize("day", [0, 29, 31, "first", True])
def test_day_of_month_form_refuses_days_that_not_every_month_has(day):
    policy = replace(portal_example(), retention=(DailyRetention(30), MonthlyRetention(12, DayOfMonth(day))))
    assert only_error(policy) == PolicyError(
        "retention.monthly.on", "day_of_month",
        "Choose a day of the month from 1 to 28, or Last: days 29 to 31 do not occur in every month.")


def test_yearly_retention_needs_a_month():
    policy = replace(portal_example(), retention=(DailyRetention(30), YearlyRetention(5, (), DayOfMonth(1))))
    assert only_error(policy) == PolicyError(
        "retention.yearly.months", "months_required", "Choose at least one month of the year for yearly retention.")


@pytest.mark.parametrize("month", [0, 13])
def test_yearly_months_run_from_january_to_december(month):
    policy = replace(portal_example(), retention=(DailyRetention(30), YearlyRetention(5, {1, month}, DayOfMonth(1))))
    assert only_error(policy) == PolicyError(
        "retention.yearly.months", "month_range", "Months of the year run from 1 (January) to 12 (December).")


# --- Reporting ---------------------------------------------------------------

def test_every_error_is_reported_at_once():
    policy = Policy("1-", Schedule(Frequency.WEEKLY, (time(1, 10),), ()), (DailyRetention(400),))
    codes = [e.code for e in validate(policy)]
    assert codes == ["name_length", "name_start", "name_end", "time_boundary", "weekdays_required",
                     "weekly_forbids_daily", "weekly_required", "daily_count"]


def test_check_raises_with_messages_keyed_by_field():
    assert check(portal_example()) == portal_example()
    with pytest.raises(PolicyInvalid) as caught:
        check(weekly_policy(WeeklyRetention(0, {SUN})), taken_names=["weekly"])
    assert caught.value.message_dict == {
        "name": ["A policy named 'Weekly' already exists in this vault: choose another name."],
        "retention.weekly.count": ["Weekly retention keeps points for 1 to 260 weeks: enter a whole number in that range."],
        "retention.weekly.weekdays": [
            "Weekly retention must keep the days the schedule runs on (Wednesday, Sunday): choose exactly those days."],
    }


def test_every_message_is_a_sentence_saying_what_to_do():
    policies = [
        Policy("1 _-", Schedule(Frequency.WEEKLY, (time(1, 10), time(2, 0)), ()),
               (DailyRetention(0), DailyRetention(0), MonthlyRetention(0, DayOfMonth(30)),
                YearlyRetention(0, {0}, WeekdayOfMonth(Week.LAST, ())))),
        Policy("", Schedule(Frequency.DAILY, (), {SUN}), (WeeklyRetention(0, ()), YearlyRetention(1, (), DayOfMonth(1)))),
        weekly_policy(WeeklyRetention(1, {MON}), MonthlyRetention(1, WeekdayOfMonth(Week.LAST, {MON}))),
    ]
    errors = [e for p in policies for e in validate(p, taken_names=[p.name])]
    assert len({e.code for e in errors}) >= 20
    for error in errors:
        assert error.message[0].isupper() and error.message.endswith("."), error
        assert error.field == "name" or error.field.startswith(("schedule.", "retention.")), error


@settings(max_examples=100, deadline=None)
@given(valid_policies())
def test_every_policy_built_by_the_rules_is_valid(policy):
    assert validate(policy) == []
