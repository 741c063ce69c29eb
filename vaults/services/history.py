"""What the vault dashboard's charts show, read from the rows: storage used per day, backups per day by outcome,
and each protected item's latest backups (how long they took, how much they moved).

Figures only; drawing them is ``portal.charts``. Days are the current time zone's (the user's, on a page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_noop

from jobs.models import Job, Operation, Status
from jobs.throughput import bytes_moved
from vaults.models import StorageSample, Vault

DAYS = 30
BACKUPS_PER_ITEM = 10

# The outcomes of a backup, as the chart names them, with the statuses each gathers.
# English names (keys of the chart's colours), translated where they are drawn (vaults.views.charts).
OUTCOMES = ((gettext_noop("Completed"), Status.COMPLETED),
            (gettext_noop("Completed with warnings"), Status.COMPLETED_WITH_WARNINGS), (gettext_noop("Failed"), Status.FAILED))


def window(days: int = DAYS, today: date | None = None) -> list[date]:
    """The last ``days`` days, oldest first, ending today."""
    today = today or timezone.localdate()
    return [today - timedelta(days=days - 1 - n) for n in range(days)]


def storage_per_day(vault: Vault, days: list[date]) -> list[int | None]:
    """Bytes used at the end of each day: the day's sample, else the last one before it; None before any."""
    samples = dict(StorageSample.objects.filter(vault=vault, day__gte=days[0], day__lte=days[-1])
                   .values_list("day", "bytes_used"))
    before = (StorageSample.objects.filter(vault=vault, day__lt=days[0]).order_by("-day")
              .values_list("bytes_used", flat=True).first())
    values: list[int | None] = []
    for day in days:
        before = samples.get(day, before)
        values.append(before)
    if values[-1] is None and vault.storage_used:
        values[-1] = vault.storage_used  # a vault that held data before the samples began: today's figure is known
    return values


def backups_per_day(vault: Vault, days: list[date]) -> dict[str, list[int]]:
    """Outcome -> backups that ended that way, per day (by the day they started), counted in one GROUP BY."""
    start = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    rows = (Job.objects.filter(vault=vault, operation=Operation.BACKUP, created__gte=start)
            .annotate(day=TruncDate("created")).values("day")
            .annotate(**{f"n{i}": Count("pk", filter=Q(status=status)) for i, (_, status) in enumerate(OUTCOMES)})
            .order_by())
    by_day = {row["day"]: row for row in rows}
    return {name: [by_day.get(day, {}).get(f"n{i}", 0) for day in days] for i, (name, _) in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class ItemBackup:
    created: datetime
    seconds: float
    bytes: int | None  # None: the job predates the throughput record


@dataclass(frozen=True)
class ItemBackups:
    name: str
    backups: list[ItemBackup]  # oldest first


def latest_backups(vault: Vault, per_item: int = BACKUPS_PER_ITEM) -> list[ItemBackups]:
    """Each protected item's latest ``per_item`` successful backups, read in one query (a window function)."""
    ranked = (Job.objects.filter(vault=vault, operation=Operation.BACKUP,
                                 status__in=[Status.COMPLETED, Status.COMPLETED_WITH_WARNINGS], duration__isnull=False)
              .annotate(rank=Window(RowNumber(), partition_by=[F("item_key")], order_by=F("created").desc()))
              .filter(rank__lte=per_item).only("item_key", "item_name", "created", "duration", "properties")
              .order_by("item_name", "item_key", "created"))
    items: dict[str, ItemBackups] = {}
    for job in ranked:
        entry = items.setdefault(job.item_key, ItemBackups(job.item_name, []))
        entry.backups.append(ItemBackup(job.created, job.duration.total_seconds(), bytes_moved(job.properties)))
    return list(items.values())
