"""Every row of the vaults app: subscriptions, vaults, VMs, registrations, policies, protection, recovery points.

Statuses move only through the transition methods below. Each is a
compare-and-swap (``UPDATE ... WHERE status IN (sources)``): it returns False,
and changes nothing, when the row is not in a state the move may start from,
so two workers never both win and an illegal move is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vaults.cloud.endpoint import Endpoint
from vaults.cloud.regions import paired_region
from vaults.lifecycle import SoftDeletable, SoftDeleteSettings, StatusMoves
from vaults.policy import rules, stored

# Who asks for something; None when the service itself acts (the scheduler, a command run on the machine).
User = AbstractBaseUser | AnonymousUser | None


class SubscriptionQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> SubscriptionQuerySet:
        """The subscriptions ``user`` belongs to. Every other query scopes through this."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(members=user)


class Subscription(models.Model):
    class Protocol(models.TextChoices):
        HTTP = "http", _("HTTP (lab, loopback only)")
        HTTPS = "https", _("HTTPS with management certificate")

    name = models.CharField(max_length=100)
    subscription_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255, help_text="host[:port] of the Service Management endpoint")
    protocol = models.CharField(max_length=5, choices=Protocol.choices, default=Protocol.HTTP)
    # Paths of PEM files under VAR_DIR/certificates, mode 0600; never rendered back.
    certificate_path = models.CharField(max_length=500, blank=True, editable=False)
    ca_path = models.CharField(max_length=500, blank=True, editable=False)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="subscriptions", blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(subscription_id=self.subscription_id, host=self.host, protocol=self.protocol,
                        certificate_path=self.certificate_path, ca_path=self.ca_path)

    @property
    def has_certificate(self) -> bool:
        return bool(self.certificate_path)


def _new_store_key() -> str:
    return uuid.uuid4().hex


class VaultQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> VaultQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(subscription__members=user)


class Vault(StatusMoves, SoftDeleteSettings):
    class Status(models.TextChoices):
        CREATING = "creating", _("Creating")
        ACTIVE = "active", _("Active")
        DELETING = "deleting", _("Deleting")

    class Replication(models.TextChoices):
        GRS = "grs", _("Geo-Redundant")
        LRS = "lrs", _("Locally Redundant")

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="vaults")
    name = models.CharField(max_length=50)
    region = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    replication = models.CharField(max_length=3, choices=Replication.choices, default=Replication.GRS)
    # Names the vault's store directory: never reused, even if a database restarts its ids.
    store_key = models.CharField(max_length=32, unique=True, default=_new_store_key, editable=False)
    # Bytes the vault store holds, as the engine last counted them after a job changed the store.
    storage_used = models.BigIntegerField(default=0)
    # The vault's data key wrapped by the installation's master key (vaults/services/keys.py); empty for a vault
    # made before encryption, whose store stays unencrypted.
    wrapped_key = models.TextField(blank=True, editable=False)
    # What the data key is, without revealing it: shown beside the key export and checked on import.
    key_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    REPLICATION_LOCKED = ("Storage replication cannot be changed once an item is registered with the vault: "
                          "the data already held was stored under the current setting.")

    objects = VaultQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "name"], name="vault_name_unique_in_subscription"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("vaults:open", args=[self.pk])

    @property
    def store_path(self) -> Path:
        return Path(settings.VAULT_STORE_DIR) / self.store_key

    @property
    def paired_region(self) -> str | None:
        return paired_region(self.region)

    @property
    def is_geo_redundant(self) -> bool:
        """GRS with a paired region to keep the second copy in."""
        return self.replication == self.Replication.GRS and self.paired_region is not None

    def has_registered_items(self) -> bool:
        return self.registered_items.exists()

    def replication_lock_reason(self) -> str:
        """Why storage replication can no longer change, or "" while it still can."""
        return self.REPLICATION_LOCKED if self.has_registered_items() else ""

    def mark_active(self) -> bool:
        """Creating → Active: the Create Vault job made its key and store."""
        return self._move([self.Status.CREATING], self.Status.ACTIVE)

    def start_deleting(self) -> bool:
        """Active → Deleting: one request wins the vault's deletion."""
        return self._move([self.Status.ACTIVE], self.Status.DELETING)

    def delete_refusal(self) -> str:
        """Why the vault cannot be deleted now, or "" when it can."""
        if refusal := self.soft_delete_refusal():
            return refusal
        if self.has_registered_items():
            return ("The vault still has registered items. Stop protection (deleting the backup data) and "
                    "unregister every item, then delete the vault.")
        return ""


class VirtualMachine(models.Model):
    """A VM of a subscription's fabric, as discovery last saw it.

    A VM is named by its cloud service and role name (two VMs may share a name
    in different cloud services). Rows are never deleted by discovery: a VM
    that no longer exists is marked ``gone`` so its history stays readable.
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="virtual_machines")
    cloud_service = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    deployment = models.CharField(max_length=100)
    region = models.CharField(max_length=100, db_index=True)
    power_state = models.CharField(max_length=30, blank=True)
    instance_status = models.CharField(max_length=50, blank=True)
    agent_status = models.CharField(max_length=30, blank=True, help_text="GuestAgentStatus/Status, empty when no agent")
    has_agent = models.BooleanField(default=False)
    # [{"name", "lun" (None for the OS disk), "media_link", "size_gb", "premium"}]
    disks = models.JSONField(default=list)
    gone = models.BooleanField(default=False)
    discovered = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["name", "cloud_service"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "cloud_service", "name"], name="vm_unique_in_subscription"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """How sentences, jobs and logs name the VM, "web01 (contoso-web)": names repeat across cloud services."""
        return self.name_in_service(self.name, self.cloud_service)

    @staticmethod
    def name_in_service(name: str, cloud_service: str) -> str:
        """``display_name`` for callers holding the two values only (a ``values_list`` query)."""
        return f"{name} ({cloud_service})"

    @property
    def data_disk_count(self) -> int:
        return sum(1 for disk in self.disks if disk.get("lun") is not None)


class RegisteredItem(StatusMoves):
    """A virtual machine registered with a vault. The one-to-one link makes "one vault per VM" a database rule."""

    class Status(models.TextChoices):
        REGISTERING = "registering", _("Registering")
        REGISTERED = "registered", _("Registered")
        ERROR = "error", _("Error")
        UNREGISTERING = "unregistering", _("Unregistering")

    vault = models.ForeignKey(Vault, on_delete=models.CASCADE, related_name="registered_items")
    vm = models.OneToOneField(VirtualMachine, on_delete=models.PROTECT, related_name="registration")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.REGISTERING)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    recommendation = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vm__name", "vm__cloud_service"]

    def __str__(self) -> str:
        return str(self.vm)

    @property
    def name(self) -> str:
        return self.vm.name

    @property
    def cloud_service(self) -> str:
        return self.vm.cloud_service

    @property
    def item_key(self) -> str:
        """The key of the one-operation-at-a-time rule: the VM, whichever vault it is in."""
        return self.key_of(self.vm_id)

    @staticmethod
    def key_of(vm_id: int) -> str:
        return f"vm:{vm_id}"

    # --- transitions ---------------------------------------------------------

    def retry_registering(self) -> bool:
        """A registration that failed is tried again."""
        return self._move([self.Status.ERROR], self.Status.REGISTERING, error_code="", error_message="",
                          recommendation="")

    def mark_registered(self) -> bool:
        return self._move([self.Status.REGISTERING], self.Status.REGISTERED)

    def mark_failed(self, code: str, message: str, recommendation: str) -> bool:
        return self._move([self.Status.REGISTERING], self.Status.ERROR, error_code=code, error_message=message,
                          recommendation=recommendation)

    def start_unregistering(self) -> bool:
        return self._move([self.Status.REGISTERED, self.Status.ERROR], self.Status.UNREGISTERING)

    def unregistering_stopped(self) -> bool:
        """An Unregister job that stopped leaves the VM registered."""
        return self._move([self.Status.UNREGISTERING], self.Status.REGISTERED)


class Policy(models.Model):
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=150)
    definition = models.JSONField(help_text="vaults.policy.stored.policy_to_dict() of the policy")
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
        return stored.policy_from_dict(self.definition)


class ProtectedItem(StatusMoves, SoftDeletable):
    """A registered VM under protection, or whose protection stopped with its data kept (or soft deleted)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Protected - (initial backup pending)")
        PROTECTED = "protected", _("Protected")
        STOPPED = "stopped", _("Protection Stopped")
        ERROR = "error", _("Protection Error")
        SOFT_DELETED = "soft_deleted", _("Soft deleted")
        PURGING = "purging", _("Purging")

    class BackupStatus(models.TextChoices):
        COMPLETED = "Completed", _("Completed")
        FAILED = "Failed", _("Failed")
        CANCELLED = "Cancelled", _("Cancelled")

    ACTIVE = (Status.PENDING, Status.PROTECTED, Status.ERROR)
    DELETED = (Status.SOFT_DELETED, Status.PURGING)  # lifecycle.SoftDeletable: kept until the purge

    item = models.OneToOneField("vaults.RegisteredItem", on_delete=models.PROTECT, related_name="protection")
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="protected_items")
    # PROTECT: a policy that VMs use cannot be deleted; stopped items keep the policy they had.
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, null=True, blank=True, related_name="protected_items")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    last_backup_status = models.CharField(max_length=40, blank=True, choices=BackupStatus.choices)
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

    # --- transitions ---------------------------------------------------------

    def protect_again(self, policy: Policy) -> bool:
        """PROTECT on an item whose protection stopped: its points stay, its first backup is pending again."""
        return self._move([self.Status.STOPPED], self.Status.PENDING, policy=policy)

    def mark_configured(self, policy: Policy, *, has_points: bool) -> bool:
        """Configure Protection applied ``policy``: Protected once it has points, else its initial backup is pending."""
        target = self.Status.PROTECTED if has_points else self.Status.PENDING
        return self._move(self.ACTIVE, target, policy=policy, error_message="", configured=timezone.now())

    def mark_error(self, message: str) -> bool:
        """Protection Error (a failed configuration or backup), until a backup succeeds."""
        return self._move(self.ACTIVE, self.Status.ERROR, error_message=message)

    def note_error(self, message: str) -> None:
        """Keep a failed job's sentence for the item's page; its status moves when the job's hook decides."""
        type(self).objects.filter(pk=self.pk).update(error_message=message)
        self.error_message = message

    def stop(self) -> bool:
        """Stop protection: no more backups, the points stay. Stopping a stopped item changes nothing."""
        return self._move([*self.ACTIVE, self.Status.STOPPED], self.Status.STOPPED)

    def record_backup(self, base_snapshots: dict[str, dict], when: datetime) -> bool:
        """A backup published its point: Protected (a stopped item stays stopped), with its snapshots as the next base."""
        fields = {"error_message": "", "last_backup_status": self.BackupStatus.COMPLETED, "last_backup_time": when,
                  "base_snapshots": base_snapshots}
        return (self._move(self.ACTIVE, self.Status.PROTECTED, **fields)
                or self._move([self.Status.STOPPED], self.Status.STOPPED, **fields))

    def record_backup_cancelled(self, when: datetime) -> None:
        """A cancelled backup is no failure: the status stays, the last backup reads Cancelled."""
        type(self).objects.filter(pk=self.pk).update(last_backup_status=self.BackupStatus.CANCELLED,
                                                     last_backup_time=when)

    @classmethod
    def record_backup_failed(cls, pk: int, since: datetime, message: str, when: datetime) -> bool:
        """A backup started at ``since`` failed: unless a point was made since, show it, and move to Protection
        Error (a stopped item stays stopped). Returns whether anything changed."""
        items = cls.objects.filter(pk=pk).exclude(recovery_points__created__gte=since)
        if not items.update(last_backup_status=cls.BackupStatus.FAILED, last_backup_time=when):
            return False
        items.filter(status__in=cls.ACTIVE).update(status=cls.Status.ERROR, error_message=message)
        return True


class RecoveryPoint(models.Model):
    """A published backup: every chunk and manifest it names is durable in the vault store."""

    class Consistency(models.TextChoices):
        APPLICATION = "application", _("Application consistent")
        FILE_SYSTEM = "file_system", _("File-system consistent")
        CRASH = "crash", _("Crash consistent")

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

    @property
    def data_bytes(self) -> int | None:
        """Bytes in use on the disks (``logical_bytes`` is their provisioned size); None for an older point."""
        data = [disk.get("data") for disk in self.disks]
        return sum(data) if data and None not in data else None

    @property
    def label(self) -> str:
        """How messages name the point: its VM and time, in UTC."""
        return f"{self.protected_item.item.vm.display_name} @ {self.created:%Y-%m-%d %H:%M:%S} UTC"


class ScheduledBackup(models.Model):
    """One scheduled slot of one protected item, claimed once: the database refuses a second claim.

    The scheduler inserts claims in bulk with ``ignore_conflicts`` and a tick
    token, then starts Backup jobs only for the rows that carry its own token,
    so a restart, a second beat or a late tick never backs a VM up twice for
    the same slot.
    """

    protected_item = models.ForeignKey(ProtectedItem, on_delete=models.CASCADE, related_name="scheduled_backups")
    slot = models.CharField(max_length=20, help_text="vaults.policy.schedule.slot_id() of the slot")
    claimed_by = models.CharField(max_length=32, help_text="the token of the tick that claimed the slot")
    claimed = models.DateTimeField(default=timezone.now, db_index=True)  # old claims are pruned by the tick
    job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-claimed"]
        constraints = [models.UniqueConstraint(fields=["protected_item", "slot"], name="one_backup_per_item_slot")]
        indexes = [models.Index(fields=["claimed_by"], name="scheduled_backup_token")]

    def __str__(self) -> str:
        return f"{self.protected_item} @ {self.slot}"


from vaults.history import StorageSample  # noqa: E402, F401 - defined apart, imported here so Django finds it
