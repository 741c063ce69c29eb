"""The jobs app's public API for other apps.

Starting a job::

    from jobs.services import start_job
    from jobs.models import Operation

    job = start_job(operation=Operation.REGISTER, user=request.user, subscription=vault.subscription,
                    vault=vault, item_type="vm", item_key=f"vm:{item.pk}", item_name=item.name,
                    task_name="vaults.register", params={"item": item.pk})

``start_job`` creates the Job (Not Started), writes the operations log entry
and enqueues the Celery task ``task_name`` with the job's id once the outer
transaction commits. It may be called inside an atomic block: if that block
rolls back, no job exists and nothing is enqueued. While another job on the
same ``item_key`` is active it raises ``jobs.errors.OperationInProgress``
("Another operation is in progress on this item") and creates nothing; the
database enforces it, so a double-submitted form or two web processes make
one job.

``request_cancel(job, user)`` asks a job to stop, or raises
``jobs.errors.CancelRefused`` with the sentence to show.

``log_operation(user, operation, ...)`` records anything else a user did
(policy changes...) in the operations log.

``reconcile()`` is what the ``jobs.reconcile`` beat task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone, translation

from jobs import conf, live, queue
from jobs.errors import NEVER_PICKED_UP, WORKER_LOST, CancelRefused, JobError, OperationInProgress
from jobs.models import CLEANUP_PENDING, RUNNING, STOPPED, Job, LogAction, OperationLogEntry, Status
from jobs.signals import job_ended

log = logging.getLogger(__name__)

CLEANUPS_PER_PASS = 20  # a pass stays short even when an endpoint has been down for long

# None: the machine itself acts (the scheduler, an operator's command).
User = AbstractBaseUser | AnonymousUser | None


def start_job(*, operation: str, user: User, subscription: Model, vault: Model | None = None, item_type: str,
              item_key: str, item_name: str, task_name: str, params: dict[str, Any] | None = None,
              cancellable: bool = True) -> Job:
    now = timezone.now()
    job = Job(operation=operation, subscription=subscription, vault=vault, item_type=item_type, item_key=item_key,
              item_name=item_name, requested_by=user if getattr(user, "is_authenticated", False) else None,
              task_name=task_name, params=params or {}, cancellable=cancellable, created=now, enqueued=now,
              enqueue_count=1)
    try:
        # A savepoint, so that a refusal leaves the caller's transaction usable.
        with transaction.atomic():
            job.save()
    except IntegrityError:
        if Job.objects.active().filter(item_key=item_key).exists():
            raise OperationInProgress(item_key) from None
        raise
    log_operation(user, operation, subscription=subscription, vault=vault, item_type=item_type, item_key=item_key,
                  item_name=item_name, job=job)
    live.publish(job)
    transaction.on_commit(lambda: _send(job))
    return job


def _send(job: Job) -> None:
    """Send a new job's task. When the broker cannot be reached the job stays Not Started with ``enqueued`` unset:
    the caller can say so (``job.is_queued_unsent``), and the reconciler sends it as soon as the broker answers."""
    if not queue.enqueue(job.pk, job.task_name):
        Job.objects.filter(pk=job.pk, status=Status.NOT_STARTED).update(enqueued=None)
        job.enqueued = None


def request_cancel(job: Job, user: User) -> Job:
    """Ask ``job`` to stop. The runner notices at its next check, undoes its work and ends it Cancelled."""
    if not job.cancellable:
        raise CancelRefused(CancelRefused.NOT_SUPPORTED)
    with transaction.atomic():
        if not job.request_cancel():
            job.refresh_status()
            raise CancelRefused(CancelRefused.NOT_CANCELLABLE_STATE)
        log_operation(user, LogAction.CANCEL_JOB, subscription=job.subscription_id, vault=job.vault_id,
                      item_type=job.item_type, item_key=job.item_key, item_name=job.item_name, job=job,
                      details={"operation": job.operation})
        live.publish(job)
        if job.resume_at is not None:  # parked: run it now, so it notices the cancel and undoes its work
            transaction.on_commit(lambda: queue.enqueue(job.pk, job.task_name))
    return job


def log_operation(user: User, operation: str, *, subscription: Model | int | None = None, vault: Model | int | None = None,
                  item_type: str = "", item_key: str = "", item_name: str = "", job: Job | None = None,
                  details: dict[str, Any] | None = None) -> OperationLogEntry:
    """Record that ``user`` did ``operation`` (an ``Operation`` or ``LogAction`` value, or any short name).

    ``subscription`` and ``vault`` may be instances or primary keys.
    """
    authenticated = getattr(user, "is_authenticated", False)
    return OperationLogEntry.objects.create(
        user=user if authenticated else None, username=user.get_username() if authenticated else "",
        operation=str(operation), subscription_id=_pk(subscription), vault_id=_pk(vault), item_type=item_type,
        item_key=item_key, item_name=item_name, job=job, details=details or {},
    )


def _pk(value: Model | int | None) -> int | None:
    return getattr(value, "pk", value)


# --- Reconciliation ------------------------------------------------------

def reconcile(*, stale_after: timedelta | None = None, requeue_after: timedelta | None = None) -> dict[str, int]:
    """Fail running jobs whose worker stopped heartbeating; re-enqueue (then give up on) jobs never picked up.

    A job failed here gets what the runner gives a failed job: its cleanup hook
    (when it had started) and its ``on_failure`` hook.
    Safe to run in several places at once: every move is a compare-and-swap.
    """
    now = timezone.now()
    stale_after = stale_after if stale_after is not None else timedelta(seconds=conf.stale_seconds())
    requeue_after = requeue_after if requeue_after is not None else timedelta(seconds=conf.requeue_seconds())
    counts = {"failed": 0, "requeued": 0, "abandoned": 0, "resumed": 0, "cleaned": 0}
    for job in Job.objects.filter(status__in=RUNNING, heartbeat__lt=now - stale_after, resume_at__isnull=True):
        if _fail_lost(job, WORKER_LOST, RUNNING):
            counts["failed"] += 1
    _retry_cleanups(counts)
    _resume_lost_parks(now - stale_after, now, counts)
    _resend_not_started(now - requeue_after, now, counts)
    return counts


def _retry_cleanups(counts: dict[str, int]) -> None:
    """A stopped job whose cleanup could not undo everything (the fabric did not answer): try again."""
    for job in Job.objects.filter(status__in=STOPPED, params__has_key=CLEANUP_PENDING)[:CLEANUPS_PER_PASS]:
        queue.run_cleanup(job, reason="retry")
        counts["cleaned"] += CLEANUP_PENDING not in Job.objects.get(pk=job.pk).params


def _resume_lost_parks(overdue: datetime, now: datetime, counts: dict[str, int]) -> None:
    """A parked job whose task did not come back in time (the broker lost it, or the worker holding it died): send
    it again; resuming is a compare-and-swap, so a late original and this copy never both run it."""
    for job in Job.objects.filter(status__in=RUNNING, resume_at__lt=overdue):
        if Job.objects.filter(pk=job.pk, resume_at=job.resume_at).update(resume_at=now):
            queue.enqueue(job.pk, job.task_name)
            counts["resumed"] += 1


def _resend_not_started(overdue: datetime, now: datetime, counts: dict[str, int]) -> None:
    # Jobs whose task could not be sent (the broker was down): this pass runs, so the broker answers again.
    for job in Job.objects.filter(status=Status.NOT_STARTED, enqueued__isnull=True):
        if Job.objects.filter(pk=job.pk, enqueued__isnull=True).update(enqueued=now,
                                                                       enqueue_count=job.enqueue_count + 1):
            counts["requeued"] += int(queue.enqueue(job.pk, job.task_name))
    for job in Job.objects.filter(status=Status.NOT_STARTED, enqueued__lt=overdue):
        if job.enqueue_count >= conf.max_enqueues():
            counts["abandoned"] += _fail_lost(job, NEVER_PICKED_UP, [Status.NOT_STARTED])
            continue
        # The broker may have lost the message (a Redis restart without persistence); the
        # claim is a compare-and-swap, so a duplicate delivery runs nothing twice.
        moved = Job.objects.filter(pk=job.pk, status=Status.NOT_STARTED, enqueue_count=job.enqueue_count).update(
            enqueued=now, enqueue_count=job.enqueue_count + 1)
        if moved:
            queue.enqueue(job.pk, job.task_name)
            counts["requeued"] += 1


def _fail_lost(job: Job, error: JobError, sources: Iterable[str]) -> bool:
    with translation.override(job.requester_language()), transaction.atomic():  # worded for the requester
        if not job.fail(error.code, error.message, error.recommendations, retryable=True, sources=sources):
            return False
        job.close_subtasks(Status.FAILED)
        live.publish(job)
    log.warning("job %s (%s) failed by the reconciler: %s", job.pk, job.task_name, error.code)
    if job.started:
        queue.run_cleanup(job, reason=error.code)
    queue.run_on_failure(job)
    job_ended.send_robust(sender=Job, job=job)
    return True
