"""Setting a vault up as a user does, with the jobs run on the fault workers."""

from __future__ import annotations

import time

from jobs.models import Job, Operation
from vaults.models import ProtectedItem, RegisteredItem, Subscription, User, Vault, VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.protection import ConfigureProtection
from vaults.operations.registration import Register
from vaults.services.vaults import create_vault, set_replication


def finished(job: Job, timeout: float = 60) -> Job:
    """Wait until a job ends (a worker runs it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} ({job.operation}) still {job.status} after {timeout:.0f} s")


def quick_created_vault(owner: User, subscription: Subscription, name: str, *, replication: str = "") -> Vault:
    vault = create_vault(owner, subscription, name, "East US")
    if replication:
        vault = set_replication(owner, vault, replication)
    return vault


def protected(operator: User, vault: Vault, names: list[tuple[str, str]]) -> list[ProtectedItem]:
    """Discover, register and protect (DefaultPolicy) the VMs ``names`` [(cloud service, name)]."""
    assert finished(Discovery.start(operator, vault)).status == "completed"
    vms = [VirtualMachine.objects.get(subscription=vault.subscription, cloud_service=svc, name=vm) for svc, vm in names]
    outcomes = Register.start_many(operator, vault, [vm.pk for vm in vms])
    assert [o.refusal for o in outcomes] == [""] * len(vms)
    for outcome in outcomes:
        job = Job.objects.filter(item_key=outcome.item.item_key, operation=Operation.REGISTER).latest("pk")
        assert finished(job).status == "completed", job.error_message
    registered = [RegisteredItem.objects.get(vm=vm).pk for vm in vms]
    started, refusals = ConfigureProtection.protect(operator, vault, registered, vault.policies.get())
    assert (started, refusals) == (len(vms), [])
    for vm in vms:
        job = Job.objects.filter(item_key=RegisteredItem.key_of(vm.pk),
                                 operation=Operation.CONFIGURE_PROTECTION).latest("pk")
        assert finished(job).status == "completed", job.error_message
    return [ProtectedItem.objects.get(item__vm=vm) for vm in vms]
