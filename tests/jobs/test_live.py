"""The event payload (sentence and state for the strip) and the progress throttle."""

from __future__ import annotations

from unittest import mock

import pytest

from jobs import live
from jobs.models import Operation, Status
from jobs.runner import JobContext
from tests.jobs.tasks import work_task

pytestmark = pytest.mark.django_db


def test_the_payload_carries_what_the_strip_needs(make_job, member, vault):
    job = make_job(item_name="vm01", operation=Operation.REGISTER)
    data = live.payload(job)
    assert data["id"] == f"job-{job.pk}" and data["job"] == job.pk and data["user"] == member.pk
    assert (data["text"], data["state"], data["url"]) == ("Registering 'vm01'…", "running", f"/jobs/{job.pk}/")
    assert live.channels(job) == [f"job:{job.pk}", f"vault:{vault.pk}", f"user:{member.pk}"]


@pytest.mark.parametrize(("status", "state", "text"), [
    (Status.COMPLETED, "succeeded", "Registration of 'vm01' completed."),
    (Status.COMPLETED_WITH_WARNINGS, "warning", "Registration of 'vm01' completed with warnings."),
    (Status.CANCELLED, "warning", "Registration of 'vm01' was cancelled."),
    (Status.FAILED, "failed", "Registration of 'vm01' failed: The VM agent is not installed."),
])
def test_ended_jobs_say_how_they_ended(make_job, status, state, text):
    job = make_job(item_name="vm01", operation=Operation.REGISTER, status=status,
                   error_message="The VM agent is not installed.")
    assert (live.payload(job)["state"], live.sentence(job)) == (state, text)


def test_progress_is_published_a_few_times_a_second_at_most(make_job):
    job = make_job()
    job.claim("w")
    ctx = JobContext(job, work_task)
    with mock.patch("jobs.live.publish") as publish:
        for percent in range(1, 100):
            ctx.progress(percent)
        ctx.progress(100)
    kinds = [call.args[1] for call in publish.call_args_list]
    assert 1 <= len(kinds) <= 3 and set(kinds) == {"progress"}  # the first, maybe one more, and 100 %


def test_the_reconciler_runs_on_celery_beat(settings):
    from portal.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["jobs.reconcile"] <= 30
    app.loader.import_default_modules()  # what a worker or beat does at start (autodiscovery)
    assert "jobs.reconcile" in app.tasks
