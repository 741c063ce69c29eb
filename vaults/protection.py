"""Policies and protection: saving and deleting policies, protecting VMs, and recomputing retention.

The rules of a policy live in ``vaults.policy``; this module applies them to
rows: names unique in the vault, deletion refused while VMs use a policy, one
Configure Protection job per VM when a policy is applied or changed, and each
recovery point's expiry recomputed from the policy it is kept under.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count

from jobs.errors import OperationInProgress
from jobs.models import LogAction, Operation
from jobs.services import log_operation, start_job
from portal.access import can_administer, can_operate
from portal.events import publish
from vaults import policy as rules
from vaults.models import Policy, ProtectedItem, RecoveryPoint, RegisteredItem, Vault
from vaults.retention import RetentionEngine


class ProtectionRefused(Exception):
    """A request refused as a whole, with the sentence to show."""


def create_default_policy(vault: Vault) -> Policy:
    """DefaultPolicy for a new vault: daily at night, daily retention 30 days."""
    definition = rules.policy_to_dict(rules.default_policy())
    return Policy.objects.create(vault=vault, name=rules.DEFAULT_POLICY_NAME, definition=definition)


def policies_with_usage(vault: Vault):
    """The vault's policies, each with ``vm_count``: the VMs under it (stopped ones keep theirs, so they count)."""
    return vault.policies.annotate(vm_count=Count("protected_items"))


def taken_names(vault: Vault, exclude: Policy | None = None) -> list[str]:
    names = vault.policies.all()
    if exclude is not None:
        names = names.exclude(pk=exclude.pk)
    return list(names.values_list("name", flat=True))


def check_policy(vault: Vault, candidate: rules.Policy, editing: Policy | None = None) -> rules.Policy:
    """``candidate`` if every rule holds in ``vault``, else ``rules.PolicyInvalid``."""
    return rules.check(candidate, taken_names(vault, editing))


@dataclass
class PolicySaved:
    policy: Policy
    jobs: int = 0
    refusals: list[str] = field(default_factory=list)


def _require_admin(user, what: str) -> None:
    if not can_administer(user):
        raise ProtectionRefused(f"Only Backup Administrators can {what} policies.")


def create_policy(user, vault: Vault, candidate: rules.Policy) -> Policy:
    _require_admin(user, "create")
    check_policy(vault, candidate)
    with transaction.atomic():
        row = Policy.objects.create(vault=vault, name=candidate.name, definition=rules.policy_to_dict(candidate))
        log_policy_added(user, row)
    return row


def update_policy(user, row: Policy, candidate: rules.Policy) -> PolicySaved:
    """Save the new rules; every VM under the policy is re-configured by a job and its points' expiry recomputed."""
    _require_admin(user, "edit")
    vault = row.vault
    check_policy(vault, candidate, editing=row)
    saved = PolicySaved(row)
    with transaction.atomic():
        row.name, row.definition = candidate.name, rules.policy_to_dict(candidate)
        row.save(update_fields=["name", "definition", "updated"])
        log_operation(user, LogAction.UPDATE_POLICY, subscription=vault.subscription_id, vault=vault,
                      item_type="policy", item_key=f"policy:{row.pk}", item_name=row.name,
                      details={"definition": row.definition})
        items = list(row.protected_items.select_related("item__vm"))
        recompute_expiry(items, candidate)
        for item in items:
            if item.status not in ProtectedItem.ACTIVE:
                continue  # a stopped item takes no backups: nothing to re-configure, only its points' expiry
            try:
                _start_configure(user, item, reconfigure=True)
                saved.jobs += 1
            except OperationInProgress:
                saved.refusals.append(f"'{item.item.name}' is busy with another operation; its next backup follows "
                                      "the new policy, and its points' expiry was recomputed.")
    return saved


def log_policy_added(user, row: Policy) -> None:
    log_operation(user, LogAction.ADD_POLICY, subscription=row.vault.subscription_id, vault=row.vault_id,
                  item_type="policy", item_key=f"policy:{row.pk}", item_name=row.name,
                  details={"definition": row.definition})


def delete_refusal(row: Policy) -> str:
    count = row.protected_items.count()
    if not count:
        return ""
    vms = "1 virtual machine uses" if count == 1 else f"{count} virtual machines use"
    return (f"Policy '{row.name}' cannot be deleted: {vms} it. Protect them with another policy "
            "(or stop their protection and delete their data) first.")


def delete_policy(user, row: Policy) -> None:
    _require_admin(user, "delete")
    reason = delete_refusal(row)
    if reason:
        raise ProtectionRefused(reason)
    with transaction.atomic():
        log_operation(user, LogAction.DELETE_POLICY, subscription=row.vault.subscription_id, vault=row.vault_id,
                      item_type="policy", item_key=f"policy:{row.pk}", item_name=row.name)
        row.delete()  # PROTECT on ProtectedItem.policy: a VM that arrived meanwhile makes this fail, not vanish


# --- Retention ---------------------------------------------------------------

def recompute_expiry(items, policy: rules.Policy) -> int:
    """Set every recovery point of ``items`` to the expiry ``policy`` gives it; returns how many changed."""
    engine = RetentionEngine(policy)
    changed = []
    for point in RecoveryPoint.objects.filter(protected_item__in=items).only("created", "adhoc", "expires"):
        expires = engine.expiry(point.created, adhoc=point.adhoc)
        if point.expires != expires:
            point.expires = expires
            changed.append(point)
    RecoveryPoint.objects.bulk_update(changed, ["expires"], batch_size=500)
    return len(changed)


# --- Protect -----------------------------------------------------------------

def protectable(vault: Vault):
    """Registered VMs of the vault that are not under protection (a stopped one may be protected again)."""
    return (vault.registered_items.filter(status=RegisteredItem.Status.REGISTERED, vm__gone=False)
            .exclude(protection__status__in=ProtectedItem.ACTIVE).select_related("vm"))


def _start_configure(user, item: ProtectedItem, *, reconfigure: bool = False):
    """``reconfigure``: the VM was already protected (a policy edit), so a failed job must not unprotect it."""
    vault = item.vault
    return start_job(operation=Operation.CONFIGURE_PROTECTION, user=user, subscription=vault.subscription,
                     vault=vault, item_type="vm", item_key=item.item.item_key, item_name=item.item.name,
                     task_name="vaults.configure_protection",
                     params={"protected_item": item.pk, "policy": item.policy_id, "reconfigure": reconfigure})


def protect_items(user, vault: Vault, item_ids: list[int], row: Policy) -> tuple[int, list[str]]:
    """One Configure Protection job per registered, unprotected VM; returns (jobs started, refusals)."""
    if not can_operate(user):
        raise ProtectionRefused("Only Backup Operators and Administrators can protect virtual machines.")
    if row.vault_id != vault.pk:
        raise ProtectionRefused("Choose a policy of this vault.")
    if not item_ids:
        raise ProtectionRefused("Select at least one virtual machine to protect.")
    candidates = {i.pk: i for i in protectable(vault).filter(pk__in=item_ids)}
    started, refusals = 0, []
    for item_id in item_ids:
        registered = candidates.get(item_id)
        if registered is None:
            refusals.append("A selected virtual machine is no longer registered and unprotected; refresh the list.")
            continue
        try:
            with transaction.atomic():
                protected, created = ProtectedItem.objects.get_or_create(
                    item=registered, defaults={"vault": vault, "policy": row})
                if not created:  # re-protecting a stopped item: its points stay
                    protected.policy = row
                    protected.status = ProtectedItem.Status.PENDING
                    protected.save(update_fields=["policy", "status"])
                protected.item = registered
                _start_configure(user, protected)
                recompute_expiry([protected], row.rules)
            started += 1
        except OperationInProgress:
            refusals.append(f"'{registered.name}': another operation is in progress on this item.")
    if started:
        publish([f"vault:{vault.pk}"], "item", {"protected": started})
    return started, refusals
