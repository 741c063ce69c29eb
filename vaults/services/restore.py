"""Restore as a new VM: what the wizard offers (storage accounts, cloud services, networks) and its checks.

The Restore job (``vaults.operations.restore``) runs ``check_request`` again
before it writes anything, so a target taken between the click and the run is
refused in plain words.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

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
        raise InvalidRequest(f"Choose the virtual network of subnet '{request.subnet}', or no subnet.", field="virtual_network")
    networks = virtual_networks(vault.subscription, vault.region)
    if request.virtual_network not in networks:
        raise InvalidRequest(f"The virtual network '{request.virtual_network}' does not exist in {vault.region}. Choose "
                             "a virtual network in the vault's region, or none.", field="virtual_network")
    if not request.subnet:
        raise InvalidRequest(f"Choose a subnet of virtual network '{request.virtual_network}'.", field="subnet")
    if not networks[request.virtual_network].has_subnet(request.subnet):
        raise InvalidRequest(f"The subnet '{request.subnet}' does not exist in virtual network "
                             f"'{request.virtual_network}'.", field="subnet")


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
        raise InvalidRequest("Enter a VM name of 1 to 15 letters, digits and hyphens.", field="vm_name")
    if not NAME.fullmatch(request.cloud_service or ""):
        raise InvalidRequest("Enter a cloud service name of 3 to 63 letters, digits and hyphens.", field="cloud_service")
    accounts = storage_accounts(vault.subscription, ask_fabric=ask_fabric)
    if request.storage_account not in accounts:
        raise InvalidRequest(f"The storage account '{request.storage_account}' does not exist.", field="storage_account")
    if accounts[request.storage_account] != vault.region:
        raise InvalidRequest(f"The storage account '{request.storage_account}' is in "
                             f"{accounts[request.storage_account]}, but the vault is in {vault.region}. Choose a storage "
                             "account in the same region as the vault.", field="storage_account")
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
        raise InvalidRequest(f"The cloud service name '{request.cloud_service}' is already taken. Cloud service names "
                             "are globally unique; choose another.", field="cloud_service")
    if detail is None:
        if not request.new_service:
            raise InvalidRequest(f"The cloud service '{request.cloud_service}' does not exist.", field="cloud_service")
        return
    if detail.location and detail.location != vault.region:
        raise InvalidRequest(f"The cloud service '{request.cloud_service}' is in {detail.location}, not in the "
                             f"vault's region {vault.region}.", field="cloud_service")
    if request.vm_name.lower() in {r.lower() for r in detail.roles}:
        raise _taken(request)
    # A VM added to a deployment joins the deployment's network, if it has one.
    joined = detail.virtual_network
    if detail.deployment is not None and request.virtual_network and request.virtual_network != joined:
        raise InvalidRequest(
            f"The cloud service '{request.cloud_service}' is in virtual network '{joined}': a VM added to it joins "
            f"that network. Choose '{joined}', or another cloud service." if joined else
            f"The cloud service '{request.cloud_service}' is not in a virtual network: a VM added to it cannot join "
            f"'{request.virtual_network}'. Choose no virtual network, or another cloud service.", field="virtual_network")


def damaged_point_error(point_row: RecoveryPoint, error: Exception) -> JobError:
    """A point the store cannot read whole: the Restore job fails with this, and creates no VM."""
    return JobError("RecoveryPointDamaged", f"The recovery point of {point_row.created:%Y-%m-%d %H:%M:%S} UTC cannot be "
                    f"restored: its data in the vault is damaged ({error}). No virtual machine was created.",
                    ["Restore from another recovery point.", "Run VERIFY to list every affected recovery point."])




def check_restore(user: User, point: RecoveryPoint, request: RestoreRequest, *, ask_fabric: bool = True) -> None:
    """RESTORE: an operator, and a target every documented rule allows."""
    require_operator(user, "restore virtual machines")
    if point.protected_item.status == ProtectedItem.Status.PURGING:
        raise NotNow(f"The backup data of '{point.protected_item.item.vm.name}' is being purged: its recovery points "
                     "can no longer be restored.")
    check_request(point.protected_item.vault, request, ask_fabric=ask_fabric)
