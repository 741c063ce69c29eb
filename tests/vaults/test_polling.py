"""Polling the fabric: quick operations are seen at once, slow ones are not asked about more often than set."""

from __future__ import annotations

from itertools import islice

from vaults.cloud.polling import poll_delays


def test_polls_start_short_and_double_up_to_the_setting(settings):
    settings.FABRIC_POLL_SECONDS = 0.5
    assert list(islice(poll_delays(), 8)) == [0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5]


def test_a_setting_below_the_first_pause_is_kept(settings):
    settings.FABRIC_POLL_SECONDS = 0.01
    assert list(islice(poll_delays(), 3)) == [0.01, 0.01, 0.01]
