"""The beat tick that starts scheduled backups: each slot once, staggered per cloud service.

Every minute ``tick()`` finds, for each protected item, the slot its policy
owes it (``vaults.policy.schedule.slot_for``) and starts one Backup job for it. What
makes it safe to run twice, late, or from two beats at once is the database:
a slot is *claimed* by inserting ``ScheduledBackup(protected item, slot)``
under a unique constraint, in bulk with ``ignore_conflicts`` and the tick's
own token; the tick then starts jobs only for the rows that carry its token.

Stagger: no more than ``MAX_RUNNING_PER_CLOUD_SERVICE`` backups of the VMs of
one cloud service run at once. A tick claims at most that many minus the ones
running; the rest wait for a later tick, still inside their slot's window
(``MAX_LATE``), because a slot stays the item's due slot until the next one.

The tick's cost stays flat: one read of the active items (with their policy
ids and cloud services), one of the running backups, policies parsed once,
claims inserted in bulk, and items already enqueued for their slot skipped in
memory by ``last_scheduled_slot``.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from jobs.errors import OperationInProgress
from jobs.models import Job, Operation
from vaults.models import Policy, ProtectedItem, ScheduledBackup, Vault, VirtualMachine
from vaults.operations.backup import Backup
from vaults.policy import rules, stored
from vaults.policy.schedule import slot_for, slot_id

log = logging.getLogger(__name__)

MAX_RUNNING_PER_CLOUD_SERVICE = 4
# A slot not started within this long is given up (the next slot replaces it anyway).
MAX_LATE = timedelta(hours=12)
# Claims older than this can never be a current slot again (slots are at most a week apart).
KEEP_CLAIMS = timedelta(days=8)
BATCH = 500


@dataclass
class TickResult:
    due: int = 0
    claimed: int = 0
    started: int = 0
    waiting: int = 0  # held back by the stagger or by another operation on the item

    def as_dict(self) -> dict[str, int]:
        return {"due": self.due, "claimed": self.claimed, "started": self.started, "waiting": self.waiting}


@dataclass(frozen=True)
class _Due:
    item_id: int
    vm_id: int
    vm_name: str
    service: tuple[int, str]  # (subscription, cloud service)
    vault_id: int
    slot: str


def _policies(ids: Iterable[int]) -> dict[int, rules.Policy | None]:
    parsed: dict[int, rules.Policy | None] = {}
    for pk, definition in Policy.objects.filter(pk__in=set(ids)).values_list("pk", "definition"):
        try:
            parsed[pk] = stored.policy_from_dict(definition)
        except (KeyError, ValueError):
            log.warning("policy %s has an unreadable definition; its VMs are not backed up", pk)
            parsed[pk] = None
    return parsed


def due_items(now: datetime) -> list[_Due]:
    rows = list(ProtectedItem.objects.filter(status__in=ProtectedItem.ACTIVE, policy__isnull=False).values_list(
        "pk", "policy_id", "configured", "last_scheduled_slot", "vault_id", "item__vm_id", "item__vm__name",
        "item__vm__subscription_id", "item__vm__cloud_service"))
    policies = _policies(r[1] for r in rows)
    due = []
    for pk, policy_id, configured, last_slot, vault_id, vm_id, vm_name, subscription_id, service in rows:
        policy = policies.get(policy_id)
        if policy is None:
            continue
        slot = slot_for(policy, now, not_before=configured, max_late=MAX_LATE)
        if slot is None:
            continue
        key = slot_id(slot)
        if key != last_slot:
            due.append(_Due(pk, vm_id, VirtualMachine.name_in_service(vm_name, service), (subscription_id, service),
                            vault_id, key))
    return due


def _running_per_service(due: list[_Due]) -> Counter:
    """Backups running now (or waiting for a worker) per cloud service of the due items."""
    services = {d.service for d in due}
    keys = Job.objects.active().filter(operation=Operation.BACKUP).values_list("item_key", flat=True)
    vm_ids = [int(k.split(":", 1)[1]) for k in keys if k.startswith("vm:") and k[3:].isdigit()]
    running = Counter()
    for subscription_id, service in VirtualMachine.objects.filter(pk__in=vm_ids).values_list(
            "subscription_id", "cloud_service"):
        if (subscription_id, service) in services:
            running[(subscription_id, service)] += 1
    return running


def _staggered(due: list[_Due], running: Counter, result: TickResult) -> list[_Due]:
    by_service: dict[tuple[int, str], list[_Due]] = defaultdict(list)
    for d in due:
        by_service[d.service].append(d)
    chosen = []
    for service, items in by_service.items():
        room = max(0, MAX_RUNNING_PER_CLOUD_SERVICE - running[service])
        chosen += items[:room]
        result.waiting += len(items) - room if len(items) > room else 0
    return chosen


def tick(now: datetime | None = None) -> TickResult:
    """Claim and start every backup due at ``now`` that the stagger allows."""
    now = now or timezone.now()
    result = TickResult()
    due = due_items(now)
    result.due = len(due)
    ScheduledBackup.objects.filter(claimed__lt=now - KEEP_CLAIMS).delete()
    if not due:
        return result
    chosen = _staggered(due, _running_per_service(due), result)
    vaults = {v.pk: v for v in Vault.objects.filter(pk__in={d.vault_id for d in chosen}).select_related("subscription")}
    token = uuid.uuid4().hex
    for start in range(0, len(chosen), BATCH):
        batch = chosen[start:start + BATCH]
        # Claims and their jobs commit together: a tick that dies in between leaves the slots unclaimed.
        with transaction.atomic():
            ScheduledBackup.objects.bulk_create(
                [ScheduledBackup(protected_item_id=d.item_id, slot=d.slot, claimed_by=token, claimed=now)
                 for d in batch], ignore_conflicts=True)
            claims = dict(ScheduledBackup.objects.filter(
                claimed_by=token, protected_item_id__in=[d.item_id for d in batch]).values_list("protected_item_id", "pk"))
            result.claimed += len(claims)
            _start_batch([d for d in batch if d.item_id in claims], claims, vaults, result)
    return result


def _start_batch(batch: list[_Due], claims: dict[int, int], vaults: dict[int, Vault], result: TickResult) -> None:
    """Start the claimed backups, inside the batch's transaction: the broker gets the jobs when it commits."""
    started: list[ScheduledBackup] = []
    released: list[int] = []
    by_slot: dict[str, list[int]] = defaultdict(list)
    for d in batch:
        vault = vaults[d.vault_id]
        try:
            job = Backup.enqueue(vault, d.item_id, d.vm_id, d.vm_name, slot=d.slot)
        except OperationInProgress:
            # Another operation holds the VM (a BACKUP NOW, a re-configure): give the claim back, try next tick.
            released.append(claims[d.item_id])
            result.waiting += 1
            continue
        started.append(ScheduledBackup(pk=claims[d.item_id], job_id=job.pk))
        by_slot[d.slot].append(d.item_id)
    ScheduledBackup.objects.bulk_update(started, ["job_id"])
    for slot, ids in by_slot.items():
        ProtectedItem.objects.filter(pk__in=ids).update(last_scheduled_slot=slot)
    ScheduledBackup.objects.filter(pk__in=released).delete()
    result.started += len(started)
