"""Subscriptions (connections to a fabric endpoint) and backup vaults."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse

from vaults.compute import Endpoint
from vaults.regions import paired_region


class SubscriptionQuerySet(models.QuerySet):
    def visible_to(self, user) -> SubscriptionQuerySet:
        """The subscriptions ``user`` belongs to. Every other query scopes through this."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(members=user)


class Subscription(models.Model):
    class Protocol(models.TextChoices):
        HTTP = "http", "HTTP (lab, loopback only)"
        HTTPS = "https", "HTTPS with management certificate"

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
    def visible_to(self, user) -> VaultQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(subscription__members=user)


class Vault(models.Model):
    class Status(models.TextChoices):
        CREATING = "creating", "Creating"
        ACTIVE = "active", "Active"
        DELETING = "deleting", "Deleting"

    class Replication(models.TextChoices):
        GRS = "grs", "Geo-Redundant"
        LRS = "lrs", "Locally Redundant"

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="vaults")
    name = models.CharField(max_length=50)
    region = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    replication = models.CharField(max_length=3, choices=Replication.choices, default=Replication.GRS)
    # Names the vault's store directory: never reused, even if a database restarts its ids.
    store_key = models.CharField(max_length=32, unique=True, default=_new_store_key, editable=False)
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

    def has_registered_items(self) -> bool:
        return self.registered_items.exists()

    def replication_lock_reason(self) -> str:
        """Why storage replication can no longer change, or "" while it still can."""
        return self.REPLICATION_LOCKED if self.has_registered_items() else ""

    def delete_refusal(self) -> str:
        """Why the vault cannot be deleted now, or "" when it can."""
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
        return f"{self.name} ({self.cloud_service})"

    @property
    def data_disk_count(self) -> int:
        return sum(1 for disk in self.disks if disk.get("lun") is not None)

    @property
    def on_premium_storage(self) -> bool:
        return any(disk.get("premium") for disk in self.disks)

    @property
    def running(self) -> bool:
        return self.power_state == "Started"


class RegisteredItem(models.Model):
    """A virtual machine registered with a vault. The one-to-one link makes "one vault per VM" a database rule."""

    class Status(models.TextChoices):
        REGISTERING = "registering", "Registering"
        REGISTERED = "registered", "Registered"
        ERROR = "error", "Error"
        UNREGISTERING = "unregistering", "Unregistering"

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
        return f"vm:{self.vm_id}"


# Protection rows live in their own module; importing them here registers them with the app.
from vaults.protection_models import Policy, ProtectedItem, RecoveryPoint, ScheduledBackup  # noqa: E402,F401
