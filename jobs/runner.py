"""The one runner every long operation goes through.

Declare a job type with ``job_task``; the function receives a ``JobContext``::

    from jobs.runner import JobContext, job_task
    from jobs.errors import JobError, TransientError

    def undo_register(job, reason: str) -> None:
        ...  # remove what a stopped job wrote; must be safe to run twice

    def register_failed(job) -> None:
        ...  # show job.error_message where the item is listed

    @job_task("vaults.register", cleanup=undo_register, on_failure=register_failed)
    def register(ctx: JobContext) -> None:
        item_id = ctx.params["item"]
        with ctx.subtask("Install backup extension"):
            ctx.check_cancelled()             # raises JobCancelled once a cancel was asked for
            ctx.progress(40, **{"Target VM": "vm01"})  # throttled to a few publishes a second
        ctx.set_property("Extension version", "1.0")
        ctx.log.info("registered")            # any logging from this thread lands in the job's log
        raise JobError("VMAgentMissing", "The VM agent is not installed.", ["Install the agent, then retry."])

The resulting Celery task takes the job id: ``register.delay(job.pk)`` works,
but callers use ``jobs.services.start_job``, which enqueues on commit.

The runner owns: the claim (Not Started -> In Progress, a compare-and-swap; a
redelivered message or a job that is gone is logged and ignored), a heartbeat
thread (which also notices cancellation), retries of ``TransientError`` with
backoff, the end (Completed, Completed With Warnings after ``ctx.warn()``,
Failed with the ``JobError``'s code, message and recommendations or an
internal error, Cancelled), the cleanup hook on every end but success, and the
``on_failure`` hook once the job is Failed (its error code and message set),
whether the runner or the reconciler failed it. The task function should
compute its remaining work from the database, so a retry never does it twice;
a retry that enters a sub-task again reuses its row (by name), so each step is
listed once, with its latest status and times.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.db import connection, transaction
from django.utils import timezone, translation

from jobs import conf, live, queue
from jobs.errors import INTERNAL_ERROR, JobCancelled, JobError, TransientError, transient_exhausted
from jobs.models import RUNNING, Job, Status, SubTask
from jobs.signals import job_ended
from portal.logs import job_context

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25  # seconds between progress publishes of one job
INLINE_WAIT = 2.0  # seconds a wait is polled in the worker before the job parks and frees its slot
INLINE_FIRST = 0.02  # the first pause of that polling: something over in a moment is seen at once
PARK_FIRST = 1.0  # the first park; each next one twice as long, up to PARK_LONGEST
PARK_LONGEST = 10.0
CANCEL_CHECK_INTERVAL = 0.5  # seconds between database reads in check_cancelled()
LOG_LIMIT = 1000  # lines kept in a job's log


class JobTask(Task):
    """Base of every job task. Long and not idempotent by nature, so never acks_late (see settings)."""

    acks_late = False
    ignore_result = True
    job_function: Callable[[JobContext], None] | None = None
    job_cleanup: Callable[[Job, str], None] | None = None
    job_on_failure: Callable[[Job], None] | None = None  # not Celery's on_failure, which sees exceptions, not jobs
    job_queue: str | None = None  # the broker queue its messages go to (e.g. heavy transfers apart)

    def run(self, job_id: int) -> None:  # type: ignore[override]
        run_job(self, job_id)


def job_task(name: str, *, cleanup: Callable[[Job, str], None] | None = None,
             on_failure: Callable[[Job], None] | None = None, queue: str | None = None,
             **options: Any) -> Callable[[Callable[[JobContext], None]], JobTask]:
    """Register ``fn(ctx)`` as the Celery task ``name``.

    ``cleanup(job, reason)`` undoes a stopped (failed or cancelled) job's writes;
    ``on_failure(job)`` runs once a job has ended Failed, after its cleanup, to
    record the failure where users look (e.g. the item the job was for).
    """

    def decorate(fn: Callable[[JobContext], None]) -> JobTask:
        def run(self: JobTask, job_id: int) -> None:
            run_job(self, job_id)

        run.__name__, run.__qualname__, run.__module__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__module__, fn.__doc__
        return shared_task(base=JobTask, bind=True, name=name, job_function=staticmethod(fn), job_queue=queue,
                           job_cleanup=staticmethod(cleanup) if cleanup else None,
                           job_on_failure=staticmethod(on_failure) if on_failure else None, **options)(run)

    return decorate


class _JobLogHandler(logging.Handler):
    """Routes the records of the job's thread into its log (kept in memory, saved with the job)."""

    def __init__(self, ctx: JobContext) -> None:
        super().__init__(logging.INFO)
        self.ctx = ctx
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or len(self.ctx.log_lines) >= LOG_LIMIT:
            return
        self.ctx.log_lines.append({"time": timezone.now().isoformat(timespec="seconds"), "level": record.levelname,
                                   "message": record.getMessage()})
        self.ctx.dirty = True


class _Heartbeat(threading.Thread):
    """Touches the job row every few seconds and notices a requested cancel, from its own connection."""

    def __init__(self, job_id: int, cancel: threading.Event) -> None:
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.job_id, self.cancel, self.stopped = job_id, cancel, threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(conf.heartbeat_seconds()):
                try:
                    Job.objects.filter(pk=self.job_id, status__in=RUNNING).update(heartbeat=timezone.now())
                    status = Job.objects.filter(pk=self.job_id).values_list("status", flat=True).first()
                except Exception:  # a locked or restarting database: try again next beat
                    log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)
                    continue
                if status == Status.CANCELLING:
                    self.cancel.set()
                elif status not in RUNNING:
                    return
        finally:
            connection.close()


class Parked(Exception):  # noqa: N818 - not an error: the job gives its worker slot back for ``seconds``
    """Raised by ``JobContext.wait``: park the job, send its task again in ``seconds``, free the worker slot."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"parked for {seconds:.1f} s")
        self.seconds = seconds


class JobContext:
    """What a job function works with: its job, parameters, progress, sub-tasks, properties and log."""

    def __init__(self, job: Job, task: JobTask) -> None:
        self.job = job
        self.task = task
        self.params: dict[str, Any] = dict(job.params)
        self.log = logging.getLogger(f"jobs.job.{task.name}")
        self.log_lines: list[dict[str, str]] = list(job.log)
        self.dirty = False
        self.warnings: list[str] = []
        self._cancel = threading.Event()
        self._last_check = 0.0
        self._last_publish = 0.0
        self._steps_this_attempt: set[str] = set()

    # --- cancellation -------------------------------------------------------

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if a cancel was requested. Call it between units of work."""
        if not self._cancel.is_set() and time.monotonic() - self._last_check >= CANCEL_CHECK_INTERVAL:
            self._last_check = time.monotonic()
            if self.job.refresh_status() == Status.CANCELLING:
                self._cancel.set()
        if self._cancel.is_set():
            raise JobCancelled()

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up (with ``JobCancelled``) when a cancel arrives."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.check_cancelled()
            time.sleep(min(left, CANCEL_CHECK_INTERVAL))
        self.check_cancelled()

    def wait(self, key: str, check: Callable[[], bool], *, timeout: float) -> bool:
        """Wait until ``check()`` is True (then True) or ``timeout`` seconds have passed (then False), without
        holding a worker slot for long.

        The first ``INLINE_WAIT`` seconds are polled here, so what is over in a moment costs nothing more. After
        that the job is parked (``Parked``): the task is sent again for a few seconds later and the slot is free
        for other jobs meanwhile; when it runs again, the job function starts from the top and must reach this
        call again without repeating what it already did (keep that in ``params``). ``key`` names the wait: its
        start is kept in the job's params, so the timeout counts from the first call across parks.
        """
        started = self.params.get(f"wait:{key}")
        if started is None:
            started = time.time()
            self.remember(**{f"wait:{key}": started})
        delay = INLINE_FIRST
        inline_until = time.monotonic() + INLINE_WAIT
        while True:
            self.check_cancelled()
            if check():
                return True
            waited = time.time() - started
            if waited >= timeout:
                return False
            if time.monotonic() + delay > inline_until:
                parks = int(self.params.get(f"parks:{key}", 0)) + 1
                self.remember(**{f"parks:{key}": parks})
                raise Parked(min(PARK_FIRST * 2 ** (parks - 1), PARK_LONGEST, max(timeout - waited, 0.05)))
            self.sleep(delay)
            delay = min(delay * 2, 0.5)

    def remember(self, **values: Any) -> None:
        """Keep values in the job's params, so a retry, a resumed run or the cleanup hook finds them."""
        self.job.params.update(values)
        self.params.update(values)
        Job.objects.filter(pk=self.job.pk).update(params=self.job.params)

    # --- progress, properties, warnings ----------------------------------

    def progress(self, percent: float, **properties: Any) -> None:
        """Record progress (0-100) and properties; saved and published at most every PROGRESS_INTERVAL."""
        self.job.progress = max(0, min(100, int(percent)))
        self.job.properties.update(properties)
        self.dirty = True
        if time.monotonic() - self._last_publish >= PROGRESS_INTERVAL or self.job.progress >= 100:
            self.flush(kind="progress")

    def set_property(self, name: str, value: Any) -> None:
        self.job.properties[name] = value
        self.dirty = True

    def warn(self, message: str) -> None:
        """The job will end Completed With Warnings; the message goes into its log and properties."""
        self.warnings.append(message)
        self.log.warning(message)
        self.job.properties["Warnings"] = list(self.warnings)

    def flush(self, kind: str | None = None) -> None:
        """Save progress, properties and log; publish when ``kind`` is given."""
        Job.objects.filter(pk=self.job.pk).update(progress=self.job.progress, properties=self.job.properties,
                                                  log=self.log_lines, attempts=self.job.attempts)
        self.dirty = False
        if kind:
            self._last_publish = time.monotonic()
            live.publish(self.job, kind)

    # --- sub-tasks ----------------------------------------------------------

    def new_attempt(self) -> None:
        """A retry begins: the sub-tasks it enters again reuse the rows of the earlier attempts."""
        self._steps_this_attempt.clear()

    @contextlib.contextmanager
    def subtask(self, name: str) -> Iterator[SubTask]:
        """A step with its own status and times: Completed on exit, Failed or Cancelled if it raises.

        A retry that enters a step an earlier attempt entered restarts that
        step's row, so the Details dialog lists each step once; a name entered
        twice within one attempt gets a second row.
        """
        sub = None
        if name not in self._steps_this_attempt:
            sub = self.job.subtasks.filter(name=name).order_by("-position").first()
        self._steps_this_attempt.add(name)
        if sub is None:
            position = self.job.subtasks.count() + 1
            sub = SubTask.objects.create(job=self.job, position=position, name=name, status=Status.IN_PROGRESS)
        elif sub.status != Status.IN_PROGRESS:  # entered again by a retry (a resumed job goes on with its step)
            sub.status, sub.started, sub.finished = Status.IN_PROGRESS, timezone.now(), None
            sub.save(update_fields=["status", "started", "finished"])
        self.flush(kind="subtask")
        status = Status.COMPLETED
        try:
            yield sub
        except Parked:
            status = Status.IN_PROGRESS  # the step goes on when the job resumes
            raise
        except JobCancelled:
            status = Status.CANCELLED
            raise
        except BaseException:
            status = Status.FAILED
            raise
        finally:
            if status != Status.IN_PROGRESS:
                sub.status, sub.finished = status, timezone.now()
                sub.save(update_fields=["status", "finished"])
                self.flush(kind="subtask")


def run_job(task: JobTask, job_id: int) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        log.warning("job %s is gone; nothing to run", job_id)
        return
    worker = f"{getattr(task.request, 'hostname', None) or socket.gethostname()}"
    if not (job.claim(worker) or job.resume(worker)):
        # A redelivered or re-sent message for a job already claimed (and not parked), ended or cancelled.
        log.info("job %s is %s, not Not Started nor parked; not running it again", job_id, job.refresh_status())
        return
    live.publish(job)
    ctx = JobContext(job, task)
    handler = _JobLogHandler(ctx)
    heartbeat = _Heartbeat(job.pk, ctx._cancel)
    logging.getLogger().addHandler(handler)
    heartbeat.start()
    try:
        with job_context(job.pk), translation.override(job.requester_language()):
            # Logged lines name the job (portal/logs.py); sentences stored on the row use the requester's language.
            _execute(ctx)
    finally:
        heartbeat.stopped.set()
        logging.getLogger().removeHandler(handler)
        heartbeat.join(5)


def _execute(ctx: JobContext) -> None:
    job, retries = ctx.job, conf.transient_retries()
    while True:
        try:
            try:
                ctx.check_cancelled()
                ctx.task.job_function(ctx)
            except Parked as parked:
                _park(ctx, parked.seconds)
                return
            except TransientError as error:
                job.attempts += 1
                if job.attempts > retries:
                    raise transient_exhausted(job.attempts, error) from error
                delay = conf.backoff_seconds(job.attempts)
                ctx.log.warning("temporary error (%s); attempt %s of %s in %.1f s", error, job.attempts + 1,
                                retries + 1, delay)
                ctx.flush()
                ctx.sleep(delay)
                ctx.new_attempt()
                continue
        except JobCancelled:
            _end_cancelled(ctx)
        except JobError as error:
            ctx.log.error("failed: %s %s", error.code, error.message)
            _end_failed(ctx, error)
        except Exception:
            ctx.log.exception("internal error")
            _end_failed(ctx, INTERNAL_ERROR)
        else:
            _end_succeeded(ctx)
        if job.is_terminal:
            # Robust: a listener's error is logged, never turned into the job's.
            for _receiver, outcome in job_ended.send_robust(sender=Job, job=job):
                if isinstance(outcome, Exception):
                    log.warning("a job_ended receiver failed for job %s: %s", job.pk, outcome)
        return


def _park(ctx: JobContext, seconds: float) -> None:
    """Give the worker slot back: the job stays In Progress, its task is sent again to run in ``seconds``. Should
    the message be lost (a broker restart), the reconciler sends it again once the job is overdue."""
    job = ctx.job
    ctx.flush()
    if job.park(timezone.now() + timedelta(seconds=seconds)):
        queue.enqueue(job.pk, job.task_name, countdown=seconds)


def _end_succeeded(ctx: JobContext) -> None:
    job = ctx.job
    ctx.flush()
    with transaction.atomic():
        won = job.complete(warnings=bool(ctx.warnings))
        if won:
            live.publish(job)
    if not won and job.refresh_status() == Status.CANCELLING:
        # Cancel asked for after the last check: honour it, the work is undone.
        _end_cancelled(ctx)
    elif not won:
        log.warning("job %s finished its work but is already %s", job.pk, job.status)


def _end_cancelled(ctx: JobContext) -> None:
    job = ctx.job
    ctx.log.info("cancelled; undoing what the job wrote")
    job.request_cancel()  # a task may raise JobCancelled itself; make the status say so
    ctx.flush()
    queue.run_cleanup(job, reason="cancelled")
    with transaction.atomic():
        job.close_subtasks(Status.CANCELLED)
        if job.cancelled():
            live.publish(job)


def _end_failed(ctx: JobContext, error: JobError) -> None:
    job = ctx.job
    ctx.flush()
    queue.run_cleanup(job, reason=error.code)
    with transaction.atomic():
        job.close_subtasks(Status.FAILED)
        failed = job.fail(error.code, error.message, error.recommendations, retryable=error.retryable)
        if failed:
            live.publish(job)
    if failed:  # not when the reconciler failed it first: it runs the hook itself
        queue.run_on_failure(job)
