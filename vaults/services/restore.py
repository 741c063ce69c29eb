"""Restore as a new VM: what the wizard offers (storage accounts, cloud services, networks) and its checks.

The Restore job (``vaults.operations.restore``) runs ``check_request`` again
before it writes anything, so a target taken between the click and the run is
refused in plain words.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from jobs.errors import JobError
from vaults.cloud.compute import VirtualNetwork, disk_storage_accounts, list_virtual_networks, storage_account_of
from vaults.cloud.endpoint import compute_client
from vaults.cloud.hosted import service_detail
from vaults.models import ProtectedItem, RecoveryPoint, Subscription, User, Vault, VirtualMachine
from vaults.services.refusals import InvalidRequest, NotNow, require_operator

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,61}[A-Za-z0-9]")
VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,13}[A-Za-z0-9]|[A-Za-z0-9]")


@dataclass
class RestoreRequest:
    vm_name: str
    cloud_service: str
    new_service: bool
    storage_account: str
    virtual_network: str = ""
    subnet: str = ""


def storage_accounts(subscription: Subscription, *, ask_fabric: bool = False) -> dict[str, str]:
    """The subscription's storage accounts and their regions, as its disks show them (the fabric's disk list too)."""
    accounts: dict[str, str] = {}
    if ask_fabric:
        try:
            accounts.update(disk_storage_accounts(subscription.endpoint))
        except Exception:
            log.warning("could not list the subscription's disks", exc_info=True)
    for vm in VirtualMachine.objects.filter(subscription=subscription):
        for disk in vm.disks:
            if account := storage_account_of(disk.get("media_link") or ""):
                accounts.setdefault(account, vm.region)
    return dict(sorted(accounts.items()))


def cloud_services(subscription: Subscription, region: str) -> list[str]:
    return sorted(set(VirtualMachine.objects.filter(subscription=subscription, region=region, gone=False)
                      .values_list("cloud_service", flat=True)))


def virtual_networks(subscription: Subscription, region: str) -> dict[str, VirtualNetwork]:
    """The subscription's virtual networks in ``region``, by name; FabricError when they cannot be listed."""
    return {network.name: network
            for network in sorted(list_virtual_networks(subscription.endpoint), key=lambda network: network.name.lower())
            if network.location == region}


def _check_network(vault: Vault, request: RestoreRequest) -> None:
    """The network and subnet go together: both empty, or a subnet of a network in the vault's region."""
    if not request.virtual_network:
        raise InvalidRequest(_("Choose the virtual network of subnet '%(subnet)s', or no subnet.")
                             % {"subnet": request.subnet}, field="virtual_network")
    networks = virtual_networks(vault.subscription, vault.region)
    if request.virtual_network not in networks:
        raise InvalidRequest(_("The virtual network '%(network)s' does not exist in %(region)s. Choose a virtual "
                               "network in the vault's region, or none.")
                             % {"network": request.virtual_network, "region": vault.region}, field="virtual_network")
    if not request.subnet:
        raise InvalidRequest(_("Choose a subnet of virtual network '%(network)s'.") % {"network": request.virtual_network},
                             field="subnet")
    if not networks[request.virtual_network].has_subnet(request.subnet):
        raise InvalidRequest(_("The subnet '%(subnet)s' does not exist in virtual network '%(network)s'.")
                             % {"subnet": request.subnet, "network": request.virtual_network}, field="subnet")


def _taken(request: RestoreRequest) -> InvalidRequest:
    return InvalidRequest(f"A virtual machine named '{request.vm_name}' already exists in cloud service "
                          f"'{request.cloud_service}'. Restore does not overwrite a VM; choose another name.",
                          field="vm_name")


def check_request(vault: Vault, request: RestoreRequest, *, ask_fabric: bool = True) -> None:
    """Every documented refusal of page 2, in the order the wizard shows them.

    Without ``ask_fabric`` only what the portal's database knows is checked (no network, no cloud service). A
    fabric that cannot answer raises FabricError.
    """
    if not VM_NAME.fullmatch(request.vm_name or ""):
        raise InvalidRequest(_("Enter a VM name of 1 to 15 letters, digits and hyphens."), field="vm_name")
    if not NAME.fullmatch(request.cloud_service or ""):
        raise InvalidRequest(_("Enter a cloud service name of 3 to 63 letters, digits and hyphens."),
                             field="cloud_service")
    accounts = storage_accounts(vault.subscription, ask_fabric=ask_fabric)
    if request.storage_account not in accounts:
        raise InvalidRequest(_("The storage account '%(account)s' does not exist.") % {"account": request.storage_account},
                             field="storage_account")
    if accounts[request.storage_account] != vault.region:
        raise InvalidRequest(_("The storage account '%(account)s' is in %(where)s, but the vault is in %(region)s. "
                               "Choose a storage account in the same region as the vault.")
                             % {"account": request.storage_account, "where": accounts[request.storage_account],
                                "region": vault.region}, field="storage_account")
    if ask_fabric and (request.subnet or request.virtual_network):
        _check_network(vault, request)
    if VirtualMachine.objects.filter(subscription=vault.subscription, cloud_service__iexact=request.cloud_service,
                                     name__iexact=request.vm_name, gone=False).exists():
        raise _taken(request)
    if ask_fabric:
        _check_cloud_service(vault, request)


def _check_cloud_service(vault: Vault, request: RestoreRequest) -> None:
    """The cloud service as the fabric shows it now: new and free, or existing in the vault's region, with room
    for the VM's name and a network the VM may join."""
    endpoint = vault.subscription.endpoint
    detail = service_detail(compute_client(endpoint), endpoint, request.cloud_service)
    if request.new_service and detail is not None:
        raise InvalidRequest(_("The cloud service name '%(service)s' is already taken. Cloud service names are "
                               "globally unique; choose another.") % {"service": request.cloud_service},
                             field="cloud_service")
    if detail is None:
        if not request.new_service:
            raise InvalidRequest(_("The cloud service '%(service)s' does not exist.") % {"service": request.cloud_service},
                                 field="cloud_service")
        return
    if detail.location and detail.location != vault.region:
        raise InvalidRequest(_("The cloud service '%(service)s' is in %(where)s, not in the vault's region "
                               "%(region)s.") % {"service": request.cloud_service, "where": detail.location,
                                                  "region": vault.region}, field="cloud_service")
    if request.vm_name.lower() in {r.lower() for r in detail.roles}:
        raise _taken(request)
    # A VM added to a deployment joins the deployment's network, if it has one.
    joined = detail.virtual_network
    if detail.deployment is not None and request.virtual_network and request.virtual_network != joined:
        values = {"service": request.cloud_service, "joined": joined, "network": request.virtual_network}
        raise InvalidRequest(
            (_("The cloud service '%(service)s' is in virtual network '%(joined)s': a VM added to it joins that "
               "network. Choose '%(joined)s', or another cloud service.") if joined else
             _("The cloud service '%(service)s' is not in a virtual network: a VM added to it cannot join "
               "'%(network)s'. Choose no virtual network, or another cloud service.")) % values,
            field="virtual_network")


def damaged_point_error(point_row: RecoveryPoint, error: Exception) -> JobError:
    """A point the store cannot read whole: the Restore job fails with this, and creates no VM."""
    return JobError("RecoveryPointDamaged",
                    _("The recovery point of %(created)s UTC cannot be restored: its data in the vault is damaged "
                      "(%(error)s). No virtual machine was created.")
                    % {"created": f"{point_row.created:%Y-%m-%d %H:%M:%S}", "error": error},
                    [_("Restore from another recovery point."), _("Run VERIFY to list every affected recovery point.")])




def check_restore(user: User, point: RecoveryPoint, request: RestoreRequest, *, ask_fabric: bool = True) -> None:
    """RESTORE: an operator, and a target every documented rule allows."""
    require_operator(user, "restore virtual machines")
    if point.protected_item.status == ProtectedItem.Status.PURGING:
        raise NotNow(_("The backup data of '%(name)s' is being purged: its recovery points can no longer be "
                       "restored.") % {"name": point.protected_item.item.vm.display_name})
    check_request(point.protected_item.vault, request, ask_fabric=ask_fabric)
