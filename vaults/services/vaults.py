"""What users do to vaults: quick create, storage replication, delete, and the dashboard's figures.

Views call these functions and render what they return or raise; nothing here
knows about requests or templates. Every refusal is a ``Refusal`` whose text
is a sentence the user can act on.
"""

from __future__ import annotations

import logging
import re
import shutil
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from jobs.models import ACTIVE, SUCCEEDED, Job, Operation, Status
from jobs.services import log_operation
from portal.events import publish
from vaults.cloud.compute import list_regions
from vaults.cloud.errors import FabricError
from vaults.models import ProtectedItem, RecoveryPoint, RegisteredItem, Subscription, User, Vault
from vaults.services.keys import give_new_key
from vaults.services.policies import create_default_policy
from vaults.services.refusals import InvalidRequest, NotNow, Refusal, require_administrator, require_operator

log = logging.getLogger(__name__)

MAX_VAULTS_PER_SUBSCRIPTION = 25
_NAME_CHARS = re.compile(r"^[A-Za-z0-9-]+$")


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
    """The subscription's regions, from its endpoint. Refused, with the reason, when it cannot be reached."""
    try:
        return list_regions(subscription.endpoint)
    except FabricError as error:
        raise Refusal(str(error), field="region", code="EndpointUnreachable") from error


def check_new_vault(user: User, subscription: Subscription, name: str, region: str) -> None:
    """Every rule of quick create, checked before anything is made."""
    require_operator(user, "create vaults")
    if not Subscription.objects.visible_to(user).filter(pk=subscription.pk).exists():
        raise InvalidRequest("Choose a subscription you belong to.", field="subscription")
    errors = vault_name_errors(name)
    if errors:
        raise InvalidRequest(" ".join(errors), field="name")
    if subscription.vaults.filter(name__iexact=name).exists():
        raise InvalidRequest(f"A vault named '{name}' already exists in subscription '{subscription}'. Choose another "
                             "name.", field="name")
    if subscription.vaults.count() >= MAX_VAULTS_PER_SUBSCRIPTION:
        raise NotNow(f"Subscription '{subscription}' already has {MAX_VAULTS_PER_SUBSCRIPTION} vaults, the most it "
                     "may hold. Delete a vault you no longer need, or use another subscription.")
    if not region:
        raise InvalidRequest("Choose a region.", field="region")
    regions = regions_of(subscription)
    if region not in regions:
        raise InvalidRequest(f"'{region}' is not a region of subscription '{subscription}'. Choose one of: "
                             f"{', '.join(regions)}.", field="region")


def reserve_vault(subscription: Subscription, name: str, region: str) -> Vault:
    """The vault's row, Creating: it holds the name (the database keeps one of two racing requests) and lists as
    Creating until ``build_vault`` makes its key and store."""
    try:
        with transaction.atomic():
            return Vault.objects.create(subscription=subscription, name=name, region=region,
                                        status=Vault.Status.CREATING)
    except IntegrityError as error:
        raise _creation_failure(name, subscription, error) from error


def build_vault(vault: Vault) -> Vault:
    """A Creating vault's encryption key, store directory and DefaultPolicy, then Active; all or nothing.

    A store that cannot be made raises ``Refusal`` (StoreNotCreated) and leaves neither the directory nor a key
    behind; the caller discards the row (``discard_vault``).
    """
    store = vault.store_path
    try:
        with transaction.atomic():
            give_new_key(vault)  # new vaults are encrypted at rest
            vault.save(update_fields=["wrapped_key", "key_fingerprint"])
            store.mkdir(parents=True, exist_ok=False)
            if not vault.policies.exists():
                create_default_policy(vault)
            if not vault.mark_active():
                raise NotNow(_("Vault '%(name)s' is no longer being created.") % {"name": vault.name})
    except BaseException as error:
        if store.is_dir() and not any(store.iterdir()):
            store.rmdir()  # made by this call: the rolled-back row must not leave it behind
        raise _creation_failure(vault.name, vault.subscription, error) from error
    return vault


def discard_vault(vault: Vault) -> None:
    """Remove what a failed creation left: the Creating row (and its policy) and an empty store directory."""
    Vault.objects.filter(pk=vault.pk, status=Vault.Status.CREATING).delete()
    store = vault.store_path
    if store.is_dir() and not any(store.iterdir()):
        store.rmdir()


def create_vault(user: User, subscription: Subscription, name: str, region: str) -> Vault:
    """Quick create in one call, for callers that wait for it (the command line, the API, scripts): check every
    rule, then make the vault and its store, Creating → Active. The portal's page runs the same steps as a Create
    Vault job (``vaults.operations.vaults.CreateVault``).

    Nothing is left behind on failure: the row and the store directory are made together or not at all.
    """
    check_new_vault(user, subscription, name, region)
    vault = reserve_vault(subscription, name, region)
    try:
        build_vault(vault)
    except BaseException:
        discard_vault(vault)
        raise
    log_operation(user, Operation.CREATE_VAULT, subscription=subscription, vault=vault, item_type="vault",
                  item_key=f"vault:{vault.pk}", item_name=name, details={"region": region})
    publish([f"user:{user.pk}"], "notify", {"id": f"vault-create-{subscription.pk}-{name.lower()}",
                                            "text": _("Created backup vault '%(name)s'.") % {"name": name},
                                            "state": "succeeded", "url": vault.get_absolute_url()})
    return vault


def _creation_failure(name: str, subscription: Subscription, error: BaseException) -> Exception:
    if isinstance(error, IntegrityError):
        # Two people chose the same name at the same moment; the database kept one.
        return InvalidRequest(f"A vault named '{name}' already exists in subscription '{subscription}'. "
                              "Choose another name.", field="name")
    if isinstance(error, OSError):
        return Refusal(f"The vault's store could not be created ({error.strerror}). No vault was created; "
                       "check the free space and permissions of the vault store directory.", code="StoreNotCreated")
    return error if isinstance(error, Exception) else Refusal("Vault creation was interrupted.")


def set_replication(user: User, vault: Vault, replication: str) -> Vault:
    require_administrator(user, "change storage replication")
    if replication not in Vault.Replication.values:
        raise InvalidRequest("Choose Geo-Redundant or Locally Redundant storage replication.", field="replication")
    reason = vault.replication_lock_reason()
    if reason and replication != vault.replication:
        raise NotNow(reason, field="replication")
    # Conditional update: a registration that lands meanwhile wins, and we say so.
    updated = Vault.objects.filter(pk=vault.pk, registered_items__isnull=True).update(replication=replication)
    if not updated and replication != vault.replication:
        raise NotNow(Vault.REPLICATION_LOCKED, field="replication")
    vault.replication = replication
    publish([f"vault:{vault.pk}"], "vault", {"id": vault.pk, "replication": replication})
    return vault


def delete_vault(user: User, vault: Vault, reason: str) -> None:
    """DELETE: only an administrator, only an empty vault, with a reason; removes the store."""
    require_administrator(user, "delete vaults")
    refusal = vault.delete_refusal()
    if refusal:
        raise NotNow(refusal)
    if not reason.strip():
        raise InvalidRequest("Give a reason for deleting the vault.", field="reason")
    if not vault.start_deleting():
        raise NotNow("The vault is not active (it may already be being deleted).")
    store = vault.store_path
    with transaction.atomic():
        log_operation(user, Operation.DELETE_VAULT, subscription=vault.subscription, item_type="vault",
                      item_key=f"vault:{vault.pk}", item_name=vault.name, details={"reason": reason.strip()})
        Vault.objects.filter(pk=vault.pk).delete()
        transaction.on_commit(lambda: shutil.rmtree(store, ignore_errors=True))
    publish([f"user:{user.pk}"], "notify", {"id": f"vault-delete-{vault.pk}", "state": "succeeded",
                                            "text": f"Deleted backup vault '{vault.name}'."})


def dashboard_summary(vault: Vault) -> dict[str, Any]:
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
        "storage_used": vault.storage_used,
        "jobs": counts,
        "recent_errors": list(recent.filter(status=Status.FAILED).order_by("-created")[:5]),
    }
