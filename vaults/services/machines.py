"""VIRTUAL MACHINES: every VM of the user's subscriptions, with its region and the vault that protects it.

The fabric is asked first (one List Hosted Services, then each region's
services through the hosted-service reader discovery uses), so the page shows
VMs before any vault has run DISCOVER. A fabric that cannot answer leaves the
VMs discovery has recorded, with the failure said. Which vault protects a VM
comes from the portal's own rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaults.cloud.endpoint import compute_client
from vaults.cloud.errors import FabricError, described
from vaults.cloud.hosted import fetch_region
from vaults.models import ProtectedItem, Subscription, Vault, VirtualMachine


@dataclass
class Machine:
    name: str
    cloud_service: str
    region: str
    status: str
    vault: Vault | None = None  # the vault protecting it, if any
    registered_with: Vault | None = None  # registered but not (or no longer) protected


@dataclass
class SubscriptionMachines:
    subscription: Subscription
    machines: list[Machine]
    failure: str = ""  # the fabric's answer when it could not list them (the machines are then discovery's)

    @property
    def regions(self) -> list[tuple[str, int]]:
        """Each region and how many of the VMs run there: where a vault has something to protect."""
        counts: dict[str, int] = {}
        for machine in self.machines:
            counts[machine.region] = counts.get(machine.region, 0) + 1
        return sorted(counts.items())


def _from_fabric(subscription: Subscription) -> list[Machine]:
    endpoint = subscription.endpoint
    with described(endpoint):
        regions = sorted({service.hosted_service_properties.location or ""
                          for service in compute_client(endpoint).list_hosted_services()} - {""})
    return [Machine(vm.name, vm.cloud_service, vm.region, vm.power_state or vm.instance_status)
            for region in regions for vm in fetch_region(endpoint, region)]


def _from_discovery(subscription: Subscription) -> list[Machine]:
    return [Machine(vm.name, vm.cloud_service, vm.region, vm.power_state or vm.instance_status)
            for vm in VirtualMachine.objects.filter(subscription=subscription, gone=False)]


def _attach_vaults(subscription: Subscription, machines: list[Machine]) -> None:
    registered = {(vm.cloud_service.lower(), vm.name.lower()): vm for vm in
                  VirtualMachine.objects.filter(subscription=subscription, registration__isnull=False)
                  .select_related("registration__vault", "registration__protection")}
    for machine in machines:
        vm = registered.get((machine.cloud_service.lower(), machine.name.lower()))
        if vm is None:
            continue
        protection = getattr(vm.registration, "protection", None)
        if protection is not None and protection.status in ProtectedItem.ACTIVE:
            machine.vault = vm.registration.vault
        else:
            machine.registered_with = vm.registration.vault


def machines_of(subscription: Subscription) -> SubscriptionMachines:
    """The subscription's VMs, sorted by region, cloud service and name."""
    failure = ""
    try:
        machines = _from_fabric(subscription)
    except FabricError as error:
        failure, machines = str(error), _from_discovery(subscription)
    _attach_vaults(subscription, machines)
    machines.sort(key=lambda m: (m.region, m.cloud_service.lower(), m.name.lower()))
    return SubscriptionMachines(subscription, machines, failure)
