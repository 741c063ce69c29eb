"""The stored form: a JSON-able dict that round-trips exactly."""

from __future__ import annotations

import json
from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policies.strategies import portal_example, valid_policies
from vaults.policy.defaults import default_policy
from vaults.policy.rules import (
    LAST,
    DayOfMonth,
    Frequency,
    MonthlyRetention,
    Policy,
    Schedule,
    validate,
)
from vaults.policy.stored import policy_from_dict, policy_to_dict


def test_portal_example_stored_form():
    assert policy_to_dict(portal_example()) == {
        "version": 1,
        "name": "Example-Policy",
        "schedule": {"frequency": "daily", "times": ["22:30"], "weekdays": []},
        "retention": [
            {"kind": "daily", "count": 30},
            {"kind": "weekly", "count": 104, "weekdays": ["sunday"]},
            {"kind": "monthly", "count": 120, "on": {"week": "last", "weekdays": ["sunday"]}},
            {"kind": "yearly", "count": 99, "months": [1], "on": {"week": "first", "weekdays": ["sunday"]}},
        ],
    }


def test_day_of_month_forms_are_stored_as_numbers_or_last():
    policy = Policy("Month-end", Schedule.daily(time(0, 0)), (MonthlyRetention(3, DayOfMonth(LAST)),
                                                              MonthlyRetention(3, DayOfMonth(15))))
    assert [r["on"] for r in policy_to_dict(policy)["retention"]] == [{"day": "last"}, {"day": 15}]


@pytest.mark.parametrize("policy", [portal_example(), default_policy()])
def test_round_trip_through_json(policy):
    stored = json.loads(json.dumps(policy_to_dict(policy)))
    assert policy_from_dict(stored) == policy
    assert policy_to_dict(policy_from_dict(stored)) == stored


def test_even_an_invalid_policy_round_trips_so_the_editor_can_show_it_again():
    policy = Policy("x", Schedule(Frequency.WEEKLY, (time(1, 15, 30), time(2, 0)), ()), ())
    assert validate(policy)
    assert policy_from_dict(json.loads(json.dumps(policy_to_dict(policy)))) == policy


def test_unknown_format_version_is_refused():
    stored = policy_to_dict(portal_example()) | {"version": 2}
    with pytest.raises(ValueError, match="unsupported policy format version 2"):
        policy_from_dict(stored)


def test_unknown_range_kind_is_refused():
    stored = policy_to_dict(portal_example())
    stored["retention"].append({"kind": "hourly", "count": 3})
    with pytest.raises(ValueError, match="unknown retention range kind 'hourly'"):
        policy_from_dict(stored)


@settings(max_examples=80, deadline=None)
@given(valid_policies(), st.data())
def test_any_valid_policy_round_trips(policy, data):
    stored = policy_to_dict(policy)
    again = json.loads(json.dumps(stored))
    assert policy_from_dict(again) == policy
    assert policy_to_dict(policy_from_dict(again)) == stored
