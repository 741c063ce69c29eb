"""Logs of real processes: a worker and the web server, in JSON (LOG_FORMAT=json) and in the plain format."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from celery import Celery, current_app
from django.conf import settings

from jobs.models import Job, Operation, Status
from jobs.services import start_job
from tests.conftest import free_port, port_open, process_env, start_process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = f"monitoring-logs-{os.getpid()}"
PLAIN_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+)"
                        r"(?: \[job (\d+)\])? (.*)$")


def log_path(name: str) -> Path:
    path = Path(settings.VAR_DIR) / "logs" / name
    path.unlink(missing_ok=True)
    return path


@pytest.fixture
def worker_with(redis_url, monkeypatch) -> Iterator:
    """worker_with(LOG_FORMAT=...) starts a prefork worker on a queue of this module's own and sends the jobs there;
    returns the path of its output."""
    started = []

    def enqueue(job_id: int, task_name: str, *, countdown: float | None = None) -> bool:
        current_app.send_task(task_name, args=[job_id], ignore_result=True, queue=QUEUE, countdown=countdown)
        return True

    monkeypatch.setattr("jobs.queue.enqueue", enqueue)

    def start(**env: str) -> Path:
        name = f"monitoring-logs-{len(started)}-{os.getpid()}"
        path = log_path(f"{name}.log")
        process = start_process(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO", "--concurrency", "1",
             "--hostname", f"{name}@%h", "--without-mingle", "--without-gossip", "-Q", QUEUE],
            process_env(redis_url, **env), path.name)
        started.append(process)
        app = Celery(broker=redis_url, set_as_current=False)
        wait_for(lambda: any(f"{name}@" in host for reply in app.control.ping(timeout=0.5) or [] for host in reply),
                 what=name, timeout=60, process=process)
        return path

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def run_on_worker(subscription, member) -> Job:
    job = start_job(operation=Operation.BACKUP, user=member, subscription=subscription, item_type="vm",
                    item_key=f"vm:logs-{os.getpid()}", item_name="vm01", task_name="tests.jobs.work",
                    params={"steps": 2, "delay": 0.01, "warn": "a warning worth a line"})
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, what=f"job {job.pk}", timeout=30)
    job.refresh_from_db()
    assert job.status == Status.COMPLETED_WITH_WARNINGS, job.error_message
    return job


def test_a_worker_with_log_format_json_writes_one_json_object_per_line_with_the_job_id(worker_with, subscription,
                                                                                       member):
    path = worker_with(LOG_FORMAT="json")
    job = run_on_worker(subscription, member)
    wait_for(lambda: "work done" in path.read_text(), what="the job's last line")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    assert records, path.read_text()[:2000]
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= record.keys(), record
        stamp = datetime.fromisoformat(record["timestamp"])
        assert stamp.utcoffset().total_seconds() == 0 and abs((datetime.now(UTC) - stamp).total_seconds()) < 300
    of_job = [record for record in records if record.get("job_id") == job.pk]
    assert {(r["level"], r["message"]) for r in of_job} >= {("WARNING", "a warning worth a line"), ("INFO", "work done")}
    assert {r["logger"] for r in of_job} == {"jobs.job.tests.jobs.work"}
    # Celery's own lines (the task received and succeeded) are JSON too, and carry no job id outside the job.
    assert any(r["logger"].startswith("celery") for r in records)
    assert all(r.get("job_id") in (None, job.pk) for r in records)
    # Nothing but Celery's start-up banner (printed to the terminal, ending with the list of tasks) is unformatted.
    lines = path.read_text().splitlines()
    after_banner = lines[lines.index("[tasks]") + 1:]
    while after_banner and (after_banner[0].startswith("  . ") or not after_banner[0].strip()):
        after_banner.pop(0)
    assert after_banner and all(line.startswith("{") for line in after_banner if line.strip()), after_banner


def test_a_worker_in_the_plain_format_writes_time_level_logger_and_job(worker_with, subscription, member):
    path = worker_with()  # LOG_FORMAT unset: plain
    job = run_on_worker(subscription, member)
    wait_for(lambda: "work done" in path.read_text(), what="the job's last line")
    parsed = [PLAIN_LINE.match(line) for line in path.read_text().splitlines()]
    lines = [match for match in parsed if match]
    assert any(m[2] == "INFO" and m[3].startswith("celery") for m in lines)
    done = [m for m in lines if m[5] == "work done"]
    assert len(done) == 1 and done[0][2] == "INFO" and done[0][4] == str(job.pk)
    stamp = datetime.strptime(done[0][1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 300


def test_the_web_server_logs_uvicorn_and_django_lines_as_json(redis_url):
    port = free_port()
    path = log_path(f"monitoring-uvicorn-{os.getpid()}.log")
    process = start_process([sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port)], process_env(redis_url, LOG_FORMAT="json"), path.name)
    try:
        wait_for(lambda: port_open(port), what="uvicorn", process=process)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code in (200, 503)
        wait_for(lambda: "GET /healthz" in path.read_text(), what="the access line")
    finally:
        process.terminate()
        process.wait(15)
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]  # every line is JSON
    loggers = {record["logger"] for record in records}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers
    assert all({"timestamp", "level", "logger", "message"} <= record.keys() for record in records)
    assert any(record["message"].startswith("Started server process") for record in records)
