"""The Backup job: Take Snapshot, then Transfer data to vault, then publish the point.

BACKUP NOW, ``manage.py backup_now`` and the scheduler all call ``Backup.start``. Parameters:
``{"protected_item": id, "slot": slot_id, "adhoc": bool}``. The steps are in ``vaults.services.backup``.
A cancelled, failed or killed backup leaves no point and no snapshot of its own (``cleanup``, which the
reconciler runs for a dead worker).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError
from jobs.models import Job, Operation
from jobs.runner import JobContext
from jobs.throughput import Meter
from portal.events import publish
from portal.units import DATA_BACKED_UP, DATA_TRANSFERRED, DISK_SIZE, NEW_DATA_STORED, human_bytes
from vaults.cloud.pageblob import blob_client
from vaults.models import ProtectedItem, RecoveryPoint, RegisteredItem, User, Vault
from vaults.operations.base import VaultOperation, parking
from vaults.operations.maintenance import Replicate
from vaults.services import backup
from vaults.services.backup import point_id_for
from vaults.services.failures import job_failures
from vaults.services.protection import check_backup
from vaults.services.storage import open_store, record_storage_used
from vaultstore import RecoveryPoint as StorePoint
from vaultstore import VaultStore

log = logging.getLogger(__name__)


class Backup(VaultOperation):
    task_name = "vaults.backup"
    operation = Operation.BACKUP

    @classmethod
    def start(cls, user: User, item: ProtectedItem, *, adhoc: bool = True, slot: str = "") -> Job:
        """One Backup job for a protected item (``user`` None: the scheduler or a command)."""
        check_backup(user, item)
        return cls.enqueue(item.vault, item.pk, item.item.vm_id, item.item.vm.display_name, user=user, adhoc=adhoc, slot=slot)

    @classmethod
    def enqueue(cls, vault: Vault, protected_item_id: int, vm_id: int, vm_name: str, *, user: User = None,
                adhoc: bool = False, slot: str = "") -> Job:
        """The job without the checks: the scheduler has made them in bulk for the items it claimed."""
        return cls._enqueue(user, vault, item_type="vm", item_key=RegisteredItem.key_of(vm_id), item_name=vm_name,
                            params={"protected_item": protected_item_id, "slot": slot, "adhoc": adhoc})

    @classmethod
    def cleanup(cls, job: Job, reason: str) -> None:
        """A stopped backup leaves no point and no snapshot of its own; the item keeps its previous base.

        Snapshots the fabric could not release now (it does not answer) are left to the reconciler, which runs
        this again until they are gone (``Job.mark_cleanup_pending``).
        """
        item = (ProtectedItem.objects.select_related("vault__subscription")
                .filter(pk=job.params.get("protected_item")).first())
        if item is None:
            job.mark_cleanup_pending("")
            return
        left = 0
        if not RecoveryPoint.objects.filter(protected_item=item, store_point_id=point_id_for(job.pk)).exists():
            try:
                store = open_store(item.vault)
                if store.has_point(point_id_for(job.pk)):
                    store.delete_points([point_id_for(job.pk)])
                # A worker that died mid-transfer left its temp packs and pending record: they go now.
                store.abandon(point_id_for(job.pk))
            except Exception:
                log.warning("could not remove the unpublished point of job %s", job.pk, exc_info=True)
            keep = {(v.get("media_link"), v.get("snapshot")) for v in (item.base_snapshots or {}).values()}
            drop = {k: v for k, v in (job.params.get("new_snapshots") or {}).items()
                    if (v.get("media_link"), v.get("snapshot")) not in keep}
            if drop:
                left = len(drop) - backup.release_snapshots(item.vault.subscription.endpoint, drop)
            if reason == "cancelled":  # a failure is recorded by on_failure, once the job is Failed
                item.record_backup_cancelled(timezone.now())
        job.mark_cleanup_pending(f"{left} snapshot(s)" if left else "")
        if reason != "retry":
            publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk})

    @classmethod
    def on_failure(cls, job: Job) -> None:
        """A failed backup puts its item in Protection Error, with the job's message, until a backup succeeds.

        Runs for every failure, whether the runner or the reconciler (a lost worker) failed the job; a cancelled
        backup is not a failure. A stopped item stays Protection Stopped. Nothing changes when a point was made
        since the job was created: this job published its own, or a later backup succeeded before this hook ran.
        """
        if ProtectedItem.record_backup_failed(job.params.get("protected_item"), job.created, job.error_message,
                                              timezone.now()):
            publish([f"vault:{job.vault_id}"], "item", {"protected_item": job.params.get("protected_item")})

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = (ProtectedItem.objects.select_related("item__vm", "vault__subscription", "policy")
                .filter(pk=ctx.params["protected_item"]).first())
        if item is None:
            return  # protection was removed meanwhile
        vm = item.item.vm
        ctx.set_property("Virtual machine", f"{vm.name} ({vm.cloud_service})")
        ctx.set_property("Backup type", "Backup now" if ctx.params.get("adhoc") else "Scheduled")
        if RecoveryPoint.objects.filter(protected_item=item, store_point_id=point_id_for(ctx.job.pk)).exists():
            return  # a redelivered run of a backup that already published its point
        if vm.gone:
            raise backup.vm_not_found(vm)
        if not item.is_active:  # stopped, or soft deleted
            raise JobError("ProtectionStopped", _("Protection of '%(vm)s' is stopped, so it is not backed up.")
                           % {"vm": vm.display_name}, [_("Protect the VM again to resume its backups.")])
        snapshot = _take_snapshot(ctx, item)
        created = timezone.now()
        with job_failures():
            store = open_store(item.vault)
        point = _transfer(ctx, item, store, snapshot, created)
        _publish(ctx, item, store, point, snapshot, created)


def _take_snapshot(ctx: JobContext, item: ProtectedItem) -> backup.Snapshot:
    endpoint = item.vault.subscription.endpoint
    vm = item.item.vm
    with ctx.subtask(gettext_noop("Take Snapshot")), job_failures(endpoint):
        task_id = ctx.params.get("task_id") or backup.new_task_id(ctx.job.pk)
        request_id = ctx.params.get("snapshot_request") or backup.request_snapshot(endpoint, vm, task_id)
        ctx.remember(task_id=task_id, snapshot_request=request_id)
        snapshot = backup.wait_for_snapshot(endpoint, vm, task_id, request_id, wait=parking(ctx, "snapshot"))
        ctx.remember(new_snapshots=snapshot.by_disk())
        with translation.override(None):  # stored as the English source; the Details dialog translates it
            ctx.set_property("Consistency", str(RecoveryPoint.Consistency(snapshot.consistency).label))
        ctx.progress(10)
    return snapshot


def _transfer(ctx: JobContext, item: ProtectedItem, store: VaultStore, snapshot: backup.Snapshot,
              created: datetime) -> StorePoint:
    vault = item.vault
    with ctx.subtask(gettext_noop("Transfer data to vault")), job_failures(vault.subscription.endpoint):
        point_id = point_id_for(ctx.job.pk)
        if store.has_point(point_id):
            store.delete_points([point_id])  # published by an earlier attempt whose row never got written

        def planned(total: int, incremental: bool) -> None:
            ctx.set_property("Backup kind", gettext_noop("Incremental") if incremental else gettext_noop("Full"))

        meter = Meter(ctx)
        meter.enter("Transferring data to the vault")

        def progress(done: int, total: int) -> None:
            meter.update(done, total, 10 + 85 * done / max(total, 1), **{DATA_TRANSFERRED: human_bytes(done)})

        point = backup.transfer(store, item, snapshot, blob_client(vault.subscription.endpoint), point_id=point_id,
                                created=created, metadata={"item": item.item.item_key, "job": ctx.job.pk},
                                planned=planned, progress=progress, cancel=ctx.check_cancelled)
        meter.finish(point.read_bytes)
        # Each size under its one name (portal/units.py): provisioned, in use, read this time, added to the vault.
        for name, count in ((DISK_SIZE, point.logical_bytes), (DATA_BACKED_UP, point.data_bytes),
                            (DATA_TRANSFERRED, point.read_bytes), (NEW_DATA_STORED, point.stored_bytes)):
            ctx.set_property(name, human_bytes(count))
        if point.healed_chunks:
            # Chunks the store no longer held whole (Verify found them damaged, or their pack is gone): read
            # again from the snapshot, so this point, and the item's next ones, are whole.
            ctx.set_property("Chunks re-read to heal", point.healed_chunks)
    return point


def _publish(ctx: JobContext, item: ProtectedItem, store: VaultStore, point: StorePoint, snapshot: backup.Snapshot,
             created: datetime) -> None:
    vault = item.vault
    old = item.base_snapshots or {}
    new = {(d["media_link"], d["snapshot"]) for d in snapshot.by_disk().values()}
    try:
        row = backup.publish_point(item, point, snapshot, created=created, adhoc=bool(ctx.params.get("adhoc")))
    except BaseException:
        store.delete_points([point.id])
        raise
    # The new point is durable and recorded: the previous base snapshots are no longer needed.
    if old := {k: v for k, v in old.items() if (v.get("media_link"), v.get("snapshot")) not in new}:
        backup.release_snapshots(vault.subscription.endpoint, old)
    record_storage_used(vault, store)
    ctx.set_property("Recovery point", row.created.isoformat(timespec="seconds"))
    ctx.progress(100)
    publish([f"vault:{vault.pk}"], "item", {"protected_item": item.pk, "status": "protected"})
    if vault.is_geo_redundant:
        Replicate.start(vault)
