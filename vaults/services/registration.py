"""Registering VMs with a vault: which VMs may be, and the documented checks of the Register job.

A VM can be registered when it exists, runs, has a VM agent that reports
Ready, has at most 16 data disks, has no disk on premium storage, and belongs
to no vault. Each check the job makes that fails is a ``JobError`` with the
code, message and recommendation the classic service documented; the request
itself is refused per VM with a sentence (``registration_refusal``).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from jobs.errors import JobError
from vaults.cloud.hosted import FoundVM
from vaults.models import ProtectedItem, RegisteredItem, Vault, VirtualMachine

MAX_DATA_DISKS = 16


def preflight_errors(vm: VirtualMachine, found: FoundVM | None) -> JobError | None:
    """The first documented reason ``found`` (the VM as the fabric shows it now) cannot be registered."""
    if found is None:
        return JobError("VMNotFound", _("Virtual machine '%(vm)s' no longer exists in cloud service "
                                        "'%(service)s'.") % {"vm": vm.display_name, "service": vm.cloud_service},
                        [_("Run DISCOVER to refresh the list of virtual machines.")])
    if not found.has_agent:
        return JobError("VMAgentNotPresent", _("The VM agent is not installed on virtual machine '%(vm)s', so the "
                                               "backup extension cannot be installed.") % {"vm": vm.display_name},
                        [_("Install the VM agent in the guest, then run DISCOVER and register the VM again.")])
    data_disks = sum(1 for disk in found.disks if disk.get("lun") is not None)
    if data_disks > MAX_DATA_DISKS:
        return JobError("UnsupportedDataDiskCount",
                        _("Virtual machine '%(vm)s' has %(count)s data disks; backup supports at most %(most)s.")
                        % {"vm": vm.display_name, "count": data_disks, "most": MAX_DATA_DISKS},
                        [_("Detach data disks until %(most)s or fewer remain, then register the VM again.")
                         % {"most": MAX_DATA_DISKS}])
    if any(disk.get("premium") for disk in found.disks):
        return JobError("PremiumStorageNotSupported", _("Virtual machine '%(vm)s' has disks on premium storage, "
                                                        "which backup does not support.") % {"vm": vm.display_name},
                        [_("Move the VM's disks to a standard storage account, then register it again.")])
    if found.power_state != "Started" or found.agent_status not in ("Ready", ""):
        values = {"vm": vm.display_name, "state": found.power_state or _("unknown"), "agent": found.agent_status}
        message = (_("Virtual machine '%(vm)s' is not in a state to install the backup extension (power state "
                     "%(state)s, agent %(agent)s).") if found.agent_status else
                   _("Virtual machine '%(vm)s' is not in a state to install the backup extension (power state "
                     "%(state)s).")) % values
        return JobError("VMNotInStateToInstallExtension", message,
                        [_("Start the VM and wait until its VM agent reports Ready, then register it again.")])
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
        return _("'%(vm)s' runs in %(region)s; a vault protects only VMs in its own region (%(vault_region)s).") % {
            "vm": vm.display_name, "region": vm.region, "vault_region": vault.region}
    if vm.gone:
        return _("'%(vm)s' no longer exists. Run DISCOVER to refresh the list.") % {"vm": vm.display_name}
    if existing is None or (existing.vault_id == vault.pk and existing.status == RegisteredItem.Status.ERROR):
        return ""
    return _held_refusal(vm, existing)


def _held_refusal(vm: VirtualMachine, existing: RegisteredItem) -> str:
    """The true sentence for a VM some registration holds: only a finished one is "already registered" (a failed or
    running registration is not, and saying so sends the user looking for a registration that does not exist)."""
    names = {"name": vm.display_name, "vault": existing.vault.name}
    if existing.status == RegisteredItem.Status.REGISTERING:
        return _("'%(name)s' is being registered with vault '%(vault)s'. Follow it on the Jobs tab.") % names
    if existing.status == RegisteredItem.Status.ERROR:
        return _("'%(name)s' failed to register with vault '%(vault)s'. Register it again from that vault, or "
                 "unregister it there first.") % names
    if existing.status == RegisteredItem.Status.UNREGISTERING:
        return _("'%(name)s' is being unregistered from vault '%(vault)s'. Register it once that job ends.") % names
    return _("'%(name)s' is already registered with vault '%(vault)s'.") % names


def unregistration_refusal(item: RegisteredItem) -> str:
    """Why ``item`` cannot be unregistered now, or "" when it can: protected, stopped with its backup data kept, or
    soft deleted, its points still need the registration."""
    protection = ProtectedItem.objects.filter(item=item).first()
    if protection is not None and protection.is_soft_deleted:
        return _("'%(item)s' has soft-deleted backup data, kept until %(until)s UTC: it can be unregistered once "
                 "that data is purged. UNDELETE brings the data back.") % {
            "item": item.name, "until": f"{protection.purge_after:%Y-%m-%d %H:%M}"}
    if protection is not None:
        return _("'%(item)s' is protected. Stop its protection and delete its backup data first.") % {
            "item": item.name}
    return ""
