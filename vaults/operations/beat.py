"""The beat's periodic tasks: the scheduler's tick, and the daily and weekly maintenance of every vault."""

from __future__ import annotations

from collections.abc import Callable

from celery import shared_task
from django.db import transaction

from jobs.errors import OperationInProgress
from vaults.models import Vault
from vaults.operations import scheduler
from vaults.operations.maintenance import GarbageCollection, Retention, VaultJob, Verify


@shared_task(name="vaults.schedule_backups", ignore_result=True)
def schedule_backups() -> dict[str, int]:
    """The beat tick (every minute): start the scheduled backups that are due."""
    return scheduler.tick().as_dict()


def _for_every_vault(start: Callable[[Vault], object]) -> int:
    started = 0
    for vault in Vault.objects.filter(status=Vault.Status.ACTIVE).select_related("subscription"):
        try:
            with transaction.atomic():
                start(vault)
            started += 1
        except OperationInProgress:
            continue
    return started


def _start(operation: type[VaultJob]) -> Callable[[Vault], object]:
    return lambda vault: operation.start(vault)


@shared_task(name="vaults.daily_retention", ignore_result=True)
def daily_retention() -> int:
    return _for_every_vault(_start(Retention))


@shared_task(name="vaults.weekly_verify", ignore_result=True)
def weekly_verify() -> int:
    return _for_every_vault(_start(Verify))


@shared_task(name="vaults.daily_gc", ignore_result=True)
def daily_gc() -> int:
    return _for_every_vault(_start(GarbageCollection))
