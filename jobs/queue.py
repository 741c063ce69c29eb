"""Sending job tasks to the broker, and finding a job type's cleanup and failure hooks.

Jobs are sent by task *name* (``send_task``), so this app never imports the
apps whose tasks it runs. A broker that is down must not fail the request that
created the job: the row is the record, and the reconciler sends it again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from celery import Celery, current_app

if TYPE_CHECKING:
    from jobs.models import Job

log = logging.getLogger(__name__)

_override: Celery | None = None


def set_broker_url(url: str | None) -> None:
    """Send to another broker (tests with a private Redis), or back to the configured one with None.

    A separate app rather than a ``connection=`` argument: kombu binds the app's queue
    declarations to the first channel that declares them, which would pin the
    default app to the other broker for good.
    """
    global _override
    _override = None
    if url:
        _override = Celery("jobs-override", broker=url, set_as_current=False)
        _override.conf.task_default_queue = current_app.conf.task_default_queue


def enqueue(job_id: int, task_name: str, *, countdown: float | None = None) -> bool:
    """Send the task for ``job_id`` (to run ``countdown`` seconds from now, for a parked job); False (and a warning)
    when the broker cannot be reached."""
    task = current_app.tasks.get(task_name)
    options: dict[str, object] = {"queue": task.job_queue} if getattr(task, "job_queue", None) else {}
    if countdown:
        options["countdown"] = countdown
    try:
        (_override or current_app).send_task(task_name, args=[job_id], ignore_result=True, **options)
    except Exception:  # kombu raises several types; whatever it is, the reconciler will resend
        log.warning("could not enqueue job %s (%s); the reconciler will send it again", job_id, task_name, exc_info=True)
        return False
    return True


def run_cleanup(job: Job, *, reason: str) -> None:
    """Run the job type's cleanup hook (undo what a stopped job wrote). Never raises."""
    _run_hook(job, "cleanup", job, reason)


def run_on_failure(job: Job) -> None:
    """Run the job type's failure hook on a job that has just ended Failed. Never raises."""
    _run_hook(job, "on_failure", job)


def _run_hook(job: Job, hook: str, *args: object) -> None:
    task = current_app.tasks.get(job.task_name)
    function = getattr(task, f"job_{hook}", None)
    if function is None:
        if task is None:
            log.warning("job %s: task %s is not registered here, so its %s hook cannot run", job.pk, job.task_name,
                        hook)
        return
    try:
        function(*args)
    except Exception:
        log.exception("%s hook of job %s (%s) failed", hook, job.pk, job.task_name)
