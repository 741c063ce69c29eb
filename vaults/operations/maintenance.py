"""The vault's own jobs and the data-removing ones: Stop Protection, Delete Backup Data, Retention, Garbage
Collection, Verify and Replicate.

Delete Backup Data soft deletes when the vault has soft delete on, and Retention purges the soft-deleted items whose
period ended (``vaults.services.soft_delete``); UNDELETE is ``vaults.operations.undelete``.

A vault-wide job runs once per vault and kind at a time: a second request while one runs is refused with the
usual "Another operation is in progress". The beat tasks (``vaults.operations.beat``) start them for every vault.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError, OperationInProgress
from jobs.models import Job, Operation
from jobs.runner import JobContext
from jobs.throughput import Meter
from portal.events import publish
from vaults.models import ProtectedItem, RecoveryPoint, User, Vault
from vaults.operations.base import VaultOperation
from vaults.services import backup, soft_delete
from vaults.services.protection import check_delete_data, check_stop
from vaults.services.refusals import require_operator
from vaults.services.storage import delete_points, open_store, record_storage_used, secondary_path, secondary_store
from vaultstore import StoreBusyError


class VaultJob(VaultOperation):
    """A job on a whole vault."""

    @classmethod
    def start(cls, vault: Vault, user: User = None, **params: Any) -> Job:
        return cls._enqueue(user, vault, item_type="vault", item_key=f"vault:{vault.pk}:{cls.operation}",
                            item_name=vault.name, params={"vault": vault.pk, **params})

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        vault = Vault.objects.select_related("subscription").filter(pk=ctx.params["vault"]).first()
        if vault is not None:  # a vault deleted meanwhile needs nothing more
            cls.run_on(ctx, vault)

    @classmethod
    def run_on(cls, ctx: JobContext, vault: Vault) -> None:
        raise NotImplementedError


# --- Stop Protection and Delete Backup Data -----------------------------------------

class StopProtection(VaultOperation):
    task_name = "vaults.stop_protection"
    operation = Operation.STOP_PROTECTION

    @classmethod
    def start(cls, user: User, item: ProtectedItem, *, delete_data: bool, reason: str = "", comment: str = "") -> Job:
        """STOP PROTECTION: keep the data (Protection Stopped) or delete it (a Delete Backup Data job)."""
        check_stop(user, item, delete_data=delete_data)
        return (DeleteBackupData if delete_data else cls)._enqueue_for(user, item, reason=reason, comment=comment)

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = ProtectedItem.objects.select_related("item__vm", "vault").filter(pk=ctx.params["protected_item"]).first()
        if item is None:
            return
        ctx.set_property("Virtual machine", item.item.vm.display_name)
        if ctx.params.get("reason"):
            ctx.set_property("Reason", ctx.params["reason"])
        with ctx.subtask(gettext_noop("Stop protection")):
            item.stop()
        ctx.progress(100)
        publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk, "status": "stopped"})


class DeleteBackupData(VaultOperation):
    task_name = "vaults.delete_backup_data"
    operation = Operation.DELETE_BACKUP_DATA

    @classmethod
    def start(cls, user: User, item: ProtectedItem) -> Job:
        """DELETE on a Protection Stopped item."""
        check_delete_data(user, item)
        return cls._enqueue_for(user, item)

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = (ProtectedItem.objects.select_related("item__vm", "vault__subscription")
                .filter(pk=ctx.params["protected_item"]).first())
        if item is None or item.is_soft_deleted:
            return  # already deleted: a redelivered message
        ctx.set_property("Virtual machine", item.item.vm.display_name)
        if refusal := soft_delete.deletion_refusal(item):  # the vault became immutable since the job was started
            raise JobError("ImmutableVault", refusal, [_("Stop protection keeping the data instead.")])
        with ctx.subtask(gettext_noop("Stop protection")):
            item.stop()
        if item.vault.soft_delete_enabled:
            cls._soft_delete(ctx, item)
        else:
            cls._delete(ctx, item)

    @classmethod
    def _soft_delete(cls, ctx: JobContext, item: ProtectedItem) -> None:
        """The points stay, restorable and undeletable, until the purge date; nothing leaves the store."""
        with ctx.subtask(gettext_noop("Soft delete backup data")):
            ctx.set_property("Recovery points kept", item.recovery_points.count())
            until = soft_delete.soft_delete_item(ctx.job.requested_by, item, job=ctx.job)
            if until is not None:
                ctx.set_property("Purged after", f"{until:%Y-%m-%d %H:%M} UTC")
        ctx.progress(100)
        publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk, "status": item.status})

    @classmethod
    def _delete(cls, ctx: JobContext, item: ProtectedItem) -> None:
        """Soft delete is off: the points go now (their chunks at the next garbage collection)."""
        vault = item.vault
        with ctx.subtask(gettext_noop("Delete backup data")):
            ctx.set_property("Recovery points deleted", delete_points(vault, item.recovery_points.all()))
            if item.base_snapshots:
                backup.release_snapshots(vault.subscription.endpoint, item.base_snapshots)
            item.delete()
        record_storage_used(vault)
        ctx.progress(100)
        publish([f"vault:{vault.pk}"], "item", {"protected_item": ctx.params["protected_item"], "status": "removed"})


# --- The vault's own jobs -------------------------------------------------------------

class Retention(VaultJob):
    task_name = "vaults.retention"
    operation = Operation.RETENTION

    @classmethod
    def run_on(cls, ctx: JobContext, vault: Vault) -> None:
        with ctx.subtask(gettext_noop("Delete expired recovery points")):
            # The newest point of an item is its next incremental's base; retention may still remove it once expired.
            # A soft-deleted item's points wait for the purge, whatever their expiry.
            expired = (RecoveryPoint.objects.filter(protected_item__vault=vault, expires__lte=timezone.now())
                       .exclude(protected_item__status__in=ProtectedItem.DELETED))
            deleted = delete_points(vault, expired)
            ctx.set_property("Recovery points deleted", deleted)
        with ctx.subtask(gettext_noop("Purge soft-deleted backup data")):
            purged = soft_delete.purge_due(vault, job=ctx.job)
            ctx.set_property("Soft-deleted items purged", purged.items)
            ctx.set_property("Recovery points purged", purged.points)
            if purged.postponed:
                ctx.set_property("Purges postponed by immutability", purged.postponed)
        record_storage_used(vault)
        ctx.progress(100)
        if deleted or purged.items or purged.postponed:
            publish([f"vault:{vault.pk}"], "item", {"retention": deleted, "purged": purged.items})


class GarbageCollection(VaultJob):
    """``params``: ``grace`` (seconds an unreferenced chunk is kept), ``lock_timeout`` (wait for running backups)."""

    task_name = "vaults.collect_garbage"
    operation = Operation.GARBAGE_COLLECTION

    @classmethod
    def run_on(cls, ctx: JobContext, vault: Vault) -> None:
        store = open_store(vault)
        with ctx.subtask(gettext_noop("Remove unreferenced chunks")):
            try:
                report = store.collect_garbage(grace_seconds=float(ctx.params.get("grace", 3600)),
                                               timeout=float(ctx.params.get("lock_timeout", 60)))
            except StoreBusyError as error:
                raise JobError("StoreBusy", _("A backup or restore is using the vault store; garbage collection waits "
                                              "for it to finish."), [_("Run garbage collection again later.")],
                               retryable=True) from error
            ctx.set_property("Chunks deleted", report.chunks_deleted)
            ctx.set_property("Bytes freed", report.bytes_freed)
            if report.dead_waiting:
                ctx.set_property("Chunks left for a later run", report.dead_waiting)  # their packs are still mostly live
        record_storage_used(vault, store)
        ctx.progress(100)


class Verify(VaultJob):
    task_name = "vaults.verify"
    operation = Operation.VERIFY

    @classmethod
    def start_for(cls, user: User, vault: Vault) -> Job:
        """VERIFY on the command bar and ``manage.py verify``."""
        require_operator(user, "verify backup data")
        return cls.start(vault, user)

    @classmethod
    def run_on(cls, ctx: JobContext, vault: Vault) -> None:
        store = open_store(vault)
        with ctx.subtask(gettext_noop("Verify recovery points")):
            meter = Meter(ctx)
            meter.enter("Reading every chunk back")
            report = store.verify(progress=lambda done, total: meter.update(done, total, 100 * done / max(total, 1)),
                                  cancel=ctx.check_cancelled)
            meter.finish()
            ctx.set_property("Recovery points checked", report.points_checked)
            ctx.set_property("Chunks checked", report.chunks_checked)
        if report.rebuilt_packs:
            ctx.warn(f"The index of {len(report.rebuilt_packs)} pack file(s) was damaged and was rebuilt from the "
                     f"chunks they hold: {', '.join(report.rebuilt_packs)}. Garbage collection rewrites them.")
        if report.ok:
            ctx.progress(100)
            return
        repaired: list[str] = []
        secondary = secondary_store(vault) if report.bad_chunks else None
        if secondary is not None:
            with ctx.subtask(gettext_noop("Repair from the paired region")):
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
        # The store's summary stays in English (vaultstore words it); the sentence around it is translated.
        repair_note = " " + _("%(count)s of the damaged chunks were repaired from the paired region.") % {
            "count": len(repaired)} if repaired else ""
        values = {"names": "; ".join(names) or _("none listed")}
        label = (_("Still affected: %(names)s.") if secondary is not None else _("Affected: %(names)s.")) % values
        raise JobError("VaultDataCorrupted", f"{report.summary()}{repair_note} {label}",
                       [_("Do not rely on the affected recovery points; take a new backup of the affected VMs."),
                        _("A GRS vault repairs damaged chunks from its paired region's copy, and restores read from "
                          "it.")])


def _point_names(vault: Vault, point_ids: set[str]) -> list[str]:
    rows = (RecoveryPoint.objects.filter(protected_item__vault=vault, store_point_id__in=point_ids)
            .select_related("protected_item__item__vm").order_by("created"))
    return [row.label for row in rows]


class Replicate(VaultJob):
    task_name = "vaults.replicate"
    operation = Operation.REPLICATE

    @classmethod
    def start(cls, vault: Vault, user: User = None, **params: Any) -> Job | None:
        """A Replicate job for a GRS vault; None for LRS, or when one is already running (it will pick the new
        point up next time)."""
        if secondary_path(vault) is None:
            return None
        try:
            with transaction.atomic():
                return super().start(vault, user, **params)
        except OperationInProgress:
            return None

    @classmethod
    def run_on(cls, ctx: JobContext, vault: Vault) -> None:
        if secondary_path(vault) is None:
            return
        ctx.set_property("Paired region", vault.paired_region)
        with ctx.subtask(gettext_noop("Copy new data to the paired region")):
            meter = Meter(ctx)
            meter.enter("Copying to the paired region")
            report = open_store(vault).replicate_to(
                secondary_store(vault, create=True),
                progress=lambda done, total: meter.update(done, total, 100 * done / max(total, 1)),
                cancel=ctx.check_cancelled)
            meter.finish(report.bytes_copied)
            ctx.set_property("Recovery points copied", len(report.points_copied))
        if report.failed_points:
            ctx.warn(f"Recovery points not copied: {', '.join(sorted(report.failed_points))}")
        ctx.progress(100)
