"""Subscriptions (connections to a fabric endpoint) and backup vaults."""

from __future__ import annotations

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
        return Path(settings.VAULT_STORE_DIR) / str(self.pk)

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


class RegisteredItem(models.Model):
    """A virtual machine registered with a vault (one vault at most per VM)."""

    class Status(models.TextChoices):
        REGISTERING = "registering", "Registering"
        REGISTERED = "registered", "Registered"
        ERROR = "error", "Error"
        UNREGISTERING = "unregistering", "Unregistering"

    vault = models.ForeignKey(Vault, on_delete=models.CASCADE, related_name="registered_items")
    cloud_service = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.REGISTERING)
    error_message = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "cloud_service"]
        constraints = [
            # A VM is identified by its cloud service and name within a subscription's fabric.
            models.UniqueConstraint(fields=["vault", "cloud_service", "name"], name="registered_item_unique_in_vault"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cloud_service})"
