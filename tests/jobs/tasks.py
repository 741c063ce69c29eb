"""Job types that exist only for the test suite; workers load them through CELERY_IMPORTS.

``tests.jobs.work`` does ``steps`` units of work of ``delay`` seconds each,
reporting progress, inside the sub-tasks named in ``subtasks``. Other
parameters make it fail in the ways the runner must handle. It "writes" a
marker file (``marker``) as its side effect, which the cleanup hook removes, so
tests can see that a stopped job left nothing half-done; the failure hook
writes ``<marker>.failed`` with the failed job's status and error code.
``transient_in`` names the sub-task inside which the ``transient`` errors are
raised (by default, before any sub-task). ``wait_for`` names a file the job
waits for (``ctx.wait``, parking the job while it is not there) for at most
``wait_timeout`` seconds, in a sub-task "Wait", before its work.
"""

from __future__ import annotations

import os
from pathlib import Path

from jobs.errors import JobError, TransientError
from jobs.models import Job
from jobs.runner import JobContext, job_task

KILL_QUEUE = f"{os.environ.get('CELERY_QUEUE', 'celery')}-kill"


def remove_marker(job: Job, reason: str) -> None:
    marker = job.params.get("marker")
    if marker:
        Path(marker).unlink(missing_ok=True)
        Path(marker + ".cleaned").write_text(reason)


def note_failure(job: Job) -> None:
    marker = job.params.get("marker")
    if marker:
        with open(marker + ".failed", "a") as file:
            file.write(f"{job.status} {job.error_code}\n")


def _transient(ctx: JobContext) -> None:
    if ctx.job.attempts < ctx.params.get("transient", 0):
        raise TransientError("fabric answered 503 Service Unavailable")


def work(ctx: JobContext) -> None:
    params = ctx.params
    if params.get("marker"):
        Path(params["marker"]).write_text(str(ctx.job.pk))
    if not params.get("transient_in"):
        _transient(ctx)
    if params.get("wait_for"):
        with ctx.subtask("Wait"):
            if not ctx.wait("file", Path(params["wait_for"]).exists, timeout=float(params.get("wait_timeout", 60))):
                raise JobError("WaitTimedOut", "The file did not appear in time.", ["Create it sooner."])
            ctx.remember(waited=int(params.get("waited", 0)) + 1)
    steps, delay = int(params.get("steps", 3)), float(params.get("delay", 0.05))
    names = params.get("subtasks") or ["Work"]
    done = 0
    for name in names:
        with ctx.subtask(name):
            if name == params.get("transient_in"):
                _transient(ctx)
            for _ in range(steps):
                ctx.sleep(delay)
                done += 1
                ctx.progress(100 * done / (steps * len(names)), **{"Transferred Units": done})
    if params.get("error"):
        raise JobError(**params["error"])
    if params.get("crash"):
        raise RuntimeError("unexpected")
    if params.get("warn"):
        ctx.warn(params["warn"])
    ctx.set_property("Backup Size", "42 MB")
    ctx.log.info("work done")


work_task = job_task("tests.jobs.work", cleanup=remove_marker, on_failure=note_failure)(work)
kill_target = job_task("tests.jobs.kill_target", cleanup=remove_marker, queue=KILL_QUEUE)(work)
