"""Jobs with a real Celery worker and a real Redis: run, cancel, worker killed, Redis restarted.

The database is the record: whatever happens to a worker or to Redis, every
job ends in a terminal status with a message that says what happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings

from jobs import queue, services
from jobs.models import Job, Status
from portal import events
from tests.conftest import process_env, start_process, stop_process, wait_for
from tests.jobs.tasks import KILL_QUEUE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def status_of(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def wait_status(job: Job, *statuses: str, timeout: float = 30) -> Job:
    wait_for(lambda: status_of(job) in statuses, what=f"job {job.pk} to be {'/'.join(statuses)}", timeout=timeout)
    return Job.objects.get(pk=job.pk)


def worker(redis_url: str, name: str, *, queues: str = "", **env: str) -> subprocess.Popen:
    from celery import Celery

    queues = queues or settings.CELERY_TASK_DEFAULT_QUEUE
    process = start_process(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO", "--concurrency", "1",
         "--hostname", f"{name}-{os.getpid()}@%h", "--without-mingle", "--without-gossip", "-Q", queues],
        process_env(redis_url, **env), f"{name}.log",
    )
    app = Celery(broker=redis_url, set_as_current=False)  # never becomes the app that sends jobs

    def ready() -> bool:
        replies = app.control.ping(timeout=0.5) or []
        return any(f"{name}-{os.getpid()}@" in host for reply in replies for host in reply)

    wait_for(ready, what=name, timeout=60, process=process)
    return process


def test_a_job_runs_on_the_worker_and_its_events_are_published(celery_worker_process, redis_client, start_work,
                                                               member):
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(events.channel_name(f"user:{member.pk}"))
    job = start_work(steps=3, delay=0.1, subtasks=["Take Snapshot", "Transfer data to vault"])
    job = wait_status(job, Status.COMPLETED)
    assert [s.status for s in job.subtasks.all()] == [Status.COMPLETED, Status.COMPLETED]
    assert job.properties["Backup Size"] == "42 MB"
    seen, deadline = [], time.monotonic() + 2
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            seen.append(json.loads(message["data"])["data"])
    pubsub.close()
    assert seen[-1]["status"] == Status.COMPLETED and seen[-1]["state"] == "succeeded"
    assert seen[-1]["text"] == "Backup of 'vm01' completed."
    assert {event["kind"] for event in seen} >= {"subtask", "progress", "status"}


def test_a_running_job_is_cancelled_and_undoes_its_work(celery_worker_process, start_work, member, tmp_path):
    marker = tmp_path / "written"
    job = start_work(steps=200, delay=0.05, marker=str(marker))
    wait_status(job, Status.IN_PROGRESS)
    wait_for(marker.exists, what="the job's first write")
    services.request_cancel(Job.objects.get(pk=job.pk), member)
    job = wait_status(job, Status.CANCELLED, timeout=15)
    assert not marker.exists() and (tmp_path / "written.cleaned").read_text() == "cancelled"
    assert [s.status for s in job.subtasks.all()] == [Status.CANCELLED]


def test_a_killed_worker_leaves_its_job_failed_within_bounded_time(redis_url, start_work, tmp_path):
    process = worker(redis_url, "jobs-kill", queues=KILL_QUEUE, JOBS_HEARTBEAT_SECONDS="1")
    marker = tmp_path / "written"
    try:
        job = start_work(task_name="tests.jobs.kill_target", steps=1000, delay=0.05, marker=str(marker),
                         subtasks=["Transfer data to vault"])
        wait_status(job, Status.IN_PROGRESS)
        wait_for(marker.exists, what="the job's first write")
        os.killpg(process.pid, signal.SIGKILL)  # the worker and its pool child, mid-job
        killed = time.monotonic()
    finally:
        process.wait(10)
    # What the beat task does every 30 s, with a staleness bound that suits a test.
    wait_for(lambda: services.reconcile(stale_after=timedelta(seconds=3))["failed"] == 1,
             what="the reconciler to fail the job", timeout=20)
    assert time.monotonic() - killed < 20
    job = Job.objects.get(pk=job.pk)
    assert job.status == Status.FAILED and job.error_code == "WorkerLost"
    assert "stopped unexpectedly" in job.error_message and "Run the operation again." in job.recommendations
    assert [s.status for s in job.subtasks.all()] == [Status.FAILED]
    assert not marker.exists()  # nothing half-done remains


def test_jobs_survive_a_redis_restart_because_the_database_is_the_record(private_redis, start_work):
    url, restart = private_redis
    process = worker(url, "jobs-redis")
    try:
        running = start_work(item="vm01", steps=40, delay=0.1)
        wait_status(running, Status.IN_PROGRESS)
        waiting = {}
        # While Redis is down a new job cannot be sent: the request still succeeds, the job waits Not Started.
        restart(down=1.5, during=lambda: waiting.setdefault("job", start_work(item="vm02", steps=2, delay=0.05)))
        assert status_of(waiting["job"]) == Status.NOT_STARTED
        running = wait_status(running, Status.COMPLETED, timeout=60)
        assert running.progress == 100
        # The broker lost the message with its data; the reconciler sends it again.
        assert services.reconcile(requeue_after=timedelta(seconds=0))["requeued"] == 1
        wait_status(waiting["job"], Status.COMPLETED, timeout=30)
    finally:
        stop_process(process)


def test_duplicate_messages_for_one_job_run_it_once_across_worker_processes(celery_worker_process, start_work):
    job = start_work(steps=5, delay=0.05)
    for _ in range(3):  # a re-sent message racing the first on the worker's two processes
        assert queue.enqueue(job.pk, "tests.jobs.work")
    job = wait_status(job, Status.COMPLETED)
    time.sleep(1)  # let the losing deliveries finish their (refused) claims
    assert job.subtasks.count() == 1 and status_of(job) == Status.COMPLETED
