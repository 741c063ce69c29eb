"""A job asked for while the broker is down: kept Not Started and marked unsent, sent by the next reconcile."""

from __future__ import annotations

import pytest
import redis as redis_lib

from jobs import queue, services
from jobs.models import Job, Status
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_a_job_whose_task_could_not_be_sent_is_sent_by_the_next_reconcile(start_work, private_redis, settings,
                                                                         django_capture_on_commit_callbacks):
    url, _restart = private_redis
    queue.set_broker_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing answers there
    with django_capture_on_commit_callbacks(execute=True):
        job = start_work(item="vm07", steps=1)
    assert job.is_queued_unsent
    job.refresh_from_db()
    assert job.status == Status.NOT_STARTED and job.is_queued_unsent

    queue.set_broker_url(url)  # the job service answers again
    counts = services.reconcile()  # at its default settings: no waiting for the two-minute resend
    assert counts["requeued"] == 1
    job.refresh_from_db()
    assert not job.is_queued_unsent and job.enqueue_count == 2
    assert redis_lib.Redis.from_url(url).llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1  # the task is in the queue
    assert services.reconcile()["requeued"] == 0  # and it is not sent twice
    assert Job.objects.get(pk=job.pk).status == Status.NOT_STARTED

