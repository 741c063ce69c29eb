"""The Configure Protection job: link a registered VM to its policy, ready for the scheduler.

Imported by ``vaults.tasks`` so Celery's autodiscovery registers it. The task
re-reads its rows, so a redelivered message does the same harmless work again.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from jobs.errors import JobError
from jobs.runner import JobContext, job_task
from portal.events import publish
from vaults.models import Policy, ProtectedItem, RegisteredItem
from vaults.protection import recompute_expiry


def _undo_configure(job, reason: str) -> None:
    """A first protection that never took leaves the VM free to protect again; otherwise the item shows the error."""
    item = ProtectedItem.objects.filter(pk=job.params.get("protected_item")).first()
    if item is None:
        return
    first_protection = not job.params.get("reconfigure")
    if first_protection and item.status == ProtectedItem.Status.PENDING and not item.recovery_points.exists():
        item.delete()
    else:
        message = item.error_message or (f"Configuring protection did not finish ({reason}). "
                                         "Open the Configure Protection job for details.")
        ProtectedItem.objects.filter(pk=item.pk).update(status=ProtectedItem.Status.ERROR, error_message=message)
    publish([f"vault:{job.vault_id}"], "item", {"protected_item": job.params.get("protected_item")})


@job_task("vaults.configure_protection", cleanup=_undo_configure)
def configure_protection(ctx: JobContext) -> None:
    item = (ProtectedItem.objects.select_related("item__vm").filter(pk=ctx.params["protected_item"]).first())
    if item is None:
        return  # protection was removed meanwhile
    try:
        _configure(ctx, item)
    except JobError as error:  # the cleanup hook shows it on the item, which it may keep
        ProtectedItem.objects.filter(pk=item.pk).update(error_message=error.message)
        raise


def _configure(ctx: JobContext, item: ProtectedItem) -> None:
    registered, vm = item.item, item.item.vm
    ctx.set_property("Virtual machine", f"{vm.name} ({vm.cloud_service})")
    with ctx.subtask("Check the virtual machine"):
        if registered.status != RegisteredItem.Status.REGISTERED or vm.gone:
            raise JobError("ItemNotRegistered", f"Virtual machine '{vm.name}' is no longer registered with the vault.",
                           ["Register the VM again, then protect it."])
    with ctx.subtask("Apply the backup policy"):
        policy = Policy.objects.filter(pk=ctx.params.get("policy") or item.policy_id, vault_id=item.vault_id).first()
        if policy is None:
            raise JobError("PolicyNotFound", "The backup policy no longer exists.",
                           ["Protect the VM again with an existing policy."])
        ctx.set_property("Policy", policy.name)
        with transaction.atomic():
            has_points = item.recovery_points.exists()
            status = ProtectedItem.Status.PROTECTED if has_points else ProtectedItem.Status.PENDING
            ProtectedItem.objects.filter(pk=item.pk).update(policy=policy, status=status, error_message="",
                                                            configured=timezone.now())
            changed = recompute_expiry([item], policy.rules)
        ctx.set_property("Recovery points re-dated", changed)
    ctx.progress(100)
    publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk, "status": status})


@shared_task(name="vaults.schedule_backups", ignore_result=True)
def schedule_backups() -> dict[str, int]:
    """The beat tick (every minute): start the scheduled backups that are due."""
    from vaults import scheduler

    return scheduler.tick().as_dict()
