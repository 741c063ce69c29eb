"""Policies, protected items and recovery points: the rows of protection and backup.

Imported by ``vaults.models`` so Django registers them with the vaults app.
A policy's rules live in ``vaults.policy`` (plain dataclasses); the row keeps
their stored form in ``definition`` and is the one thing VMs point at.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from vaults import policy as rules


class Policy(models.Model):
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=150)
    definition = models.JSONField(help_text="vaults.policy.policy_to_dict() of the policy")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [models.UniqueConstraint(fields=["vault", "name"], name="policy_name_unique_in_vault")]

    def __str__(self) -> str:
        return self.name

    @property
    def rules(self) -> rules.Policy:
        return rules.policy_from_dict(self.definition)


class ProtectedItem(models.Model):
    """A registered VM under protection, or whose protection stopped with its data kept."""

    class Status(models.TextChoices):
        PENDING = "pending", "Protected - (initial backup pending)"
        PROTECTED = "protected", "Protected"
        STOPPED = "stopped", "Protection Stopped"
        ERROR = "error", "Protection Error"

    ACTIVE = (Status.PENDING, Status.PROTECTED, Status.ERROR)

    item = models.OneToOneField("vaults.RegisteredItem", on_delete=models.PROTECT, related_name="protection")
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="protected_items")
    # PROTECT: a policy that VMs use cannot be deleted; stopped items keep the policy they had.
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, null=True, blank=True, related_name="protected_items")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    last_backup_status = models.CharField(max_length=40, blank=True)
    last_backup_time = models.DateTimeField(null=True, blank=True)
    # The snapshots of the newest point, per disk, that the next incremental backup diffs against.
    base_snapshots = models.JSONField(default=dict, blank=True)
    # The scheduler's last enqueued slot (UTC ISO): one scheduled backup per slot, whoever ticks.
    last_scheduled_slot = models.CharField(max_length=40, blank=True)
    # When protection was last configured: a VM protected at 23:00 is not owed that day's 22:30 slot.
    configured = models.DateTimeField(default=timezone.now)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item__vm__name"]

    def __str__(self) -> str:
        return str(self.item)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class RecoveryPoint(models.Model):
    """A published backup: every chunk and manifest it names is durable in the vault store."""

    class Consistency(models.TextChoices):
        APPLICATION = "application", "Application consistent"
        FILE_SYSTEM = "file_system", "File-system consistent"
        CRASH = "crash", "Crash consistent"

    protected_item = models.ForeignKey(ProtectedItem, on_delete=models.CASCADE, related_name="recovery_points")
    created = models.DateTimeField(db_index=True, help_text="when the snapshot was taken")
    consistency = models.CharField(max_length=12, choices=Consistency.choices)
    store_point_id = models.CharField(max_length=100, help_text="the point's id in the vault store")
    # [{"name", "lun", "size", "digest", "snapshot", "media_link"}] per disk
    disks = models.JSONField(default=list)
    logical_bytes = models.BigIntegerField(default=0)
    stored_bytes = models.BigIntegerField(default=0, help_text="new bytes this point added to the store")
    adhoc = models.BooleanField(default=False, help_text="made by BACKUP NOW rather than by the schedule")
    expires = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["protected_item", "store_point_id"], name="point_unique_in_item")]

    def __str__(self) -> str:
        return f"{self.protected_item} @ {self.created:%Y-%m-%d %H:%M}"


class ScheduledBackup(models.Model):
    """One scheduled slot of one protected item, claimed once: the database refuses a second claim.

    The scheduler inserts claims in bulk with ``ignore_conflicts`` and a tick
    token, then starts Backup jobs only for the rows that carry its own token,
    so a restart, a second beat or a late tick never backs a VM up twice for
    the same slot.
    """

    protected_item = models.ForeignKey(ProtectedItem, on_delete=models.CASCADE, related_name="scheduled_backups")
    slot = models.CharField(max_length=20, help_text="vaults.schedule.slot_id() of the slot")
    claimed_by = models.CharField(max_length=32, help_text="the token of the tick that claimed the slot")
    claimed = models.DateTimeField(default=timezone.now, db_index=True)  # old claims are pruned by the tick
    job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-claimed"]
        constraints = [models.UniqueConstraint(fields=["protected_item", "slot"], name="one_backup_per_item_slot")]
        indexes = [models.Index(fields=["claimed_by"], name="scheduled_backup_token")]

    def __str__(self) -> str:
        return f"{self.protected_item} @ {self.slot}"
