"""The Configure Protection job: link a registered VM to its policy, ready for the scheduler.

PROTECT starts one per VM; saving a policy starts one per VM under it. The
task re-reads its rows, so a redelivered message does the same harmless work
again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError, OperationInProgress
from jobs.models import Job, Operation
from jobs.runner import JobContext
from portal.events import publish
from vaults.models import Policy, ProtectedItem, RegisteredItem, User, Vault
from vaults.operations.base import VaultOperation
from vaults.policy import rules
from vaults.services.policies import recompute_expiry, save_policy
from vaults.services.protection import check_protect, protection_row


@dataclass
class PolicySaved:
    policy: Policy
    jobs: int = 0
    refusals: list[str] = field(default_factory=list)


class ConfigureProtection(VaultOperation):
    task_name = "vaults.configure_protection"
    operation = Operation.CONFIGURE_PROTECTION

    @classmethod
    def _start(cls, user: User, item: ProtectedItem, *, reconfigure: bool = False) -> Job:
        """``reconfigure``: the VM was already protected (a policy edit), so a failed job must not unprotect it."""
        return cls._enqueue_for(user, item, policy=item.policy_id, reconfigure=reconfigure)

    @classmethod
    def protect(cls, user: User, vault: Vault, item_ids: list[int], policy: Policy) -> tuple[int, list[str]]:
        """PROTECT: one job per registered, unprotected VM; returns (jobs started, refusals)."""
        candidates = check_protect(user, vault, item_ids, policy)
        started, refusals = 0, []
        for item_id in item_ids:
            registered = candidates.get(item_id)
            if registered is None:
                refusals.append("A selected virtual machine is no longer registered and unprotected; refresh the list.")
                continue
            try:
                with transaction.atomic():
                    protected = protection_row(registered, vault, policy)
                    cls._start(user, protected)
                    recompute_expiry([protected], policy.rules)
                started += 1
            except OperationInProgress:
                refusals.append(f"'{registered.name}': another operation is in progress on this item.")
        if started:
            publish([f"vault:{vault.pk}"], "item", {"protected": started})
        return started, refusals

    @classmethod
    def update_policy(cls, user: User, row: Policy, candidate: rules.Policy) -> PolicySaved:
        """Save a policy's new rules; every VM under it is re-configured by a job, its points' expiry recomputed."""
        saved = PolicySaved(row)
        with transaction.atomic():
            for item in save_policy(user, row, candidate):
                try:
                    cls._start(user, item, reconfigure=True)
                    saved.jobs += 1
                except OperationInProgress:
                    saved.refusals.append(f"'{item.item.name}' is busy with another operation; its next backup "
                                          "follows the new policy, and its points' expiry was recomputed.")
        return saved

    @classmethod
    def cleanup(cls, job: Job, reason: str) -> None:
        """A first protection that never took leaves the VM free to protect again; otherwise the item shows the
        error."""
        item = ProtectedItem.objects.filter(pk=job.params.get("protected_item")).first()
        if item is None:
            return
        first_protection = not job.params.get("reconfigure")
        if first_protection and item.status == ProtectedItem.Status.PENDING and not item.recovery_points.exists():
            item.delete()
        else:
            item.mark_error(item.error_message or f"Configuring protection did not finish ({reason}). "
                                                  "Open the Configure Protection job for details.")
        publish([f"vault:{job.vault_id}"], "item", {"protected_item": job.params.get("protected_item")})

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = ProtectedItem.objects.select_related("item__vm").filter(pk=ctx.params["protected_item"]).first()
        if item is None:
            return  # protection was removed meanwhile
        try:
            _configure(ctx, item)
        except JobError as error:  # the cleanup hook shows it on the item, which it may keep
            item.note_error(error.message)
            raise


def _configure(ctx: JobContext, item: ProtectedItem) -> None:
    registered, vm = item.item, item.item.vm
    ctx.set_property("Virtual machine", f"{vm.name} ({vm.cloud_service})")
    with ctx.subtask(gettext_noop("Check the virtual machine")):
        if registered.status != RegisteredItem.Status.REGISTERED or vm.gone:
            raise JobError("ItemNotRegistered", _("Virtual machine '%(vm)s' is no longer registered with the vault.")
                           % {"vm": vm.display_name}, [_("Register the VM again, then protect it.")])
    with ctx.subtask(gettext_noop("Apply the backup policy")):
        policy = Policy.objects.filter(pk=ctx.params.get("policy") or item.policy_id, vault_id=item.vault_id).first()
        if policy is None:
            raise JobError("PolicyNotFound", _("The backup policy no longer exists."),
                           [_("Protect the VM again with an existing policy.")])
        ctx.set_property("Policy", policy.name)
        with transaction.atomic():
            item.mark_configured(policy, has_points=item.recovery_points.exists())
            changed = recompute_expiry([item], policy.rules)
        ctx.set_property("Recovery points re-dated", changed)
    ctx.progress(100)
    publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk, "status": item.status})
