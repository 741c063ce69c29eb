"""/healthz: 200 while the database, Redis, a worker on each queue and the fabric answer; 503 with a short
body naming the failed check, and nothing an attacker could use, when one does not."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from unittest import mock

import pytest
import redis

from monitoring import broker, health
from portal.processes import private_redis_command, redis_answers
from tests.conftest import free_port, stop_process, wait_for

from .conftest import health as get_health
from .conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ALL_OK = {"web": "ok", "database": "ok", "redis": "ok", "workers": "ok", "fabric": "ok"}


def failing(**checks: str) -> dict:
    return {"status": "fail", "checks": {**ALL_OK, **checks}}


def says_nothing_more(text: str, *secrets: object) -> None:
    """The body names checks and ok/fail only: no host, port, URL, version or exception text."""
    for secret in ("127.0.0.1", "localhost", "redis://", "http", "Error", "Traceback", "refused", *map(str, secrets)):
        assert secret not in text, secret


@pytest.fixture
def lab_endpoint(subscription, vm_lab):
    """The subscription points at the run's lab fabric, which answers."""
    subscription.subscription_id, subscription.host = vm_lab.subscription_id, vm_lab.host
    subscription.save()
    return subscription


def test_all_well_is_200_ok(client, lab_endpoint, celery_worker_process, control_worker):
    status, body, text = get_health(client)
    assert (status, body) == (200, {"status": "ok", "checks": ALL_OK})


def test_head_and_no_session_needed(client, lab_endpoint, celery_worker_process, control_worker):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_redis_down_is_503(client, lab_endpoint, settings):
    url = f"redis://127.0.0.1:{free_port()}/0"
    process = subprocess.Popen(private_redis_command(url, settings.VAR_DIR / "monitoring-redis"),
                               stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: redis_answers(url), what="private redis", process=process)
        # Only the health check is pointed at it: changing CELERY_BROKER_URL would send this process's later jobs
        # there too, once Celery has read its configuration.
        patcher = mock.patch.object(health, "broker_client", lambda: redis.Redis.from_url(
            url, socket_timeout=broker.TIMEOUT_SECONDS, socket_connect_timeout=broker.TIMEOUT_SECONDS))
        patcher.start()
        status, body, _ = get_health(client)
        assert body["checks"]["redis"] == "ok"  # it answers; no worker uses it, so the workers fail
        stop_process(process)
        status, body, text = get_health(client)
        assert (status, body) == (503, failing(redis="fail", workers="fail"))
        says_nothing_more(text, url.split(":")[2].split("/")[0])
    finally:
        mock.patch.stopall()
        stop_process(process)


def test_a_control_worker_that_died_is_503_once_its_heartbeat_is_stale(client, lab_endpoint, settings,
                                                                       celery_worker_process, control_worker):
    settings.HEALTHZ_WORKER_SECONDS = 7  # the suite's worker beats every 5 s, this control worker every second
    assert get_health(client)[0] == 200
    os.killpg(control_worker.pid, signal.SIGKILL)  # no clean shutdown: its last beat stays and ages
    control_worker.wait(10)
    killed = time.monotonic()
    wait_until(lambda: get_health(client)[0] == 503, "the workers check to fail")
    assert time.monotonic() - killed >= 5
    status, body, text = get_health(client)
    assert (status, body) == (503, failing(workers="fail"))
    says_nothing_more(text, "control@")


def test_no_worker_at_all_is_503(client, lab_endpoint, settings):
    # Queues no worker consumes, for the health check only: the job queue settings stay as the suite's worker has them.
    nobody = f"monitoring-nobody-{os.getpid()}"
    with mock.patch.object(health, "monitored_queues", lambda: [nobody, f"{nobody}-control"]):
        status, body, _ = get_health(client)
    assert (status, body) == (503, failing(workers="fail"))


@pytest.fixture
def silent_endpoint(subscription):
    """The subscription's endpoint accepts connections and never answers (a hung fabric)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        subscription.host = f"127.0.0.1:{silent.getsockname()[1]}"
        subscription.save()
        yield silent


def connections_waiting(listener: socket.socket) -> int:
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_a_fabric_that_does_not_answer_is_503_within_the_short_timeout_and_asked_once(
        client, silent_endpoint, celery_worker_process, control_worker):
    began = time.monotonic()
    status, body, text = get_health(client)
    took = time.monotonic() - began
    assert (status, body) == (503, failing(fabric="fail"))
    assert took < health.FABRIC_TIMEOUT_SECONDS + 2
    says_nothing_more(text, silent_endpoint.getsockname()[1])
    for _ in range(5):  # calls in quick succession reuse the answer instead of asking the endpoint again
        assert get_health(client)[1]["checks"]["fabric"] == "fail"
    assert connections_waiting(silent_endpoint) == 1


def test_a_worker_that_stops_cleanly_leaves_at_once(client, lab_endpoint, celery_worker_process, control_worker):
    from .conftest import fresh_worker

    assert get_health(client)[0] == 200
    control_worker.send_signal(signal.SIGTERM)  # a warm shutdown, as supervisord and systemd stop it
    control_worker.wait(30)
    # Gone from the set at once, not HEALTHZ_WORKER_SECONDS (30 s) later.
    assert not fresh_worker(f"{os.environ['CELERY_QUEUE']}-control", "control@")
    assert get_health(client)[1] == failing(workers="fail")
