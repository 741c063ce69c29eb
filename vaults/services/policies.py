"""Policies: creating, saving and deleting them, and recomputing the expiry of the points kept under them.

The rules of a policy live in ``vaults.policy``; this module applies them to
rows: names unique in the vault, deletion refused while VMs use a policy, and
each recovery point's expiry recomputed from the policy it is kept under.
Re-configuring the VMs of a changed policy is a job per VM
(``vaults.operations.protection``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from jobs.models import LogAction
from jobs.services import log_operation
from vaults.models import Policy, ProtectedItem, RecoveryPoint, User, Vault
from vaults.policy import rules, stored
from vaults.policy.defaults import DEFAULT_POLICY_NAME, default_policy
from vaults.policy.retention import RetentionEngine
from vaults.services.refusals import NotNow, require_administrator
from vaults.services.soft_delete import check_retention_change, immutable_floor


def create_default_policy(vault: Vault) -> Policy:
    """DefaultPolicy for a new vault: daily at night, daily retention 30 days."""
    definition = stored.policy_to_dict(default_policy())
    return Policy.objects.create(vault=vault, name=DEFAULT_POLICY_NAME, definition=definition)


def policies_with_usage(vault: Vault) -> QuerySet[Policy]:
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


def create_policy(user: User, vault: Vault, candidate: rules.Policy) -> Policy:
    require_administrator(user, "create policies")
    check_policy(vault, candidate)
    with transaction.atomic():
        row = Policy.objects.create(vault=vault, name=candidate.name, definition=stored.policy_to_dict(candidate))
        log_policy_added(user, row)
    return row


def save_policy(user: User, row: Policy, candidate: rules.Policy) -> list[ProtectedItem]:
    """Save the new rules of ``row`` and recompute its points' expiry; returns the active items under it, which the
    caller re-configures (inside the same transaction)."""
    require_administrator(user, "edit policies")
    vault = row.vault
    check_policy(vault, candidate, editing=row)
    check_retention_change(vault, row.protected_items.all(), candidate)
    row.name, row.definition = candidate.name, stored.policy_to_dict(candidate)
    row.save(update_fields=["name", "definition", "updated"])
    log_operation(user, LogAction.UPDATE_POLICY, subscription=vault.subscription_id, vault=vault,
                  item_type="policy", item_key=f"policy:{row.pk}", item_name=row.name,
                  details={"definition": row.definition})
    items = list(row.protected_items.select_related("item__vm", "vault__subscription"))
    recompute_expiry(items, candidate)
    # A stopped item takes no backups: nothing to re-configure, only its points' expiry.
    return [item for item in items if item.is_active]


def log_policy_added(user: User, row: Policy) -> None:
    log_operation(user, LogAction.ADD_POLICY, subscription=row.vault.subscription_id, vault=row.vault_id,
                  item_type="policy", item_key=f"policy:{row.pk}", item_name=row.name,
                  details={"definition": row.definition})


def delete_refusal(row: Policy) -> str:
    count = row.protected_items.count()
    if not count:
        return ""
    text = ngettext("Policy '%(name)s' cannot be deleted: %(count)s virtual machine uses it. Protect them with "
                    "another policy (or stop their protection and delete their data) first.",
                    "Policy '%(name)s' cannot be deleted: %(count)s virtual machines use it. Protect them with "
                    "another policy (or stop their protection and delete their data) first.", count) % {
        "name": row.name, "count": count}
    if until := row.protected_items.filter(status__in=ProtectedItem.DELETED).aggregate(until=Max("purge_after"))["until"]:
        text += " " + _("Soft-deleted items keep their policy until their data is purged, after %(until)s UTC.") % {
            "until": f"{until:%Y-%m-%d %H:%M}"}
    return text


def delete_policy(user: User, row: Policy) -> None:
    require_administrator(user, "delete policies")
    reason = delete_refusal(row)
    if reason:
        raise NotNow(reason)
    with transaction.atomic():
        log_operation(user, LogAction.DELETE_POLICY, subscription=row.vault.subscription_id, vault=row.vault_id,
                      item_type="policy", item_key=f"policy:{row.pk}", item_name=row.name)
        row.delete()  # PROTECT on ProtectedItem.policy: a VM that arrived meanwhile makes this fail, not vanish


def recompute_expiry(items: Iterable[ProtectedItem], policy: rules.Policy) -> int:
    """Set every recovery point of ``items`` to the expiry ``policy`` gives it; returns how many changed. In an
    immutable vault a point is never set to expire sooner than it was (re-protected under a shorter policy, it is
    kept until its expiry)."""
    engine = RetentionEngine(policy)
    items = list(items)
    floor = immutable_floor(items)
    changed = []
    points = RecoveryPoint.objects.filter(protected_item__in=items).only("protected_item", "created", "adhoc", "expires")
    for point in points:
        expires = engine.expiry(point.created, adhoc=point.adhoc)
        if point.protected_item_id in floor and point.expires is not None and expires < point.expires:
            expires = point.expires
        if point.expires != expires:
            point.expires = expires
            changed.append(point)
    RecoveryPoint.objects.bulk_update(changed, ["expires"], batch_size=500)
    return len(changed)
