"""Registering VMs with a vault: the documented checks, and the requests that start Register jobs.

A VM can be registered when it exists, runs, has a VM agent that reports
Ready, has at most 16 data disks, has no disk on premium storage, and belongs
to no vault. Each check that fails is a ``JobError`` with the code, message
and recommendation the classic service documented.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from jobs.errors import JobError, OperationInProgress
from jobs.models import Operation
from jobs.services import start_job
from portal.access import can_operate
from vaults.discovery import FoundVM
from vaults.models import ProtectedItem, RegisteredItem, Vault, VirtualMachine

MAX_DATA_DISKS = 16


def preflight_errors(vm: VirtualMachine, found: FoundVM | None) -> JobError | None:
    """The first documented reason ``found`` (the VM as the fabric shows it now) cannot be registered."""
    if found is None:
        return JobError("VMNotFound", f"Virtual machine '{vm.name}' no longer exists in cloud service "
                        f"'{vm.cloud_service}'.", ["Run DISCOVER to refresh the list of virtual machines."])
    if not found.has_agent:
        return JobError("VMAgentNotPresent", f"The VM agent is not installed on virtual machine '{vm.name}', so the "
                        "backup extension cannot be installed.",
                        ["Install the VM agent in the guest, then run DISCOVER and register the VM again."])
    data_disks = sum(1 for disk in found.disks if disk.get("lun") is not None)
    if data_disks > MAX_DATA_DISKS:
        return JobError("UnsupportedDataDiskCount", f"Virtual machine '{vm.name}' has {data_disks} data disks; backup "
                        f"supports at most {MAX_DATA_DISKS}.",
                        [f"Detach data disks until {MAX_DATA_DISKS} or fewer remain, then register the VM again."])
    if any(disk.get("premium") for disk in found.disks):
        return JobError("PremiumStorageNotSupported", f"Virtual machine '{vm.name}' has disks on premium storage, which "
                        "backup does not support.",
                        ["Move the VM's disks to a standard storage account, then register it again."])
    if found.power_state != "Started" or found.agent_status not in ("Ready", ""):
        state = found.power_state or "unknown"
        agent = f", agent {found.agent_status}" if found.agent_status else ""
        return JobError("VMNotInStateToInstallExtension", f"Virtual machine '{vm.name}' is not in a state to install "
                        f"the backup extension (power state {state}{agent}).",
                        ["Start the VM and wait until its VM agent reports Ready, then register it again."])
    return None


@dataclass
class RegisterOutcome:
    vm: VirtualMachine
    item: RegisteredItem | None = None
    refusal: str = ""


class RegistrationRefused(Exception):
    pass


def register_vms(user, vault: Vault, vm_ids: list[int]) -> list[RegisterOutcome]:
    """One Register job per VM; a VM that cannot be registered gets its reason instead."""
    if not can_operate(user):
        raise RegistrationRefused("Only Backup Operators and Administrators can register virtual machines.")
    vms = VirtualMachine.objects.filter(subscription=vault.subscription, pk__in=vm_ids).select_related("registration")
    outcomes = []
    for vm in vms:
        outcome = RegisterOutcome(vm)
        outcomes.append(outcome)
        existing = getattr(vm, "registration", None)
        if vm.region != vault.region:
            outcome.refusal = f"'{vm.name}' runs in {vm.region}; a vault protects only VMs in its own region ({vault.region})."
        elif vm.gone:
            outcome.refusal = f"'{vm.name}' no longer exists. Run DISCOVER to refresh the list."
        elif existing is not None and (existing.vault_id != vault.pk or existing.status != RegisteredItem.Status.ERROR):
            outcome.refusal = f"'{vm.name}' is already registered with a vault."
        else:
            try:
                outcome.item = _start_register(user, vault, vm, existing)
            except OperationInProgress as refusal:
                outcome.refusal = f"'{vm.name}': {refusal}."
            except IntegrityError:
                outcome.refusal = f"'{vm.name}' was registered with a vault meanwhile."
    return outcomes


def _start_register(user, vault: Vault, vm: VirtualMachine, existing: RegisteredItem | None) -> RegisteredItem:
    with transaction.atomic():
        if existing is None:
            item = RegisteredItem.objects.create(vault=vault, vm=vm)
        else:  # retrying a registration that failed
            item = existing
            RegisteredItem.objects.filter(pk=item.pk).update(status=RegisteredItem.Status.REGISTERING, error_code="",
                                                             error_message="", recommendation="")
        start_job(operation=Operation.REGISTER, user=user, subscription=vault.subscription, vault=vault, item_type="vm",
                  item_key=item.item_key, item_name=vm.name, task_name="vaults.register", params={"item": item.pk})
    return item


def unregister_items(user, vault: Vault, item_ids: list[int]) -> list[str]:
    """One Unregister job per item; protected items are refused (stop protection first)."""
    if not can_operate(user):
        raise RegistrationRefused("Only Backup Operators and Administrators can unregister virtual machines.")
    refusals = []
    for item in vault.registered_items.filter(pk__in=item_ids).select_related("vm"):
        if is_protected(item):
            refusals.append(f"'{item.name}' is protected. Stop its protection and delete its backup data first.")
            continue
        try:
            with transaction.atomic():
                start_job(operation=Operation.UNREGISTER, user=user, subscription=vault.subscription, vault=vault,
                          item_type="vm", item_key=item.item_key, item_name=item.name, task_name="vaults.unregister",
                          params={"item": item.pk})
                RegisteredItem.objects.filter(pk=item.pk).update(status=RegisteredItem.Status.UNREGISTERING)
        except OperationInProgress as refusal:
            refusals.append(f"'{item.name}': {refusal}.")
    return refusals


def is_protected(item: RegisteredItem) -> bool:
    """Protected, or stopped with its backup data kept: either way its points still need the registration."""
    return ProtectedItem.objects.filter(item=item).exists()
