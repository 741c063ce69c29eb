"""Backup and restore: the services the pages, commands and scheduler call, and the steps the jobs run.

A Backup job (``vaults.backup``, in ``vaults.backup_tasks``) has two sub-tasks:

*Take Snapshot*: one Update Role carrying the backup extension's public
configuration ``{"taskId", "command": "snapshot", "disks": "all"}``, then the
extension's status is polled until its setting named after the task id says
``success`` or ``error``. The task id is derived from the job, so a retried job
re-sends the same request and gets the same snapshots (the fabric treats a
repeated task id as the same request).

*Transfer data to vault*: a vault store session; each disk is incremental
against the newest point when the item still holds that point's snapshot of
the disk (``ProtectedItem.base_snapshots``), else full over its valid page
ranges. The store publishes the point (rename of a durable file), then the
``RecoveryPoint`` row and the item's new base snapshots are written in one
transaction; should that fail, the store point is deleted again. Only then are
the previous base snapshots released.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.errors import JobCancelled, JobError, TransientError
from jobs.models import Operation
from jobs.services import start_job
from portal.access import can_operate
from vaults import extension
from vaults.compute import Endpoint, FabricError, compute_client, describe_failure
from vaults.pageblob import PageBlobClient, PageBlobError
from vaults.protection_models import ProtectedItem, RecoveryPoint
from vaults.store import OperationCancelled, StoreError, StoreFullError, VaultStore

log = logging.getLogger(__name__)

CONSISTENCY = {"AppConsistent": "application", "FileSystemConsistent": "file_system", "CrashConsistent": "crash"}
STORE_CONSISTENCY = {"application": "application", "file_system": "file-system", "crash": "crash"}

SNAPSHOT_TIMEOUT_CODE = "UserErrorVmAgentSnapshotTimedOut"
SNAPSHOT_TIMEOUT_MESSAGE = ("Could not communicate with the VM agent for snapshot status. "
                            "Snapshot VM sub task timed out.")
SNAPSHOT_TIMEOUT_RECOMMENDATIONS = [
    "Make sure the VM agent is installed, running and up to date on the virtual machine.",
    "Make sure the virtual machine can reach the service over the network.",
    "Restart the VM agent (or the virtual machine), then run the backup again.",
]


class BackupRefused(Exception):
    """A request the pages turn down; the sentence is shown as it is."""


def snapshot_timeout() -> float:
    return float(os.environ.get("BACKUP_SNAPSHOT_TIMEOUT_SECONDS", getattr(settings, "BACKUP_SNAPSHOT_TIMEOUT_SECONDS",
                                                                            600)))


# --- Clients and stores -------------------------------------------------------

def blob_client(endpoint: Endpoint) -> PageBlobClient:
    """A page-blob client that reaches the disks the way the compute client reaches the endpoint."""
    session = requests.Session()
    session.trust_env = False
    if endpoint.certificate_path:
        session.cert = endpoint.certificate_path
    if endpoint.ca_path:
        session.verify = endpoint.ca_path
    return PageBlobClient(session)


def store_workers() -> int:
    """Threads per transfer: page-blob reads wait on the network, so more threads than cores keep the cores busy."""
    value = os.environ.get("VAULT_STORE_WORKERS") or getattr(settings, "VAULT_STORE_WORKERS", None)
    return int(value) if value else 6  # measured with bench/backup.py on 2 cores: 2 -> 6 cut restore by a third


def open_store(vault) -> VaultStore:
    return VaultStore.open_or_create(vault.store_path, workers=store_workers())


def secondary_path(vault) -> Path | None:
    """Where a GRS vault's copy in its paired region lives; None for LRS."""
    if vault.replication != "GRS" or not vault.paired_region:
        return None
    return Path(settings.VAULT_STORE_DIR) / "secondary" / vault.paired_region / vault.store_key


def secondary_store(vault) -> VaultStore | None:
    path = secondary_path(vault)
    if path is None or not (path / "store.json").exists():
        return None
    return VaultStore(path)


# --- Services ------------------------------------------------------------------

def start_backup(user, item: ProtectedItem, *, adhoc: bool = True, slot: str = ""):
    """BACKUP NOW (and the commands): one Backup job for a protected item, or ``BackupRefused``."""
    if user is not None and not can_operate(user):
        raise BackupRefused("Only Backup Operators and Administrators can back up virtual machines.")
    if not item.is_active:
        raise BackupRefused(f"'{item.item.vm.name}' is not protected. Protect it again before backing it up.")
    vault = item.vault
    return start_job(operation=Operation.BACKUP, user=user, subscription=vault.subscription, vault=vault,
                     item_type="vm", item_key=item.item.item_key, item_name=item.item.vm.name,
                     task_name="vaults.backup", params={"protected_item": item.pk, "slot": slot, "adhoc": adhoc})


# --- Take Snapshot ----------------------------------------------------------------

@dataclass
class Snapshot:
    consistency: str  # a RecoveryPoint.Consistency value
    disks: list[dict]  # {"disk", "lun", "mediaLink", "snapshot"}


def vm_not_found(vm) -> JobError:
    return JobError("UserErrorVmNotFound", f"Virtual machine '{vm.name}' no longer exists in cloud service "
                    f"'{vm.cloud_service}'.",
                    ["Stop protection of the VM (keeping or deleting its backup data), or restore it from a "
                     "recovery point."])


def take_snapshot(ctx, endpoint: Endpoint, vm, task_id: str, *, wait_for_operation, wait_until) -> Snapshot:
    client = compute_client(endpoint)
    path = extension.role_path(endpoint.subscription_id, vm.cloud_service, vm.deployment, vm.name)
    try:
        references, os_type = extension.read_role(client, path)
    except Exception as error:
        failure = describe_failure(endpoint, error)
        if failure.status == 404:
            raise vm_not_found(vm) from error
        raise
    config = {"taskId": task_id, "command": "snapshot", "disks": "all"}
    others = [ref for ref in references if not ref.is_backup]
    request_id = extension.update_references(client, path, [*others, extension.backup_reference(os_type, config)])
    wait_for_operation(ctx, client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                       what="Requesting the snapshot")
    seen: list[extension.ExtensionStatus] = []

    def done() -> bool:
        status = extension.extension_status(client, endpoint.subscription_id, vm.cloud_service, vm.name)
        if status is not None and status.setting_name == task_id and status.status in ("success", "error"):
            seen.append(status)
            return True
        return False

    if not wait_until(ctx, done, timeout=snapshot_timeout()):
        raise JobError(SNAPSHOT_TIMEOUT_CODE, SNAPSHOT_TIMEOUT_MESSAGE, SNAPSHOT_TIMEOUT_RECOMMENDATIONS, retryable=True)
    status = seen[-1]
    if status.status == "error":
        raise JobError("ExtensionSnapshotFailed", f"The backup extension could not take the snapshot: "
                       f"{status.message or 'no reason given'}.",
                       ["Check the VM agent and the backup extension on the VM, then run the backup again."],
                       retryable=True)
    try:
        result = json.loads(status.substatus.get("VMSnapshotResult") or "{}")
    except json.JSONDecodeError as error:
        raise JobError("ExtensionSnapshotFailed", "The backup extension reported a snapshot result that is not valid.",
                       ["Run the backup again."], retryable=True) from error
    disks = result.get("snapshots") or []
    if not disks:
        raise JobError("ExtensionSnapshotFailed", "The backup extension reported no disk snapshots.",
                       ["Run the backup again."], retryable=True)
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


def snapshot_exists(client: PageBlobClient, url: str, snapshot: str | None) -> bool:
    if not snapshot:
        return False
    try:
        client.size(url, snapshot=snapshot)
    except PageBlobError as error:
        if error.status in (400, 404):
            return False
        raise
    return True


# --- Errors the store and blobs raise, as jobs understand them ----------------------

def translate(error: BaseException) -> BaseException:
    if isinstance(error, OperationCancelled):
        return JobCancelled()
    if isinstance(error, StoreFullError):
        return JobError("VaultStoreFull", f"The vault's storage is full: {error}",
                        ["Free space where the vault store lives (or delete expired recovery points), then run the "
                         "backup again. Existing recovery points are intact."])
    if isinstance(error, PageBlobError):
        if error.transient:
            return TransientError(str(error))
        return JobError("DiskReadFailed", f"Reading the VM's disk failed: {error}", ["Run the backup again."],
                        retryable=True)
    if isinstance(error, FabricError):
        if error.transient:
            return TransientError(str(error))
        return JobError("FabricRequestFailed", str(error), ["Check the subscription's endpoint, then try again."])
    if isinstance(error, StoreError):
        return JobError(getattr(error, "code", "") or "VaultStoreError", str(error),
                        [getattr(error, "recommendation", "") or "Run the operation again."])
    return error


def human_bytes(count: int) -> str:
    """1536000 -> "1.5 MB" (decimal units, as the classic portal showed sizes)."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} bytes"


def new_task_id(job_pk: int) -> str:
    return f"backup-{job_pk}-{uuid.uuid4().hex[:8]}"


def now():
    return timezone.now()


def publish_point(item: ProtectedItem, point, *, snapshot: Snapshot, created, adhoc: bool, job_pk: int,
                  disks: list[dict]) -> RecoveryPoint:
    """The RecoveryPoint row and the item's new state, in one transaction (the store point is already durable)."""
    from vaults import retention

    policy = item.policy.rules if item.policy_id else None
    expires = retention.expiry(policy, created, adhoc=adhoc) if policy is not None else None
    with transaction.atomic():
        row = RecoveryPoint.objects.create(
            protected_item=item, created=created, consistency=snapshot.consistency, store_point_id=point.id,
            disks=disks, logical_bytes=point.logical_bytes, stored_bytes=point.stored_bytes, adhoc=adhoc,
            expires=expires)
        status = item.status if item.status == ProtectedItem.Status.STOPPED else ProtectedItem.Status.PROTECTED
        ProtectedItem.objects.filter(pk=item.pk).update(
            status=status, error_message="", last_backup_status="Completed", last_backup_time=now(),
            base_snapshots={d["name"]: {"media_link": d["media_link"], "snapshot": d["snapshot"]} for d in disks})
    return row
