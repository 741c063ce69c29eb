"""Fixtures of the monitoring suite: a control worker of this run, scrapes and health checks as a client makes them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from monitoring import heartbeat
from monitoring.broker import broker_client
from monitoring.health import fabric_cache
from tests.conftest import process_env, start_process, wait_for

TOKEN = "scrape-token-for-the-suite"


@pytest.fixture(autouse=True)
def fresh_fabric_answer() -> Iterator[None]:
    """Every test asks the endpoints afresh: /healthz keeps their answer for a few seconds."""
    fabric_cache.clear()
    yield
    fabric_cache.clear()


def fresh_worker(queue: str, name_part: str, since: float | None = None) -> bool:
    """Whether a worker named like ``name_part`` beat on ``queue`` in the last 5 s (and after ``since``)."""
    client = broker_client()
    try:
        seen = heartbeat.last_seen(client, [queue])[queue]
    finally:
        client.close()
    after = max(time.time() - 5, since or 0)
    return any(name_part in worker and when > after for worker, when in seen.items())


@pytest.fixture
def control_worker(redis_url) -> Iterator[subprocess.Popen]:
    """``manage.py control_worker`` as ``make run`` starts it, beating every second; yields once it has beat."""
    started = time.time()  # a control worker of an earlier test may have beaten a moment ago under the same name
    process = start_process([sys.executable, "manage.py", "control_worker"],
                            process_env(redis_url, JOBS_HEARTBEAT_SECONDS="1"), f"monitoring-control-{os.getpid()}.log")
    try:
        wait_for(lambda: fresh_worker(settings.CONTROL_QUEUE, "control@", started), what="the control worker's heartbeat",
                 timeout=60, process=process)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    """GET /metrics with the suite's token; ``{sample name: {sorted label pairs: value}}``."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.50", **headers)
    assert response.status_code == 200, response.status_code
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def health(client) -> tuple[int, dict, str]:
    """GET /healthz as a load balancer does (no session): status code, body, raw text."""
    response = client.get("/healthz")
    text = response.content.decode()
    return response.status_code, json.loads(text), text


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    wait_for(check, what=what, timeout=timeout)
