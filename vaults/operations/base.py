"""``VaultOperation``: the base of every job type of the vaults app.

A subclass names its task and operation and defines ``run(ctx)`` (and, when a stopped job must undo its writes,
``cleanup(job, reason)``; when a failure must show where users look, ``on_failure(job)``). Defining the class
registers the Celery task through the jobs runner. Its ``start`` classmethods check through the services and
call ``_enqueue``, which makes the Job row and sends the task once the transaction commits.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar

from jobs.models import Job
from jobs.runner import JobContext, JobTask, job_task
from jobs.services import start_job
from vaults.cloud.polling import Waiter
from vaults.models import ProtectedItem, User, Vault


class VaultOperation:
    task_name: ClassVar[str] = ""
    operation: ClassVar[str] = ""
    task: ClassVar[JobTask]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.task_name:
            return
        hooks = {name: getattr(cls, name) for name in ("cleanup", "on_failure") if name in vars(cls)}
        cls.task = job_task(cls.task_name, **hooks)(cls.run)

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        raise NotImplementedError

    @classmethod
    def _enqueue(cls, user: User, vault: Vault, *, item_type: str, item_key: str, item_name: str,
                 params: dict[str, Any]) -> Job:
        """The Job row, enqueued when the caller's transaction commits (``OperationInProgress`` while another job
        holds ``item_key``)."""
        return start_job(operation=cls.operation, user=user, subscription=vault.subscription, vault=vault,
                         item_type=item_type, item_key=item_key, item_name=item_name, task_name=cls.task_name,
                         params=params)

    @classmethod
    def _enqueue_for(cls, user: User, item: ProtectedItem, **params: Any) -> Job:
        """A job on a protected item: one operation at a time on its VM."""
        return cls._enqueue(user, item.vault, item_type="vm", item_key=item.item.item_key, item_name=item.item.vm.display_name,
                            params={"protected_item": item.pk, **params})


def parking(ctx: JobContext, key: str) -> Waiter:
    """The way a job waits for the fabric: briefly in the worker, then parked between checks (``ctx.wait``), so
    a hung agent or a slow operation holds no worker slot. ``key`` names the wait within the job."""
    waits = itertools.count()  # the n-th wait of a run: the same n when a resumed run reaches it again

    def wait(check: Callable[[], bool], timeout: float) -> bool:
        return ctx.wait(f"{key}-{next(waits)}", check, timeout=timeout)

    return wait
