"""The Backup job (``vaults.backup``): Take Snapshot, then Transfer data to vault, then publish the point.

Imported by ``vaults.tasks`` so Celery registers it. Parameters, as the
scheduler and BACKUP NOW send them: ``{"protected_item": id, "slot": slot_id,
"adhoc": bool}``. See ``vaults.backup`` for the steps.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from jobs.errors import JobError
from jobs.models import Job
from jobs.runner import JobContext, job_task
from portal.events import publish
from vaults import backup
from vaults.protection_models import ProtectedItem, RecoveryPoint
from vaults.store import PageBlobSource
from vaults.tasks import fabric_errors, wait_for_operation, wait_until

log = logging.getLogger(__name__)


def point_id_for(job_pk: int) -> str:
    return f"job-{job_pk}"


def _remember(ctx: JobContext, **values) -> None:
    """Keep what the cleanup hook needs on the job row (it may run in another process)."""
    ctx.job.params.update(values)
    ctx.params.update(values)
    Job.objects.filter(pk=ctx.job.pk).update(params=ctx.job.params)


def _undo_backup(job: Job, reason: str) -> None:
    """A stopped backup leaves no point and no snapshot of its own; the item keeps its previous base."""
    item = ProtectedItem.objects.select_related("vault__subscription").filter(pk=job.params.get("protected_item")).first()
    if item is None:
        return
    published = RecoveryPoint.objects.filter(protected_item=item, store_point_id=point_id_for(job.pk)).exists()
    if not published:
        try:
            store = backup.open_store(item.vault)
            if store.has_point(point_id_for(job.pk)):
                store.delete_points([point_id_for(job.pk)])
        except Exception:
            log.warning("could not remove the unpublished point of job %s", job.pk, exc_info=True)
        new = job.params.get("new_snapshots") or {}
        keep = {(v.get("media_link"), v.get("snapshot")) for v in (item.base_snapshots or {}).values()}
        drop = {k: v for k, v in new.items() if (v.get("media_link"), v.get("snapshot")) not in keep}
        if drop:
            backup.release_snapshots(item.vault.subscription.endpoint, drop)
        if reason == "cancelled":  # a failure is recorded by _backup_failed, once the job is Failed
            ProtectedItem.objects.filter(pk=item.pk).update(last_backup_status="Cancelled",
                                                            last_backup_time=timezone.now())
    publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk})


def _backup_failed(job: Job) -> None:
    """A failed backup puts its item in Protection Error, with the job's message, until a backup succeeds.

    Runs for every failure, whether the runner or the reconciler (a lost
    worker) failed the job; a cancelled backup is not a failure. A stopped
    item stays Protection Stopped. Nothing changes when a point was made since
    the job was created: this job published its own, or a later backup
    succeeded before this hook ran.
    """
    items = (ProtectedItem.objects.filter(pk=job.params.get("protected_item"))
             .exclude(recovery_points__created__gte=job.created))
    if not items.update(last_backup_status="Failed", last_backup_time=timezone.now()):
        return
    items.filter(status__in=ProtectedItem.ACTIVE).update(status=ProtectedItem.Status.ERROR,
                                                         error_message=job.error_message)
    publish([f"vault:{job.vault_id}"], "item", {"protected_item": job.params.get("protected_item")})


@job_task("vaults.backup", cleanup=_undo_backup, on_failure=_backup_failed)
def run_backup(ctx: JobContext) -> None:
    item = (ProtectedItem.objects.select_related("item__vm", "vault__subscription", "policy")
            .filter(pk=ctx.params["protected_item"]).first())
    if item is None:
        return  # protection was removed meanwhile
    vm, vault = item.item.vm, item.vault
    endpoint = vault.subscription.endpoint
    adhoc = bool(ctx.params.get("adhoc"))
    ctx.set_property("Virtual machine", f"{vm.name} ({vm.cloud_service})")
    ctx.set_property("Backup type", "Backup now" if adhoc else "Scheduled")
    if RecoveryPoint.objects.filter(protected_item=item, store_point_id=point_id_for(ctx.job.pk)).exists():
        return  # a redelivered run of a backup that already published its point
    if vm.gone:
        raise backup.vm_not_found(vm)
    if item.status == ProtectedItem.Status.STOPPED:
        raise JobError("ProtectionStopped", f"Protection of '{vm.name}' is stopped, so it is not backed up.",
                       ["Protect the VM again to resume its backups."])

    with ctx.subtask("Take Snapshot"), fabric_errors(endpoint):
        task_id = ctx.params.get("task_id") or backup.new_task_id(ctx.job.pk)
        _remember(ctx, task_id=task_id)
        snapshot = backup.take_snapshot(ctx, endpoint, vm, task_id, wait_for_operation=wait_for_operation,
                                        wait_until=wait_until)
        created = timezone.now()
        new = {d["disk"]: {"media_link": d["mediaLink"], "snapshot": d["snapshot"]} for d in snapshot.disks}
        _remember(ctx, new_snapshots=new)
        ctx.set_property("Consistency", dict(RecoveryPoint.Consistency.choices)[snapshot.consistency])
        ctx.progress(10)

    with ctx.subtask("Transfer data to vault"):
        try:
            point, disks = _transfer(ctx, item, vault, endpoint, snapshot, created)
        except Exception as error:
            translated = backup.translate(error)
            if translated is error:
                raise
            raise translated from error

    old = {k: v for k, v in (item.base_snapshots or {}).items()
           if (v.get("media_link"), v.get("snapshot")) not in {(n["media_link"], n["snapshot"]) for n in new.values()}}
    try:
        row = backup.publish_point(item, point, snapshot=snapshot, created=created, adhoc=adhoc, job_pk=ctx.job.pk,
                                   disks=disks)
    except BaseException:
        backup.open_store(vault).delete_points([point.id])
        raise
    # The new point is durable and recorded: the previous base snapshots are no longer needed.
    if old:
        backup.release_snapshots(endpoint, old)
    ctx.set_property("Recovery point", row.created.isoformat(timespec="seconds"))
    ctx.progress(100)
    publish([f"vault:{vault.pk}"], "item", {"protected_item": item.pk, "status": "protected"})
    if vault.replication == "GRS" and vault.paired_region:
        from vaults.maintenance import start_replicate

        start_replicate(vault)


def _transfer(ctx: JobContext, item: ProtectedItem, vault, endpoint, snapshot: backup.Snapshot, created):
    blobs = backup.blob_client(endpoint)
    store = backup.open_store(vault)
    point_id = point_id_for(ctx.job.pk)
    if store.has_point(point_id):
        store.delete_points([point_id])  # published by an earlier attempt whose row never got written
    newest = item.recovery_points.order_by("-created").first()
    bases = item.base_snapshots or {}
    written = {"bytes": 0}

    def progress(done: int, total: int) -> None:
        written["bytes"] = done
        ctx.progress(10 + 85 * done / max(total, 1), **{"Transferred Bytes": backup.human_bytes(done),
                                                         "Backup Size": backup.human_bytes(total)})

    with store.session(point_id, created=created) as session:
        previous = None
        if newest is not None and store.has_point(newest.store_point_id):
            previous = store.load_point(newest.store_point_id)
        plans, incremental = [], False
        for entry in snapshot.disks:
            name, url = entry["disk"], entry["mediaLink"]
            base = bases.get(name) or {}
            prev_snapshot = base.get("snapshot") if base.get("media_link") == url else None
            base_disk = previous.disk(name) if previous is not None else None
            if base_disk is None or base_disk.source_snapshot != prev_snapshot \
                    or not backup.snapshot_exists(blobs, url, prev_snapshot):
                base_disk, prev_snapshot = None, None
            incremental = incremental or base_disk is not None
            source = PageBlobSource(blobs, url, entry["snapshot"], prev_snapshot=prev_snapshot)
            plans.append(session.plan(name, source, base_disk))
        total = sum(plan.read_total for plan in plans)
        ctx.set_property("Backup Size", backup.human_bytes(total))
        ctx.set_property("Backup kind", "Incremental" if incremental else "Full")
        offset = 0
        for plan in plans:
            def disk_progress(done: int, _total: int, base: int = offset) -> None:
                progress(base + done, total)
            session.run(plan, progress=disk_progress, cancel=ctx.check_cancelled)
            offset += plan.read_total
        ctx.check_cancelled()
        point = session.publish(consistency=backup.STORE_CONSISTENCY[snapshot.consistency],
                                metadata={"item": item.item.item_key, "job": ctx.job.pk})
    ctx.set_property("Transferred Bytes", backup.human_bytes(total))
    ctx.set_property("Stored Bytes", backup.human_bytes(point.stored_bytes))
    sizes = {d["disk"]: d for d in snapshot.disks}
    disks = [{"name": d.name, "lun": sizes.get(d.name, {}).get("lun"), "size": d.size, "digest": d.digest,
              "snapshot": d.source_snapshot, "media_link": sizes.get(d.name, {}).get("mediaLink")}
             for d in point.disks]
    if error := _missing(disks):
        raise JobError("BackupIncomplete", error, ["Run the backup again."])
    return point, disks


def _missing(disks: list[dict]) -> str:
    bad = [d["name"] for d in disks if not d["media_link"]]
    return f"The snapshot result named no disk link for {', '.join(bad)}." if bad else ""
