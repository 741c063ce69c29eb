"""Subscriptions (connections to a fabric endpoint) and backup vaults."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


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
    # Path of the PEM (key + certificate) under VAR_DIR, mode 0600; never rendered.
    certificate_path = models.CharField(max_length=500, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="subscriptions", blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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

    objects = VaultQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "name"], name="vault_name_unique_in_subscription"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("vaults:dashboard", args=[self.pk])
