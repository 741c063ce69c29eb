"""Subscription-wide reads of the compute API: regions, virtual networks and the storage accounts of its disks."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from vaults.cloud.endpoint import NS, Endpoint, compute_client, raw_xml, text_of
from vaults.cloud.errors import described


def list_regions(endpoint: Endpoint, *, timeout: float = 10) -> list[str]:
    """Names of the subscription's locations, in the endpoint's order."""
    with described(endpoint):
        return [location.name for location in compute_client(endpoint, timeout=timeout).list_locations()]


@dataclass(frozen=True)
class Subnet:
    name: str
    address_prefix: str


@dataclass(frozen=True)
class VirtualNetwork:
    name: str
    location: str
    address_prefixes: tuple[str, ...]
    subnets: tuple[Subnet, ...]

    def has_subnet(self, name: str) -> bool:
        return any(subnet.name == name for subnet in self.subnets)


def list_virtual_networks(endpoint: Endpoint, *, timeout: float = 10) -> list[VirtualNetwork]:
    """List Virtual Network Sites, read as raw XML: the SDK's model drops a regional network's ``Location``.

    A network defined by affinity group has no Location; it is listed with an empty one.
    """
    with described(endpoint):
        root = raw_xml(compute_client(endpoint, timeout=timeout),
                       f"/{endpoint.subscription_id}/services/networking/virtualnetwork")
    return [VirtualNetwork(name=text_of(site, "wa:Name"), location=text_of(site, "wa:Location"),
                           address_prefixes=tuple(prefix.text or "" for prefix in
                                                  site.iterfind("wa:AddressSpace/wa:AddressPrefixes/wa:AddressPrefix", NS)),
                           subnets=tuple(Subnet(text_of(subnet, "wa:Name"), text_of(subnet, "wa:AddressPrefix"))
                                         for subnet in site.iterfind("wa:Subnets/wa:Subnet", NS)))
            for site in root.iterfind("wa:VirtualNetworkSite", NS)]


def storage_account_of(media_link: str) -> str:
    """The storage account a disk's MediaLink names (the first part of its path), or ""."""
    path = urlsplit(media_link or "").path.lstrip("/")
    return path.split("/", 1)[0] if path else ""


def disk_storage_accounts(endpoint: Endpoint) -> dict[str, str]:
    """The storage accounts that the subscription's disks live in (List Disks), with their regions."""
    with described(endpoint):
        disks = compute_client(endpoint).list_disks()
    accounts: dict[str, str] = {}
    for disk in disks:
        account = storage_account_of(disk.media_link or "")
        if account and disk.location:
            accounts.setdefault(account, disk.location)
    return accounts
