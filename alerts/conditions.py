"""What each alert condition finds in a vault now: the subjects it holds for, each with a sentence.

Each function takes the vault, its rule and the time, reads the rows the vaults and jobs apps keep (and, for the
store, the filesystem), and returns ``Finding`` objects keyed by subject. Evaluation (``alerts.evaluation``) compares
them with the alerts already active: a new subject raises an alert, a subject no longer found resolves one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Max
from django.template.defaultfilters import filesizeformat

from alerts.models import Condition, Rule
from jobs.models import RUNNING, SUCCEEDED, Job, Operation, Status
from vaults.models import ProtectedItem, Vault, VirtualMachine
from vaults.policy import rules, schedule

# Added to the longest gap between a policy's backups before a missed backup is an alert.
MISSED_GRACE = timedelta(hours=2)
VERIFY_DAMAGE_CODE = "VaultDataCorrupted"  # vaults.operations.maintenance.Verify's error when points are damaged


@dataclass(frozen=True)
class Finding:
    subject_key: str
    subject: str
    # Worded once, in English, and kept on the alert: the same sentence goes out in the email and webhook messages,
    # which are not translated (alerts.content), so it is not wrapped for translation.
    summary: str


def item_subject(vm: VirtualMachine) -> str:
    """``web01 (contoso-web)``: same-named VMs are told apart by their cloud service."""
    return f"{vm.name} ({vm.cloud_service})"


def _items(vault: Vault) -> dict[int, ProtectedItem]:
    """The vault's items that can still be backed up or hold data (soft-deleted ones are gone to their owners)."""
    items = (ProtectedItem.objects.filter(vault=vault).exclude(status__in=ProtectedItem.DELETED)
             .select_related("item__vm", "policy"))
    return {item.item.vm_id: item for item in items}


def backup_failed(vault: Vault, rule: Rule, now: datetime) -> list[Finding]:
    """An item whose latest finished backup (cancelled ones aside) failed; its next successful backup clears it."""
    items = _items(vault)
    keys = {f"vm:{vm_id}": item for vm_id, item in items.items()}
    ended = Job.objects.filter(vault=vault, operation=Operation.BACKUP, item_key__in=list(keys),
                               status__in=[*SUCCEEDED, Status.FAILED])
    latest = dict(ended.values("item_key").annotate(last=Max("finished")).values_list("item_key", "last"))
    findings = []
    for job in ended.filter(status=Status.FAILED, finished__in=set(latest.values())):
        if latest.get(job.item_key) != job.finished:
            continue
        item = keys[job.item_key]
        findings.append(Finding(f"item:{item.pk}", item_subject(item.item.vm),
                                f"The backup of {item_subject(item.item.vm)} failed at {job.finished:%Y-%m-%d %H:%M} "
                                f"UTC: {job.error_message or job.error_code}"))
    return findings


def policy_window(policy: rules.Policy) -> timedelta:
    """The longest gap between two backups of the schedule (a day for daily, up to a week for weekly) plus grace."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    slots = list(schedule.slots(policy, start, start + timedelta(days=15)))
    gaps = [later - earlier for earlier, later in zip(slots, slots[1:], strict=False)]
    return max(gaps, default=timedelta(days=7)) + MISSED_GRACE


def missed_backup(vault: Vault, rule: Rule, now: datetime) -> list[Finding]:
    """An item under protection with no successful backup for longer than the rule's hours, or its policy's window.

    Counted from its newest recovery point, or from when protection was configured when it has none (the initial
    backup pending)."""
    items = (ProtectedItem.objects.filter(vault=vault, status__in=ProtectedItem.ACTIVE, policy__isnull=False)
             .select_related("item__vm", "policy").annotate(newest=Max("recovery_points__created")))
    findings = []
    for item in items:
        if rule.threshold is not None:
            window = timedelta(hours=rule.threshold)
        else:
            try:
                window = policy_window(item.policy.rules)
            except (KeyError, ValueError):
                continue  # an unreadable policy backs nothing up; the scheduler logs it
        since = item.newest or item.configured
        if now - since <= window:
            continue
        hours = int((now - since).total_seconds() // 3600)
        what = "since protection was configured" if item.newest is None else "since the newest recovery point"
        findings.append(Finding(f"item:{item.pk}", item_subject(item.item.vm),
                                f"No successful backup of {item_subject(item.item.vm)} for {hours} hours ({what}, "
                                f"{since:%Y-%m-%d %H:%M} UTC); the alert is raised after "
                                f"{int(window.total_seconds() // 3600)} hours."))
    return findings


def verify_damage(vault: Vault, rule: Rule, now: datetime) -> list[Finding]:
    """The vault's latest Verify found damaged recovery points; a later Verify that ends well clears it."""
    latest = (Job.objects.filter(vault=vault, operation=Operation.VERIFY, status__in=[*SUCCEEDED, Status.FAILED])
              .order_by("-finished", "-pk").first())
    if latest is None or latest.status != Status.FAILED or latest.error_code != VERIFY_DAMAGE_CODE:
        return []
    return [Finding("vault", vault.name, f"Verify found damage in vault {vault.name} at "
                                         f"{latest.finished:%Y-%m-%d %H:%M} UTC: {latest.error_message}")]


def long_running_job(vault: Vault, rule: Rule, now: datetime) -> list[Finding]:
    """A job In Progress (or cancelling) for longer than the rule's minutes; it clears when the job ends."""
    minutes = rule.effective_threshold or 0
    jobs = list(Job.objects.filter(vault=vault, status__in=RUNNING, started__lt=now - timedelta(minutes=minutes)))
    vms = VirtualMachine.objects.in_bulk([vm_id for job in jobs if (vm_id := _vm_id(job.item_key))])
    findings = []
    for job in jobs:
        vm = vms.get(_vm_id(job.item_key) or 0)
        name = item_subject(vm) if vm else job.item_name
        running = int((now - job.started).total_seconds() // 60)
        findings.append(Finding(f"job:{job.pk}", f"{job.get_operation_display()} of {name}",
                                f"The {job.get_operation_display()} job of {name} has been In Progress for {running} "
                                f"minutes (since {job.started:%Y-%m-%d %H:%M} UTC); the limit is {minutes} minutes."))
    return findings


def _vm_id(item_key: str) -> int | None:
    """The VM of a job's ``vm:<id>`` item key (vaults.models.RegisteredItem.key_of); None for a vault's own jobs."""
    kind, _, pk = item_key.partition(":")
    return int(pk) if kind == "vm" and pk.isdigit() else None


def store_usage(vault: Vault) -> tuple[int, int]:
    """(total, free) bytes of the filesystem holding the vault store (its parent directory until the first backup)."""
    path = Path(vault.store_path)
    while not path.exists() and path != path.parent:
        path = path.parent
    usage = shutil.disk_usage(path if path.exists() else settings.VAULT_STORE_DIR)
    return usage.total, usage.free


def store_nearly_full(vault: Vault, rule: Rule, now: datetime) -> list[Finding]:
    """The filesystem holding the store is fuller than the rule's percent (as ``df`` counts: used of used + free)."""
    total, free = store_usage(vault)
    if not total:
        return []
    percent = 100 * (total - free) / total
    limit = rule.effective_threshold or 100
    if percent < limit:
        return []
    return [Finding("vault", vault.name,
                    f"The filesystem holding the store of vault {vault.name} is {percent:.0f}% full "
                    f"({_size(free)} free of {_size(total)}; the vault holds {_size(vault.storage_used)}); "
                    f"the alert is raised at {limit}%. Free space, or move the vault store to a bigger filesystem, "
                    "before backups fail.")]


def _size(count: int) -> str:
    return filesizeformat(count).replace("\xa0", " ")  # Django's figure, as the dashboard shows it


CHECKS: dict[str, Callable[[Vault, Rule, datetime], list[Finding]]] = {
    Condition.BACKUP_FAILED: backup_failed,
    Condition.MISSED_BACKUP: missed_backup,
    Condition.VERIFY_DAMAGE: verify_damage,
    Condition.LONG_RUNNING_JOB: long_running_job,
    Condition.STORE_NEARLY_FULL: store_nearly_full,
}
