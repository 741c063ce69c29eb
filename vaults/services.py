"""What users do to vaults and subscriptions: the rules, the messages, and the changes.

Views call these functions and render what they return or raise; nothing here
knows about requests or templates. Every refusal is a ``VaultError`` whose
text is a sentence the user can act on.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from jobs.models import ACTIVE, SUCCEEDED, Job, Operation, Status
from jobs.services import log_operation
from portal.access import can_administer, can_operate
from portal.events import publish, publish_now
from vaults.compute import FabricError, list_regions
from vaults.models import ProtectedItem, RecoveryPoint, RegisteredItem, Subscription, Vault
from vaults.protection import create_default_policy

log = logging.getLogger(__name__)

MAX_VAULTS_PER_SUBSCRIPTION = 25
_NAME_CHARS = re.compile(r"^[A-Za-z0-9-]+$")


class VaultError(Exception):
    """A refusal, with the field it concerns (None for the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def vault_name_errors(name: str) -> list[str]:
    """Every rule of a vault name this ``name`` breaks, as sentences."""
    errors = []
    if not 2 <= len(name) <= 50:
        errors.append("The vault name must be between 2 and 50 characters long.")
    if name and not (name[0].isascii() and name[0].isalpha()):
        errors.append("The vault name must start with a letter.")
    if name and not _NAME_CHARS.match(name):
        errors.append("The vault name can contain only letters, numbers and hyphens.")
    return errors


def regions_of(subscription: Subscription) -> list[str]:
    """The subscription's regions, from its endpoint. Raises VaultError when it cannot be reached."""
    try:
        return list_regions(subscription.endpoint)
    except FabricError as error:
        raise VaultError(str(error), field="region") from error


def create_vault(user, subscription: Subscription, name: str, region: str) -> Vault:
    """Quick create: check every rule, then make the vault and its store, Creating → Active.

    Nothing is left behind on failure: the row and the store directory are
    made together or not at all.
    """
    if not can_operate(user):
        raise VaultError("Only Backup Operators and Administrators can create vaults.")
    if not Subscription.objects.visible_to(user).filter(pk=subscription.pk).exists():
        raise VaultError("Choose a subscription you belong to.", field="subscription")
    errors = vault_name_errors(name)
    if errors:
        raise VaultError(" ".join(errors), field="name")
    if subscription.vaults.filter(name__iexact=name).exists():
        raise VaultError(f"A vault named '{name}' already exists in subscription '{subscription}'. Choose another name.",
                         field="name")
    if subscription.vaults.count() >= MAX_VAULTS_PER_SUBSCRIPTION:
        raise VaultError(f"Subscription '{subscription}' already has {MAX_VAULTS_PER_SUBSCRIPTION} vaults, the most it "
                         "may hold. Delete a vault you no longer need, or use another subscription.")
    if not region:
        raise VaultError("Choose a region.", field="region")
    regions = regions_of(subscription)
    if region not in regions:
        raise VaultError(f"'{region}' is not a region of subscription '{subscription}'. Choose one of: "
                         f"{', '.join(regions)}.", field="region")

    note = f"vault-create-{subscription.pk}-{name.lower()}"
    publish_now([f"user:{user.pk}"], "notify", {"id": note, "text": f"Creating backup vault '{name}'…",
                                                 "state": "running", "progress": 30})
    store = None
    try:
        with transaction.atomic():
            vault = Vault.objects.create(subscription=subscription, name=name, region=region,
                                         status=Vault.Status.CREATING)
            store = vault.store_path
            store.mkdir(parents=True, exist_ok=False)
            vault.status = Vault.Status.ACTIVE
            vault.save(update_fields=["status"])
            create_default_policy(vault)
            log_operation(user, Operation.CREATE_VAULT, subscription=subscription, vault=vault, item_type="vault",
                          item_key=f"vault:{vault.pk}", item_name=name, details={"region": region})
    except BaseException as error:
        # The row rolled back; the store directory must go with it.
        if store is not None:
            shutil.rmtree(store, ignore_errors=True)
        failure = _creation_failure(name, subscription, error)
        publish_now([f"user:{user.pk}"], "notify", {"id": note, "text": str(failure), "state": "failed"})
        raise failure from error
    publish([f"user:{user.pk}"], "notify", {"id": note, "text": f"Created backup vault '{name}'.",
                                            "state": "succeeded", "url": vault.get_absolute_url()})
    return vault


def _creation_failure(name: str, subscription: Subscription, error: BaseException) -> Exception:
    if isinstance(error, IntegrityError):
        # Two people chose the same name at the same moment; the database kept one.
        return VaultError(f"A vault named '{name}' already exists in subscription '{subscription}'. "
                          "Choose another name.", field="name")
    if isinstance(error, OSError):
        return VaultError(f"The vault's store could not be created ({error.strerror}). No vault was created; "
                          "check the free space and permissions of the vault store directory.")
    return error if isinstance(error, Exception) else VaultError("Vault creation was interrupted.")


def set_replication(user, vault: Vault, replication: str) -> Vault:
    if not can_administer(user):
        raise VaultError("Only Backup Administrators can change storage replication.")
    if replication not in Vault.Replication.values:
        raise VaultError("Choose Geo-Redundant or Locally Redundant storage replication.", field="replication")
    reason = vault.replication_lock_reason()
    if reason and replication != vault.replication:
        raise VaultError(reason, field="replication")
    # Conditional update: a registration that lands meanwhile wins, and we say so.
    updated = Vault.objects.filter(pk=vault.pk, registered_items__isnull=True).update(replication=replication)
    if not updated and replication != vault.replication:
        raise VaultError(Vault.REPLICATION_LOCKED, field="replication")
    vault.replication = replication
    publish([f"vault:{vault.pk}"], "vault", {"id": vault.pk, "replication": replication})
    return vault


def delete_vault(user, vault: Vault, reason: str) -> None:
    """DELETE: only an administrator, only an empty vault, with a reason; removes the store."""
    if not can_administer(user):
        raise VaultError("Only Backup Administrators can delete vaults.")
    refusal = vault.delete_refusal()
    if refusal:
        raise VaultError(refusal)
    if not reason.strip():
        raise VaultError("Give a reason for deleting the vault.", field="reason")
    claimed = Vault.objects.filter(pk=vault.pk, status=Vault.Status.ACTIVE).update(status=Vault.Status.DELETING)
    if not claimed:
        raise VaultError("The vault is not active (it may already be being deleted).")
    store = vault.store_path
    with transaction.atomic():
        log_operation(user, Operation.DELETE_VAULT, subscription=vault.subscription, item_type="vault",
                      item_key=f"vault:{vault.pk}", item_name=vault.name, details={"reason": reason.strip()})
        Vault.objects.filter(pk=vault.pk).delete()
        transaction.on_commit(lambda: shutil.rmtree(store, ignore_errors=True))
    publish([f"user:{user.pk}"], "notify", {"id": f"vault-delete-{vault.pk}", "state": "succeeded",
                                            "text": f"Deleted backup vault '{vault.name}'."})


def storage_used(vault: Vault) -> int:
    """Bytes actually held in the vault's store on disk."""
    total = 0
    for root, _dirs, files in os.walk(vault.store_path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue  # removed by garbage collection while we counted
    return total


def add_subscription(user, *, name: str, subscription_id: str, host: str, protocol: str,
                     certificate_pem: str = "", ca_pem: str = "") -> Subscription:
    """An administrator connects another endpoint; they become its first member."""
    if not can_administer(user):
        raise VaultError("Only Backup Administrators can add subscriptions.")
    if Subscription.objects.filter(subscription_id=subscription_id).exists():
        raise VaultError("A subscription with this id is already connected.", field="subscription_id")
    if protocol == Subscription.Protocol.HTTPS and not certificate_pem.strip():
        raise VaultError("An HTTPS endpoint needs a management certificate (PEM with the key).", field="certificate")
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


def write_private(filename: str, content: str):
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


def dashboard_summary(vault: Vault) -> dict:
    """The figures of a vault's dashboard, computed from what is held now."""
    since = timezone.now() - timedelta(hours=24)
    recent = Job.objects.filter(vault=vault, created__gte=since)
    counts = recent.aggregate(
        succeeded=Count("pk", filter=Q(status__in=SUCCEEDED)),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
        running=Count("pk", filter=Q(status__in=ACTIVE)),
    )
    return {
        "protected_vms": vault.protected_items.filter(status__in=ProtectedItem.ACTIVE).count(),
        "recovery_points": RecoveryPoint.objects.filter(protected_item__vault=vault).count(),
        "registered_items": vault.registered_items.filter(status=RegisteredItem.Status.REGISTERED).count(),
        "storage_used": storage_used(vault),
        "jobs": counts,
        "recent_errors": list(recent.filter(status=Status.FAILED).order_by("-created")[:5]),
    }
