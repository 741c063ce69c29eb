"""start_job, request_cancel and the operations log: the refusals other apps and the views rely on."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import services
from jobs.errors import CancelRefused, OperationInProgress
from jobs.models import Job, LogAction, Operation, OperationLogEntry, Status
from tests.jobs import tasks  # noqa: F401 - registers the test job types (their cleanup hooks)

pytestmark = pytest.mark.django_db


def test_start_job_creates_a_not_started_job_logs_it_and_enqueues_on_commit(
    start_work, member, django_capture_on_commit_callbacks
):
    with mock.patch("jobs.queue.enqueue") as enqueue, django_capture_on_commit_callbacks(execute=True):
        job = start_work(item="vm01", steps=2)
        enqueue.assert_not_called()  # not before the transaction commits
    enqueue.assert_called_once_with(job.pk, "tests.jobs.work")
    assert job.status == Status.NOT_STARTED and job.params == {"steps": 2}
    entry = OperationLogEntry.objects.get(job=job)
    assert (entry.user, entry.operation, entry.item_name, entry.vault_id) == (member, Operation.BACKUP, "vm01", job.vault_id)


def test_a_second_operation_on_the_same_item_is_refused_and_makes_no_job(start_work):
    start_work(item="vm01")
    with pytest.raises(OperationInProgress) as refusal:
        start_work(item="vm01", operation=Operation.RESTORE)
    assert str(refusal.value) == "Another operation is in progress on this item"
    assert Job.objects.count() == 1
    assert OperationLogEntry.objects.filter(item_key="vm:vm01").count() == 1  # the vault's creation is logged too


def test_start_job_inside_an_outer_transaction_leaves_it_usable_after_a_refusal(start_work):
    with transaction.atomic():
        start_work(item="vm01")
        with pytest.raises(OperationInProgress):
            start_work(item="vm01")
        start_work(item="vm02")  # the outer transaction still works
    assert Job.objects.count() == 2


def test_a_rolled_back_outer_transaction_leaves_no_job_and_enqueues_nothing(start_work, django_capture_on_commit_callbacks):
    with (mock.patch("jobs.queue.enqueue") as enqueue, django_capture_on_commit_callbacks(execute=True) as callbacks,
          pytest.raises(RuntimeError), transaction.atomic()):
        start_work(item="vm01")
        raise RuntimeError("the caller's own work failed")
    assert Job.objects.count() == 0
    assert callbacks == []
    enqueue.assert_not_called()


def test_cancel_of_a_running_job_asks_it_to_stop_and_is_logged(start_work, member):
    job = start_work()
    job.claim("w")
    services.request_cancel(job, member)
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLING
    entry = OperationLogEntry.objects.get(operation=LogAction.CANCEL_JOB)
    assert entry.job == job and entry.user == member and entry.operation_label == "Cancel Job"


def test_cancel_of_an_ended_job_is_refused_as_not_cancellable_state(start_work, member):
    job = start_work()
    job.claim("w")
    job.complete()
    with pytest.raises(CancelRefused, match="not in a cancellable state"):
        services.request_cancel(job, member)
    assert not OperationLogEntry.objects.filter(operation=LogAction.CANCEL_JOB).exists()


def test_cancel_twice_is_refused_the_second_time(start_work, member):
    job = start_work()
    job.claim("w")
    services.request_cancel(job, member)
    with pytest.raises(CancelRefused, match="not in a cancellable state"):
        services.request_cancel(Job.objects.get(pk=job.pk), member)


def test_cancel_of_a_job_type_without_cancellation_is_refused_as_not_supported(start_work, member):
    job = start_work(cancellable=False)
    with pytest.raises(CancelRefused, match="Cancellation is not supported for this job type"):
        services.request_cancel(job, member)


def test_log_operation_records_policy_changes_without_a_job(member, subscription, vault):
    entry = services.log_operation(member, LogAction.UPDATE_POLICY, subscription=subscription, vault=vault.pk,
                                   item_type="policy", item_key="policy:3", item_name="DefaultPolicy",
                                   details={"retention": "daily 30 days"})
    assert entry.username == "member" and entry.job is None and entry.operation_label == "Update Policy"


def test_reconcile_fails_a_running_job_whose_heartbeat_is_stale(make_job, tmp_path):
    marker = tmp_path / "written"
    marker.write_text("half done")
    job = make_job(params={"marker": str(marker)})
    job.claim("dead-worker")
    Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(minutes=5))
    fresh = make_job()
    fresh.claim("live-worker")
    assert services.reconcile(stale_after=timedelta(seconds=60))["failed"] == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error_code == "WorkerLost"
    assert "stopped unexpectedly" in job.error_message and job.retryable
    assert not marker.exists()  # the cleanup hook of the job type ran
    assert (tmp_path / "written.failed").read_text() == "failed WorkerLost\n"  # then its failure hook, once
    assert Job.objects.get(pk=fresh.pk).status == Status.IN_PROGRESS


def test_reconcile_resends_a_job_never_picked_up_then_gives_up(make_job, monkeypatch):
    monkeypatch.setenv("JOBS_MAX_ENQUEUES", "2")
    job = make_job(enqueued=timezone.now() - timedelta(minutes=10), enqueue_count=1)
    with mock.patch("jobs.queue.enqueue") as enqueue:
        assert services.reconcile(requeue_after=timedelta(seconds=60))["requeued"] == 1
    enqueue.assert_called_once_with(job.pk, "tests.jobs.work")
    Job.objects.filter(pk=job.pk).update(enqueued=timezone.now() - timedelta(minutes=10))
    assert services.reconcile(requeue_after=timedelta(seconds=60))["abandoned"] == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error_code == "NotPickedUp"
