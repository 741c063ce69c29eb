"""Subscriptions: an administrator connects a Service Management endpoint, and anyone may test the connection."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from vaults.cloud.compute import list_regions
from vaults.cloud.errors import FabricError
from vaults.models import Subscription, User
from vaults.services.refusals import InvalidRequest, require_administrator


def add_subscription(user: User, *, name: str, subscription_id: str, host: str, protocol: str,
                     certificate_pem: str = "", ca_pem: str = "") -> Subscription:
    """An administrator connects another endpoint; they become its first member."""
    require_administrator(user, "add subscriptions")
    if Subscription.objects.filter(subscription_id=subscription_id).exists():
        raise InvalidRequest("A subscription with this id is already connected.", field="subscription_id")
    if protocol == Subscription.Protocol.HTTPS and not certificate_pem.strip():
        raise InvalidRequest("An HTTPS endpoint needs a management certificate (PEM with the key).", field="certificate")
    with transaction.atomic():
        subscription = Subscription.objects.create(name=name, subscription_id=subscription_id, host=host,
                                                   protocol=protocol)
        if certificate_pem.strip():
            subscription.certificate_path = str(write_private(f"{subscription.pk}-management.pem", certificate_pem))
        if ca_pem.strip():
            subscription.ca_path = str(write_private(f"{subscription.pk}-ca.pem", ca_pem))
        subscription.save(update_fields=["certificate_path", "ca_path"])
        subscription.members.add(user)
    return subscription


def write_private(filename: str, content: str) -> Path:
    directory = settings.CERTIFICATE_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / filename
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content.strip() + "\n")
    return path


def test_connection(subscription: Subscription) -> tuple[bool, str]:
    """Call list_locations and say what happened, in plain words."""
    try:
        regions = list_regions(subscription.endpoint)
    except FabricError as error:
        return False, str(error)
    return True, f"Connected to {subscription.host}: {len(regions)} regions ({', '.join(regions)})."
