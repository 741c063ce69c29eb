"""Registering VMs with a vault: which VMs may be, and the documented checks of the Register job.

A VM can be registered when it exists, runs, has a VM agent that reports
Ready, has at most 16 data disks, has no disk on premium storage, and belongs
to no vault. Each check the job makes that fails is a ``JobError`` with the
code, message and recommendation the classic service documented; the request
itself is refused per VM with a sentence (``registration_refusal``).
"""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.errors import JobError
from vaults.cloud.hosted import FoundVM
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


def registrable(vault: Vault) -> QuerySet[VirtualMachine]:
    """Discovered VMs of the vault's region that no vault holds (a failed registration here may be retried)."""
    return (VirtualMachine.objects.filter(subscription=vault.subscription, region=vault.region, gone=False)
            .exclude(registration__status__in=[s for s in RegisteredItem.Status.values if s != "error"])
            .exclude(registration__vault__in=Vault.objects.exclude(pk=vault.pk)))


def registration_refusal(vault: Vault, vm: VirtualMachine) -> str:
    """Why ``vm`` cannot be registered with ``vault`` now, or "" when it can."""
    existing = getattr(vm, "registration", None)
    if vm.region != vault.region:
        return f"'{vm.name}' runs in {vm.region}; a vault protects only VMs in its own region ({vault.region})."
    if vm.gone:
        return f"'{vm.name}' no longer exists. Run DISCOVER to refresh the list."
    if existing is not None and (existing.vault_id != vault.pk or existing.status != RegisteredItem.Status.ERROR):
        return f"'{vm.name}' is already registered with a vault."
    return ""


def unregistration_refusal(item: RegisteredItem) -> str:
    """Why ``item`` cannot be unregistered now, or "" when it can: protected, stopped with its backup data kept, or
    soft deleted, its points still need the registration."""
    protection = ProtectedItem.objects.filter(item=item).first()
    if protection is not None and protection.is_soft_deleted:
        return (f"'{item.name}' has soft-deleted backup data, kept until {protection.purge_after:%Y-%m-%d %H:%M} UTC: it "
                "can be unregistered once that data is purged. UNDELETE brings the data back.")
    if protection is not None:
        return f"'{item.name}' is protected. Stop its protection and delete its backup data first."
    return ""
