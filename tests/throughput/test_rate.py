"""The rate and time-left arithmetic of jobs.throughput, and how the portal words them."""

from __future__ import annotations

import pytest

from jobs.throughput import KEY, Rate, bytes_moved, eta_seconds, figures, public
from portal.units import human_duration, human_rate, human_time_left

MB = 1_000_000


def feed(rate: Rate, samples: list[tuple[float, float]]) -> float | None:
    result = None
    for at, done in samples:
        result = rate.add(done, at)
    return result


def test_a_steady_transfer_gives_its_rate():
    rate = Rate()
    assert feed(rate, [(t / 2, 50 * MB * t / 2) for t in range(0, 21)]) == pytest.approx(50 * MB)


def test_the_rate_is_unknown_until_a_second_of_samples_is_in():
    rate = Rate()
    assert rate.add(0, 0.0) is None
    assert rate.add(10 * MB, 0.5) is None  # half a second: too soon to trust
    assert rate.add(20 * MB, 1.0) == pytest.approx(20 * MB)


def test_samples_closer_than_the_minimum_step_fold_into_the_next():
    rate = Rate()
    feed(rate, [(0.0, 0), (0.05, 5 * MB), (0.1, 6 * MB), (0.15, 7 * MB)])
    assert rate.value is None  # no step long enough yet
    feed(rate, [(1.0, 10 * MB)])
    assert rate.known == pytest.approx(10 * MB)  # 10 MB over the whole second, not the bursts


def test_one_slow_step_moves_the_rate_only_part_of_the_way():
    rate = Rate()
    feed(rate, [(t, 100 * MB * t) for t in range(0, 11)])
    slowed = rate.add(100 * MB * 10 + 10 * MB, 11.0)  # one second at 10 MB/s
    # weight of a 1 s step with a 3 s half-life: 1 - 0.5 ** (1/3) ~ 0.206
    assert slowed == pytest.approx(100 * MB - 0.2063 * 90 * MB, rel=1e-3)
    assert 10 * MB < slowed < 100 * MB


def test_the_rate_follows_a_lasting_change_within_a_few_half_lives():
    rate = Rate()
    feed(rate, [(t, 100 * MB * t) for t in range(0, 11)])
    done = 100 * MB * 10
    for t in range(11, 26):
        done += 10 * MB
        rate.add(done, float(t))
    # 15 s is five half-lives: 1/32 of the old difference is left.
    assert rate.known == pytest.approx(10 * MB + 90 * MB / 32)


def test_time_left_is_the_remaining_bytes_over_the_rate():
    assert eta_seconds(600 * MB, 5 * MB) == 120
    assert eta_seconds(-5, 5 * MB) == 0
    assert eta_seconds(600 * MB, None) is None
    assert eta_seconds(600 * MB, 0.0) is None
    assert eta_seconds(600 * MB, float("inf")) is None


@pytest.mark.parametrize(("seconds", "words"), [
    (3, "a few seconds left"), (42, "less than a minute left"), (60, "about 1 min left"),
    (130, "about 2 min left"), (3600, "about 1 h left"), (5400, "about 1 h 30 min left"),
])
def test_time_left_is_worded_as_an_estimate(seconds, words):
    assert human_time_left(seconds) == words


def test_rates_and_durations_read_as_the_portal_writes_sizes():
    assert human_rate(112_400_000) == "112.4 MB/s"
    assert human_rate(512) == "512 bytes/s"
    assert human_duration(42) == "42 s" and human_duration(65) == "1 min 5 s" and human_duration(4000) == "1 h 6 min"


def test_figures_show_nothing_while_the_rate_is_unknown():
    running = {KEY: {"phase": "Writing disks", "done": 5, "total": 100, "rate": None, "eta": None}}
    assert figures(running, active=True) == {"phase": "Writing disks"}
    assert figures({}, active=True) == {}


def test_figures_of_a_running_and_of_a_finished_job():
    running = {KEY: {"phase": "Writing disks", "done": 5, "total": 100, "rate": 112.4e6, "eta": 130.0}}
    assert figures(running, active=True) == {"rate": "112.4 MB/s", "eta": "about 2 min left", "phase": "Writing disks"}
    done = {KEY: {"done": 42 * MB, "total": 42 * MB, "rate": 21e6, "eta": None, "phase": "", "finished": True}}
    assert figures(done, active=False) == {"rate": "21.0 MB/s"}
    assert figures(done, active=True) == {}  # past its transfer, still running (creating the VM)
    assert bytes_moved(done) == 42 * MB and bytes_moved({}) is None


def test_the_private_state_is_not_among_the_properties_a_person_reads():
    assert public({KEY: {}, "Backup Size": "42 MB"}) == {"Backup Size": "42 MB"}
