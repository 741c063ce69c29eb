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


# --- Retries reuse their sub-tasks; the failure hook --------------------------

def steps_of(job: Job) -> list[tuple[int, str, str]]:
    return [(s.position, s.name, s.status) for s in job.subtasks.all()]


def test_a_retried_job_lists_each_subtask_once_with_its_latest_run(start_work, client, member):
    job = run(start_work(steps=1, delay=0, subtasks=["Take Snapshot", "Transfer data to vault"], transient=2,
                         transient_in="Transfer data to vault"))
    assert job.status == Status.COMPLETED and job.attempts == 2
    assert steps_of(job) == [(1, "Take Snapshot", Status.COMPLETED), (2, "Transfer data to vault", Status.COMPLETED)]
    snapshot, transfer = job.subtasks.all()
    # Both rows hold the last attempt's times, not the first attempt's start.
    assert snapshot.started < snapshot.finished <= transfer.started < transfer.finished
    client.force_login(member)
    details = client.get(f"/jobs/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert details.count("Take Snapshot") == 1 and details.count("Transfer data to vault") == 1


def test_a_job_failing_after_retries_lists_each_subtask_once(start_work, monkeypatch):
    monkeypatch.setenv("JOBS_TRANSIENT_RETRIES", "2")
    job = run(start_work(steps=1, delay=0, subtasks=["Take Snapshot", "Transfer data to vault"], transient=10,
                         transient_in="Transfer data to vault"))
    assert job.status == Status.FAILED and job.error_code == "TransientFailure"
    assert steps_of(job) == [(1, "Take Snapshot", Status.COMPLETED), (2, "Transfer data to vault", Status.FAILED)]
    assert all(s.finished for s in job.subtasks.all())


def test_a_step_entered_twice_in_one_attempt_has_two_rows(start_work):
    job = run(start_work(steps=1, delay=0, subtasks=["Copy disk", "Copy disk"]))
    assert steps_of(job) == [(1, "Copy disk", Status.COMPLETED), (2, "Copy disk", Status.COMPLETED)]


def test_the_failure_hook_runs_once_after_the_job_is_failed(start_work, tmp_path):
    marker = tmp_path / "written"
    error = {"code": "VaultStoreFull", "message": "The vault's storage is full."}
    run(start_work(steps=1, delay=0, error=error, marker=str(marker)))
    assert (tmp_path / "written.failed").read_text() == "failed VaultStoreFull\n"


def test_the_failure_hook_does_not_run_on_success_or_cancel(start_work, tmp_path, monkeypatch):
    run(start_work(item="vm01", steps=1, delay=0, marker=str(tmp_path / "ok")))
    assert not (tmp_path / "ok.failed").exists()

    def cancel_in_the_first_step(ctx):
        ctx._cancel.set()
        ctx.check_cancelled()

    monkeypatch.setattr(work_task, "job_function", cancel_in_the_first_step)
    job = run(start_work(item="vm02", steps=1, delay=0, marker=str(tmp_path / "cancelled")))
    assert job.status == Status.CANCELLED
    assert (tmp_path / "cancelled.cleaned").exists() and not (tmp_path / "cancelled.failed").exists()
