"""Long waits park the job: In Progress, its worker slot given back, its task sent again for later.

Run in this process: the enqueue of a parked job's task is recorded instead of sent, and the test delivers it
(``work_task.apply``) when it chooses, as the broker would.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Job, Status
from jobs.runner import INLINE_WAIT, PARK_FIRST
from tests.jobs.tasks import work_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The tasks the runner and the reconciler send, as (job id, countdown)."""
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setattr("jobs.queue.enqueue", lambda job_id, task_name, countdown=None: calls.append((job_id, countdown)))
    return calls


def deliver(job: Job) -> Job:
    work_task.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def test_a_long_wait_parks_the_job_and_gives_the_slot_back(start_work, sent, tmp_path):
    flag = tmp_path / "ready"
    job = start_work(steps=1, delay=0, wait_for=str(flag))
    sent.clear()
    began = time.monotonic()
    job = deliver(job)
    assert time.monotonic() - began < INLINE_WAIT + 1.5  # the worker was held about INLINE_WAIT, not the whole wait
    assert job.status == Status.IN_PROGRESS and job.resume_at is not None
    assert sent == [(job.pk, PARK_FIRST)]
    [step] = job.subtasks.all()
    assert (step.name, step.status, step.finished) == ("Wait", Status.IN_PROGRESS, None)

    flag.write_text("now")
    job = deliver(job)
    assert job.status == Status.COMPLETED and job.resume_at is None and job.params["waited"] == 1
    assert [(s.name, s.status) for s in job.subtasks.all()] == [("Wait", Status.COMPLETED), ("Work", Status.COMPLETED)]


def test_a_wait_times_out_across_parks_with_the_jobs_own_error(start_work, sent, tmp_path):
    job = deliver(start_work(steps=1, delay=0, wait_for=str(tmp_path / "never"), wait_timeout=2.5))
    assert job.status == Status.IN_PROGRESS and job.resume_at is not None
    time.sleep(max(0.0, (job.resume_at - timezone.now()).total_seconds()))
    job = deliver(job)
    assert job.status == Status.FAILED and job.error_code == "WaitTimedOut"
    assert job.duration >= timedelta(seconds=2.5)


def test_a_resumed_task_delivered_twice_runs_once(start_work, sent, tmp_path):
    flag = tmp_path / "ready"
    job = deliver(start_work(steps=1, delay=0, wait_for=str(flag)))
    flag.write_text("now")
    job = deliver(job)
    assert job.status == Status.COMPLETED
    job = deliver(job)  # a second copy of the resumed task: the job is no longer parked
    assert job.status == Status.COMPLETED and job.params["waited"] == 1


def test_cancelling_a_parked_job_runs_it_at_once_to_undo_its_work(start_work, sent, tmp_path, member,
                                                                    django_capture_on_commit_callbacks):
    marker = tmp_path / "written"
    job = deliver(start_work(steps=1, delay=0, wait_for=str(tmp_path / "never"), marker=str(marker)))
    assert marker.exists() and job.resume_at is not None
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_cancel(job, member)
    assert sent == [(job.pk, None)]  # sent now, not at the end of its park
    job = deliver(job)
    assert job.status == Status.CANCELLED and not marker.exists()


def test_the_reconciler_leaves_a_parked_job_alone_and_resends_one_whose_task_was_lost(start_work, sent, tmp_path):
    job = deliver(start_work(steps=1, delay=0, wait_for=str(tmp_path / "never")))
    long_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(heartbeat=long_ago)  # a parked job has no heartbeat: not a dead worker
    sent.clear()
    assert services.reconcile()["failed"] == 0 and sent == []

    Job.objects.filter(pk=job.pk).update(resume_at=long_ago)  # its task never came back
    counts = services.reconcile()
    assert counts["resumed"] == 1 and sent == [(job.pk, None)]
    assert services.reconcile()["resumed"] == 0  # sent once, not at every pass
    job.refresh_from_db()
    assert job.status == Status.IN_PROGRESS
