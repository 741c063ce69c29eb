"""The steps of a backup: Take Snapshot, Transfer data to vault (through the engine), and publishing the point.

*Take Snapshot*: one Update Role carrying the backup extension's public
configuration ``{"taskId", "command": "snapshot", "disks": "all"}``, then the
extension's status is polled until its setting named after the task id says
``success`` or ``error``. The job parks between polls once the wait is longer
than a moment, so a VM whose agent hangs holds no worker slot. The task id and
the request are kept on the job, so a resumed or retried job waits for the
same request and gets the same snapshots (the fabric treats a repeated task id
as the same request).

*Transfer data to vault*: one call of the engine's ``VaultStore.back_up``,
which decides per disk whether the newest point can be its incremental base
(the item still holds that point's snapshot of the disk,
``ProtectedItem.base_snapshots``), else reads the disk in full over its valid
page ranges. The engine publishes the point (rename of a durable file), then
``publish_point`` writes the ``RecoveryPoint`` row and the item's new base
snapshots in one transaction. Only then are the previous base snapshots
released. The job that runs these steps is ``vaults.operations.backup``.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jobs.errors import JobError
from vaults.cloud import extension
from vaults.cloud.endpoint import Endpoint, compute_client
from vaults.cloud.errors import describe_failure
from vaults.cloud.pageblob import PageBlobClient, PageBlobError, blob_client
from vaults.cloud.polling import Waiter, wait_for_operation
from vaults.models import ProtectedItem, RecoveryPoint, VirtualMachine
from vaults.policy.retention import expiry
from vaultstore import PageBlobSource, VaultStore
from vaultstore import RecoveryPoint as StorePoint
from vaultstore.pool import CancelFn, PlannedFn, ProgressFn

log = logging.getLogger(__name__)

CONSISTENCY = {"AppConsistent": "application", "FileSystemConsistent": "file_system", "CrashConsistent": "crash"}
STORE_CONSISTENCY = {"application": "application", "file_system": "file-system", "crash": "crash"}

SNAPSHOT_TIMEOUT_CODE = "UserErrorVmAgentSnapshotTimedOut"
SNAPSHOT_TIMEOUT_MESSAGE = gettext_lazy("Could not communicate with the VM agent for snapshot status. "
                                        "Snapshot VM sub task timed out.")
SNAPSHOT_TIMEOUT_RECOMMENDATIONS = [
    gettext_lazy("Make sure the VM agent is installed, running and up to date on the virtual machine."),
    gettext_lazy("Make sure the virtual machine can reach the service over the network."),
    gettext_lazy("Restart the VM agent (or the virtual machine), then run the backup again."),
]


def point_id_for(job_pk: int) -> str:
    """The store id of the point a Backup job makes: a retry of the job finds what an earlier attempt published."""
    return f"job-{job_pk}"


def new_task_id(job_pk: int) -> str:
    return f"backup-{job_pk}-{uuid.uuid4().hex[:8]}"


# --- Take Snapshot ----------------------------------------------------------------

@dataclass
class Snapshot:
    consistency: str  # a RecoveryPoint.Consistency value
    disks: list[dict]  # {"disk", "lun", "mediaLink", "snapshot"}

    def by_disk(self) -> dict[str, dict]:
        """{disk: {"media_link", "snapshot"}}: how an item keeps its base snapshots, and how they are released."""
        return {d["disk"]: {"media_link": d["mediaLink"], "snapshot": d["snapshot"]} for d in self.disks}


def vm_not_found(vm: VirtualMachine) -> JobError:
    return JobError("UserErrorVmNotFound", _("Virtual machine '%(vm)s' no longer exists in cloud service "
                                             "'%(service)s'.") % {"vm": vm.display_name, "service": vm.cloud_service},
                    [_("Stop protection of the VM (keeping or deleting its backup data), or restore it from a "
                       "recovery point.")])


def request_snapshot(endpoint: Endpoint, vm: VirtualMachine, task_id: str) -> str:
    """Ask the VM's backup extension for one snapshot of all its disks (Update Role); returns the operation's
    request id. Asking again with the same ``task_id`` is the same request to the extension."""
    client = compute_client(endpoint)
    path = extension.role_path(endpoint.subscription_id, vm.cloud_service, vm.deployment, vm.name)
    try:
        references, os_type = extension.read_role(client, path)
    except Exception as error:
        if describe_failure(endpoint, error).status == 404:
            raise vm_not_found(vm) from error
        raise
    config = {"taskId": task_id, "command": "snapshot", "disks": "all"}
    others = [ref for ref in references if not ref.is_backup]
    return extension.update_references(client, path, [*others, extension.backup_reference(os_type, config)])


def wait_for_snapshot(endpoint: Endpoint, vm: VirtualMachine, task_id: str, request_id: str, *,
                      wait: Waiter) -> Snapshot:
    """Wait for the Update Role of ``request_snapshot``, then for the extension to report the snapshot of
    ``task_id``; ``UserErrorVmAgentSnapshotTimedOut`` when the agent does not answer within
    ``BACKUP_SNAPSHOT_TIMEOUT_SECONDS``. ``wait`` is how to wait (a job parks between checks)."""
    client = compute_client(endpoint)
    wait_for_operation(client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS, what="Requesting the snapshot",
                       wait=wait)
    seen: list[extension.ExtensionStatus] = []

    def done() -> bool:
        status = extension.extension_status(client, endpoint, vm.cloud_service, vm.name)
        if status is not None and status.setting_name == task_id and status.status in ("success", "error"):
            seen.append(status)
            return True
        return False

    if not wait(done, settings.BACKUP_SNAPSHOT_TIMEOUT_SECONDS):
        raise JobError(SNAPSHOT_TIMEOUT_CODE, SNAPSHOT_TIMEOUT_MESSAGE, SNAPSHOT_TIMEOUT_RECOMMENDATIONS, retryable=True)
    return _snapshot_result(seen[-1])


def _snapshot_result(status: extension.ExtensionStatus) -> Snapshot:
    if status.status == "error":
        raise JobError("ExtensionSnapshotFailed", _("The backup extension could not take the snapshot: %(reason)s.")
                       % {"reason": status.message or _("no reason given")},
                       [_("Check the VM agent and the backup extension on the VM, then run the backup again.")],
                       retryable=True)
    try:
        result = json.loads(status.substatus.get("VMSnapshotResult") or "{}")
    except json.JSONDecodeError as error:
        raise JobError("ExtensionSnapshotFailed", _("The backup extension reported a snapshot result that is not valid."),
                       [_("Run the backup again.")], retryable=True) from error
    disks = result.get("snapshots") or []
    if not disks:
        raise JobError("ExtensionSnapshotFailed", _("The backup extension reported no disk snapshots."),
                       [_("Run the backup again.")], retryable=True)
    if bad := [d.get("disk", "?") for d in disks if not d.get("mediaLink")]:
        raise JobError("BackupIncomplete", _("The snapshot result named no disk link for %(disks)s.")
                       % {"disks": ", ".join(bad)}, [_("Run the backup again.")])
    return Snapshot(CONSISTENCY.get(result.get("consistency"), "crash"), disks)


def release_snapshots(endpoint: Endpoint, snapshots: dict[str, dict]) -> int:
    """Delete snapshots ({disk: {"media_link", "snapshot"}}); missing ones count as released. Best effort."""
    client, released = blob_client(endpoint), 0
    for entry in snapshots.values():
        try:
            client.delete_snapshot(entry["media_link"], entry["snapshot"])
            released += 1
        except PageBlobError as error:
            if error.status == 404:
                released += 1
            else:
                log.warning("could not release snapshot %s of %s: %s", entry.get("snapshot"), entry.get("media_link"),
                            error)
        except Exception:
            log.warning("could not release snapshot %s", entry, exc_info=True)
    return released


# --- Transfer data to vault -----------------------------------------------------------

def transfer(store: VaultStore, item: ProtectedItem, snapshot: Snapshot, blobs: PageBlobClient, *, point_id: str,
             created: datetime, metadata: dict, planned: PlannedFn, progress: ProgressFn,
             cancel: CancelFn) -> StorePoint:
    """Back the snapshot's disks up into ``store`` as point ``point_id``, through the engine's one entry point.

    Each disk's source diffs against the snapshot the item keeps of it (when it is the same blob); the engine
    decides whether that, and the newest point, make a usable base.
    """
    newest = item.recovery_points.order_by("-created").first()
    previous = store.load_point(newest.store_point_id) if newest and store.has_point(newest.store_point_id) else None
    bases = item.base_snapshots or {}
    sources = []
    for entry in snapshot.disks:
        base = bases.get(entry["disk"]) or {}
        prev_snapshot = base.get("snapshot") if base.get("media_link") == entry["mediaLink"] else None
        sources.append((entry["disk"], PageBlobSource(blobs, entry["mediaLink"], entry["snapshot"],
                                                      prev_snapshot=prev_snapshot)))
    return store.back_up(sources, previous=previous, consistency=STORE_CONSISTENCY[snapshot.consistency],
                         metadata=metadata, point_id=point_id, created=created, progress=progress, planned=planned,
                         cancel=cancel)


def point_disks(point: StorePoint, snapshot: Snapshot) -> list[dict]:
    """What the RecoveryPoint row records of each disk: its LUN and link from the snapshot, the rest from the store."""
    taken = {d["disk"]: d for d in snapshot.disks}
    return [{"name": d.name, "lun": taken[d.name].get("lun"), "size": d.size, "data": d.data_bytes, "digest": d.digest,
             "snapshot": d.source_snapshot, "media_link": taken[d.name]["mediaLink"]} for d in point.disks]


def publish_point(item: ProtectedItem, point: StorePoint, snapshot: Snapshot, *, created: datetime,
                  adhoc: bool) -> RecoveryPoint:
    """The RecoveryPoint row and the item's new state, in one transaction (the store point is already durable)."""
    policy = item.policy.rules if item.policy_id else None
    disks = point_disks(point, snapshot)
    with transaction.atomic():
        row = RecoveryPoint.objects.create(
            protected_item=item, created=created, consistency=snapshot.consistency, store_point_id=point.id,
            disks=disks, logical_bytes=point.logical_bytes, stored_bytes=point.stored_bytes, adhoc=adhoc,
            expires=expiry(policy, created, adhoc=adhoc) if policy is not None else None)
        item.record_backup({d["name"]: {"media_link": d["media_link"], "snapshot": d["snapshot"]} for d in disks},
                           timezone.now())
    return row
