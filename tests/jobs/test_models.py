"""Transitions are compare-and-swap moves that refuse illegal changes; the database holds the one-per-item rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from jobs.models import ACTIVE, TERMINAL, Job, Status

pytestmark = pytest.mark.django_db


def test_status_groups_cover_every_status_once():
    assert set(ACTIVE) | set(TERMINAL) == set(Status)
    assert not set(ACTIVE) & set(TERMINAL)


def test_claim_moves_not_started_to_in_progress_once(make_job):
    job = make_job()
    assert job.claim("worker-a") is True
    assert Job.objects.get(pk=job.pk).status == Status.IN_PROGRESS
    stale_copy = Job.objects.get(pk=job.pk)
    stale_copy.status = Status.NOT_STARTED  # another worker that read the row earlier
    assert stale_copy.claim("worker-b") is False
    assert Job.objects.get(pk=job.pk).worker == "worker-a"


def test_complete_records_end_duration_and_full_progress(make_job):
    job = make_job()
    job.claim("w")
    assert job.complete() is True
    job.refresh_from_db()
    assert job.status == Status.COMPLETED and job.progress == 100
    assert job.finished and job.duration is not None and job.duration >= timedelta(0)


def test_complete_with_warnings(make_job):
    job = make_job()
    job.claim("w")
    assert job.complete(warnings=True)
    assert Job.objects.get(pk=job.pk).status == Status.COMPLETED_WITH_WARNINGS


def test_a_job_that_never_started_cannot_complete(make_job):
    job = make_job()
    assert job.complete() is False
    assert Job.objects.get(pk=job.pk).status == Status.NOT_STARTED


def test_terminal_jobs_refuse_every_move(make_job):
    job = make_job()
    job.claim("w")
    job.fail("Boom", "It broke.", ["Retry."])
    for move in (lambda: job.claim("w"), job.complete, job.request_cancel, job.cancelled,
                 lambda: job.fail("Again", "x", [])):
        assert move() is False
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error_code == "Boom" and job.recommendations == ["Retry."]


def test_cancel_of_a_running_job_goes_through_cancelling(make_job):
    job = make_job()
    job.claim("w")
    assert job.request_cancel() is True
    assert job.status == Status.CANCELLING
    assert job.complete() is False  # the runner must honour the cancel
    assert job.cancelled() is True
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED


def test_cancel_of_a_job_not_started_ends_it_at_once(make_job):
    job = make_job()
    assert job.request_cancel() is True
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED


def test_the_database_allows_one_active_job_per_item(make_job):
    first = make_job(item_key="vm:7")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_job(item_key="vm:7")
    first.claim("w")
    first.complete()
    make_job(item_key="vm:7")  # once the first has ended, the item is free again


def test_can_cancel_depends_on_type_and_status(make_job):
    assert make_job().can_cancel is True
    assert make_job(cancellable=False).can_cancel is False
    done = make_job()
    done.claim("w")
    done.complete()
    assert done.can_cancel is False


def test_jobs_are_visible_to_members_of_their_subscription_only(make_job, member, reader, outsider):
    job = make_job()
    assert list(Job.objects.visible_to(member)) == [job]
    assert list(Job.objects.visible_to(reader)) == [job]
    assert list(Job.objects.visible_to(outsider)) == []
