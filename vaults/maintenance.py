"""The vault's own jobs and the data-removing ones: Replicate, Retention, Garbage Collection, Verify,
Stop Protection and Delete Backup Data.

Services start jobs (one per vault and kind at a time: a second request while
one runs is refused with the usual "Another operation is in progress"); the
job functions below run them. Imported by ``vaults.tasks`` so Celery registers
the tasks; the beat tasks start jobs for every vault.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from jobs.errors import JobError, OperationInProgress
from jobs.models import Operation
from jobs.runner import JobContext, job_task
from jobs.services import start_job
from portal.events import publish
from vaults import backup
from vaults.models import Vault
from vaults.protection_models import ProtectedItem, RecoveryPoint
from vaults.store import StoreBusyError, VaultStore

log = logging.getLogger(__name__)


def _vault_job(vault: Vault, operation: str, task: str, user=None, params: dict | None = None, name: str = ""):
    return start_job(operation=operation, user=user, subscription=vault.subscription, vault=vault, item_type="vault",
                     item_key=f"vault:{vault.pk}:{operation}", item_name=name or vault.name, task_name=task,
                     params={"vault": vault.pk, **(params or {})})


def start_replicate(vault: Vault, user=None):
    """A Replicate job for a GRS vault; None when one is already running (it will pick the new point up next time)."""
    if backup.secondary_path(vault) is None:
        return None
    try:
        with transaction.atomic():
            return _vault_job(vault, Operation.REPLICATE, "vaults.replicate", user)
    except OperationInProgress:
        return None


def start_verify(vault: Vault, user=None):
    return _vault_job(vault, Operation.VERIFY, "vaults.verify", user)


def start_retention(vault: Vault, user=None):
    return _vault_job(vault, Operation.RETENTION, "vaults.retention", user)


def start_gc(vault: Vault, user=None, **params):
    """``params``: ``grace`` (seconds an unreferenced chunk is kept), ``lock_timeout`` (wait for running backups)."""
    return _vault_job(vault, Operation.GARBAGE_COLLECTION, "vaults.collect_garbage", user, params)


def stop_protection(user, item: ProtectedItem, *, delete_data: bool, reason: str = "", comment: str = ""):
    """STOP PROTECTION: keep the data (Protection Stopped) or delete it (a Delete Backup Data job)."""
    vault, registered = item.vault, item.item
    operation = Operation.DELETE_BACKUP_DATA if delete_data else Operation.STOP_PROTECTION
    with transaction.atomic():
        job = start_job(operation=operation, user=user, subscription=vault.subscription, vault=vault, item_type="vm",
                        item_key=registered.item_key, item_name=registered.vm.name,
                        task_name="vaults.delete_backup_data" if delete_data else "vaults.stop_protection",
                        params={"protected_item": item.pk, "reason": reason, "comment": comment})
    return job


def delete_backup_data(user, item: ProtectedItem):
    """DELETE on a Protection Stopped item."""
    return stop_protection(user, item, delete_data=True)


# --- Job functions -------------------------------------------------------------

@job_task("vaults.stop_protection")
def stop_protection_job(ctx: JobContext) -> None:
    item = ProtectedItem.objects.select_related("item__vm", "vault").filter(pk=ctx.params["protected_item"]).first()
    if item is None:
        return
    ctx.set_property("Virtual machine", item.item.vm.name)
    if ctx.params.get("reason"):
        ctx.set_property("Reason", ctx.params["reason"])
    with ctx.subtask("Stop protection"):
        ProtectedItem.objects.filter(pk=item.pk).update(status=ProtectedItem.Status.STOPPED)
    ctx.progress(100)
    publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk, "status": "stopped"})


@job_task("vaults.delete_backup_data")
def delete_backup_data_job(ctx: JobContext) -> None:
    item = (ProtectedItem.objects.select_related("item__vm", "vault__subscription")
            .filter(pk=ctx.params["protected_item"]).first())
    if item is None:
        return  # already deleted: a redelivered message
    vault = item.vault
    ctx.set_property("Virtual machine", item.item.vm.name)
    with ctx.subtask("Stop protection"):
        ProtectedItem.objects.filter(pk=item.pk).update(status=ProtectedItem.Status.STOPPED)
    with ctx.subtask("Delete backup data"):
        ids = list(item.recovery_points.values_list("store_point_id", flat=True))
        store = backup.open_store(vault)
        # Rows first: a point the portal no longer lists is never offered for restore while its files go.
        with transaction.atomic():
            item.recovery_points.all().delete()
        store.delete_points(ids)
        ctx.set_property("Recovery points deleted", len(ids))
        if item.base_snapshots:
            backup.release_snapshots(vault.subscription.endpoint, item.base_snapshots)
        item.delete()
    ctx.progress(100)
    publish([f"vault:{vault.pk}"], "item", {"protected_item": ctx.params["protected_item"], "status": "removed"})


@job_task("vaults.retention")
def retention_job(ctx: JobContext) -> None:
    vault = Vault.objects.filter(pk=ctx.params["vault"]).first()
    if vault is None:
        return
    now = timezone.now()
    with ctx.subtask("Delete expired recovery points"):
        expired = RecoveryPoint.objects.filter(protected_item__vault=vault, expires__lte=now)
        # The newest point of an item is its next incremental's base; retention may still remove it once expired.
        ids = list(expired.values_list("store_point_id", flat=True))
        with transaction.atomic():
            expired.delete()
        backup.open_store(vault).delete_points(ids)
        ctx.set_property("Recovery points deleted", len(ids))
    ctx.progress(100)
    if ids:
        publish([f"vault:{vault.pk}"], "item", {"retention": len(ids)})


@job_task("vaults.collect_garbage")
def gc_job(ctx: JobContext) -> None:
    vault = Vault.objects.filter(pk=ctx.params["vault"]).first()
    if vault is None:
        return
    with ctx.subtask("Remove unreferenced chunks"):
        try:
            report = backup.open_store(vault).collect_garbage(grace_seconds=float(ctx.params.get("grace", 3600)),
                                                              timeout=float(ctx.params.get("lock_timeout", 60)))
        except StoreBusyError as error:
            raise JobError("StoreBusy", "A backup or restore is using the vault store; garbage collection waits for "
                           "it to finish.", ["Run garbage collection again later."], retryable=True) from error
        ctx.set_property("Chunks deleted", report.chunks_deleted)
        ctx.set_property("Bytes freed", report.bytes_freed)
        if report.dead_waiting:
            ctx.set_property("Chunks left for a later run", report.dead_waiting)  # their packs are still mostly live
    ctx.progress(100)


@job_task("vaults.verify")
def verify_job(ctx: JobContext) -> None:
    vault = Vault.objects.filter(pk=ctx.params["vault"]).first()
    if vault is None:
        return
    store = backup.open_store(vault)
    with ctx.subtask("Verify recovery points"):
        report = store.verify(
            progress=lambda done, total: ctx.progress(100 * done / max(total, 1)), cancel=ctx.check_cancelled)
        ctx.set_property("Recovery points checked", report.points_checked)
        ctx.set_property("Chunks checked", report.chunks_checked)
    if report.ok:
        ctx.progress(100)
        return
    repaired: list[str] = []
    secondary = backup.secondary_store(vault) if report.bad_chunks else None
    if secondary is not None:
        with ctx.subtask("Repair from the paired region"):
            repaired = store.repair_from(secondary, report.bad_chunks)
            ctx.set_property("Chunks repaired", len(repaired))
    whole = set(repaired)
    damaged = {point for point, chunks in report.affected_points.items() if not whole.issuperset(chunks)}
    damaged |= set(report.corrupt_manifests)
    if repaired:
        fixed = _point_names(vault, set(report.affected_points) - damaged)
        copied = "1 damaged chunk was" if len(repaired) == 1 else f"{len(repaired)} damaged chunks were"
        ctx.warn(f"{copied} copied back from the paired region ({vault.paired_region}); these recovery points are "
                 f"whole again: {'; '.join(fixed) or 'none'}.")
    if not damaged:
        ctx.progress(100)
        return
    names = _point_names(vault, damaged)
    ctx.set_property("Affected recovery points", names)
    repair_note = f" {len(repaired)} of the damaged chunks were repaired from the paired region." if repaired else ""
    label = "Still affected" if secondary is not None else "Affected"
    raise JobError("VaultDataCorrupted", f"{report.summary()}{repair_note} {label}: {'; '.join(names) or 'none listed'}.",
                   ["Do not rely on the affected recovery points; take a new backup of the affected VMs.",
                    "A GRS vault repairs damaged chunks from its paired region's copy, and restores read from it."])


def _point_names(vault: Vault, point_ids: set[str]) -> list[str]:
    rows = (RecoveryPoint.objects.filter(protected_item__vault=vault, store_point_id__in=point_ids)
            .select_related("protected_item__item__vm").order_by("created"))
    return [f"{row.protected_item.item.vm.name} @ {row.created:%Y-%m-%d %H:%M:%S} UTC" for row in rows]


@job_task("vaults.replicate")
def replicate_job(ctx: JobContext) -> None:
    vault = Vault.objects.filter(pk=ctx.params["vault"]).first()
    if vault is None:
        return
    path = backup.secondary_path(vault)
    if path is None:
        return
    ctx.set_property("Paired region", vault.paired_region)
    with ctx.subtask("Copy new data to the paired region"):
        secondary = VaultStore.open_or_create(path)
        report = backup.open_store(vault).replicate_to(
            secondary, progress=lambda done, total: ctx.progress(100 * done / max(total, 1)), cancel=ctx.check_cancelled)
        ctx.set_property("Recovery points copied", len(report.points_copied))
    if report.failed_points:
        ctx.warn(f"Recovery points not copied: {', '.join(sorted(report.failed_points))}")
    ctx.progress(100)


# --- Beat ------------------------------------------------------------------------

def _for_every_vault(start) -> int:
    started = 0
    for vault in Vault.objects.filter(status="active").select_related("subscription"):
        try:
            with transaction.atomic():
                start(vault)
            started += 1
        except OperationInProgress:
            continue
    return started


@shared_task(name="vaults.daily_retention", ignore_result=True)
def daily_retention() -> int:
    return _for_every_vault(start_retention)


@shared_task(name="vaults.weekly_verify", ignore_result=True)
def weekly_verify() -> int:
    return _for_every_vault(start_verify)


@shared_task(name="vaults.daily_gc", ignore_result=True)
def daily_gc() -> int:
    return _for_every_vault(start_gc)
