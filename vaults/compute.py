"""The compute client: azure-servicemanagement-legacy pointed at a subscription's endpoint.

Every compute call the portal makes goes through ``compute_client``; the lab
fabric is just another endpoint. The SDK builds ``https://host`` URLs unless
its HTTP client's protocol is set to ``http``, and it uses a ``requests``
session we give it, which is where the management certificate and the CA to
trust go. ``trust_env=False`` keeps environment CA bundles and proxies from
overriding what the subscription says.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

import requests
from azure.common import AzureException
from azure.servicemanagement import ServiceManagementService
from defusedxml import ElementTree as DefusedET

NS = {"wa": "http://schemas.microsoft.com/windowsazure"}
DEFAULT_TIMEOUT = 30


class FabricError(Exception):
    """A compute call failed; ``str()`` is a sentence for the user, ``transient`` says whether to retry."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach a Service Management endpoint (a Subscription, without Django)."""

    subscription_id: str
    host: str
    protocol: str = "http"
    certificate_path: str = ""
    ca_path: str = ""


def compute_client(endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT) -> ServiceManagementService:
    session = requests.Session()
    session.trust_env = False
    if endpoint.certificate_path:
        session.cert = endpoint.certificate_path
    session.verify = endpoint.ca_path or True
    client = ServiceManagementService(
        subscription_id=endpoint.subscription_id, request_session=session, host=endpoint.host, timeout=timeout
    )
    client._httpclient.protocol = endpoint.protocol
    return client


def describe_failure(endpoint: Endpoint, error: Exception) -> FabricError:
    """Turn what the SDK or requests raised into a FabricError a person can act on."""
    where = f"the endpoint at {endpoint.host}"
    if isinstance(error, FabricError):
        return error
    if isinstance(error, requests.exceptions.SSLError):
        return FabricError(
            f"The TLS handshake with {where} failed ({_short(error)}). Check the management certificate "
            "and the CA certificate of the subscription.", transient=False)
    if isinstance(error, requests.exceptions.Timeout):
        return FabricError(f"{where.capitalize()} did not answer in time. Try again; if it persists, check the endpoint.",
                           transient=True)
    if isinstance(error, requests.exceptions.ConnectionError):
        return FabricError(
            f"Could not connect to {where}. Check that it is running and that the subscription's host is right.",
            transient=True)
    status = getattr(error, "status_code", None)
    if isinstance(error, AzureException):
        text = _short(error)
        if status is not None and status >= 500:
            return FabricError(f"{where.capitalize()} answered with a server error ({status}): {text}. Try again later.",
                               transient=True, status=status)
        if status in (401, 403):
            return FabricError(f"{where.capitalize()} refused the management certificate ({status}): {text}.",
                               transient=False, status=status)
        return FabricError(f"{where.capitalize()} refused the request ({status or 'error'}): {text}.",
                           transient=False, status=status)
    return FabricError(f"Talking to {where} failed unexpectedly: {_short(error)}.", transient=True)


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else error.__class__.__name__)[:300]


def list_regions(endpoint: Endpoint, *, timeout: float = 10) -> list[str]:
    """Names of the subscription's locations, in the endpoint's order."""
    try:
        return [location.name for location in compute_client(endpoint, timeout=timeout).list_locations()]
    except Exception as error:  # noqa: BLE001 - every failure becomes a sentence for the user
        raise describe_failure(endpoint, error) from error


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
    try:
        root = raw_xml(compute_client(endpoint, timeout=timeout),
                       f"/{endpoint.subscription_id}/services/networking/virtualnetwork")
    except Exception as error:  # noqa: BLE001 - every failure becomes a sentence for the user
        raise describe_failure(endpoint, error) from error

    def text(element: Element, path: str) -> str:
        return element.findtext(path, default="", namespaces=NS)

    return [VirtualNetwork(name=text(site, "wa:Name"), location=text(site, "wa:Location"),
                           address_prefixes=tuple(prefix.text or "" for prefix in
                                                  site.iterfind("wa:AddressSpace/wa:AddressPrefixes/wa:AddressPrefix", NS)),
                           subnets=tuple(Subnet(text(subnet, "wa:Name"), text(subnet, "wa:AddressPrefix"))
                                         for subnet in site.iterfind("wa:Subnets/wa:Subnet", NS)))
            for site in root.iterfind("wa:VirtualNetworkSite", NS)]


def raw_xml(client: ServiceManagementService, path: str) -> Element:
    """GET ``path`` and parse the body, for the elements the SDK's models drop."""
    response = client.perform_get(path)
    return DefusedET.fromstring(response.body)
