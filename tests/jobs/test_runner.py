"""The runner, run in this process: start, finish, documented and internal failures, retries, redelivery."""

from __future__ import annotations

import pytest

from jobs.models import Job, Status
from tests.jobs.tasks import work_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setenv("JOBS_BACKOFF_BASE_MS", "10")


def run(job: Job) -> Job:
    work_task.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def test_a_job_runs_its_subtasks_and_completes_with_properties(start_work):
    job = run(start_work(steps=2, delay=0, subtasks=["Take Snapshot", "Transfer data to vault"]))
    assert job.status == Status.COMPLETED and job.progress == 100
    assert job.started and job.finished and job.worker
    assert [(s.name, s.status) for s in job.subtasks.all()] == [
        ("Take Snapshot", Status.COMPLETED), ("Transfer data to vault", Status.COMPLETED)]
    assert all(s.finished for s in job.subtasks.all())
    assert job.properties["Backup Size"] == "42 MB" and job.properties["Transferred Units"] == 4
    assert any(line["message"] == "work done" for line in job.log)  # logging is routed into the job


def test_a_warning_ends_the_job_completed_with_warnings(start_work):
    job = run(start_work(steps=1, delay=0, warn="The VM was off: the backup is crash-consistent."))
    assert job.status == Status.COMPLETED_WITH_WARNINGS
    assert job.properties["Warnings"] == ["The VM was off: the backup is crash-consistent."]


def test_a_documented_failure_keeps_its_code_message_and_recommendations(start_work, tmp_path):
    marker = tmp_path / "written"
    error = {"code": "UserErrorGuestAgentStatusUnavailable", "message": "The VM agent does not answer.",
             "recommendations": ["Check that the VM agent is running, then retry."]}
    job = run(start_work(steps=1, delay=0, error=error, marker=str(marker)))
    assert job.status == Status.FAILED
    assert (job.error_code, job.error_message, job.recommendations) == (
        error["code"], error["message"], error["recommendations"])
    assert not marker.exists() and (tmp_path / "written.cleaned").read_text() == error["code"]


def test_an_unexpected_exception_fails_as_an_internal_error_that_says_retry(start_work):
    job = run(start_work(steps=1, delay=0, crash=True))
    assert job.status == Status.FAILED and job.error_code == "InternalError"
    assert "Run the operation again" in job.recommendations[0]
    assert job.retryable
    assert [s.status for s in job.subtasks.all()] == [Status.COMPLETED]
    assert any(line["level"] == "ERROR" for line in job.log)


def test_transient_errors_are_retried_with_backoff_then_succeed(start_work):
    job = run(start_work(steps=1, delay=0, transient=2))
    assert job.status == Status.COMPLETED and job.attempts == 2


def test_transient_errors_past_the_retry_limit_fail_with_a_clear_message(start_work, monkeypatch):
    monkeypatch.setenv("JOBS_TRANSIENT_RETRIES", "2")
    job = run(start_work(steps=1, delay=0, transient=10))
    assert job.status == Status.FAILED and job.error_code == "TransientFailure"
    assert "failed 3 times with a temporary error" in job.error_message
    assert "503 Service Unavailable" in job.error_message


def test_a_redelivered_message_runs_nothing_twice(start_work):
    job = run(start_work(steps=1, delay=0))
    finished = job.finished
    job = run(job)
    assert job.status == Status.COMPLETED and job.finished == finished
    assert job.subtasks.count() == 1


def test_a_job_cancelled_before_it_started_never_runs(start_work, member):
    from jobs.services import request_cancel

    job = start_work(steps=1, delay=0)
    request_cancel(job, member)
    job = run(job)
    assert job.status == Status.CANCELLED and job.subtasks.count() == 0


def test_a_message_for_a_deleted_job_is_ignored(start_work):
    job = start_work()
    pk = job.pk
    job.delete()
    work_task.apply(args=[pk])  # logs and returns
    assert not Job.objects.filter(pk=pk).exists()
