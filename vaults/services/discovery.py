"""Discovery's record: what the fabric showed of a region, written to the VM rows of the subscription."""

from __future__ import annotations

from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from vaults.cloud.hosted import FoundVM
from vaults.models import Vault, VirtualMachine

BATCH_SIZE = 500


def record(vault: Vault, found: list[FoundVM]) -> dict[str, int]:
    """Write what discovery found for ``vault``'s region, in batches; VMs no longer there are marked gone."""
    now = timezone.now()
    subscription = vault.subscription
    existing = {(vm.cloud_service, vm.name): vm
                for vm in VirtualMachine.objects.filter(subscription=subscription, region=vault.region)}
    fields = ["deployment", "power_state", "instance_status", "agent_status", "has_agent", "disks"]
    new, changed = [], []
    for vm in found:
        values = {k: v for k, v in asdict(vm).items() if k in fields}
        row = existing.pop((vm.cloud_service, vm.name), None)
        if row is None:
            new.append(VirtualMachine(subscription=subscription, cloud_service=vm.cloud_service, name=vm.name,
                                      region=vm.region, last_seen=now, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.gone, row.last_seen = False, now
            changed.append(row)
    gone = [row.pk for row in existing.values() if not row.gone]
    with transaction.atomic():
        VirtualMachine.objects.bulk_create(new, batch_size=BATCH_SIZE)
        VirtualMachine.objects.bulk_update(changed, [*fields, "gone", "last_seen"], batch_size=BATCH_SIZE)
        VirtualMachine.objects.filter(pk__in=gone).update(gone=True)
    return {"found": len(found), "new": len(new), "gone": len(gone)}
