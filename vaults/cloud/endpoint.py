"""Where an endpoint is and how to reach it: the one HTTP session factory, the compute client, raw XML reads.

The SDK (azure-servicemanagement-legacy) builds ``https://host`` URLs unless its HTTP client's protocol is set
to ``http``, and it uses a ``requests`` session we give it, which is where the management certificate and the
CA to trust go. ``trust_env=False`` keeps environment CA bundles and proxies from overriding what the
subscription says. The page-blob client takes a session from the same factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

import requests
from azure.servicemanagement import ServiceManagementService
from defusedxml import ElementTree as DefusedET

NS = {"wa": "http://schemas.microsoft.com/windowsazure"}
WA_NAMESPACES = 'xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
DEFAULT_TIMEOUT = 30


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach a Service Management endpoint (a Subscription, without Django)."""

    subscription_id: str
    host: str
    protocol: str = "http"
    certificate_path: str = ""
    ca_path: str = ""


def http_session(endpoint: Endpoint) -> requests.Session:
    """A session that presents the subscription's certificate and trusts its CA, and nothing from the environment."""
    session = requests.Session()
    session.trust_env = False
    if endpoint.certificate_path:
        session.cert = endpoint.certificate_path
    session.verify = endpoint.ca_path or True
    return session


def compute_client(endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT) -> ServiceManagementService:
    client = ServiceManagementService(subscription_id=endpoint.subscription_id, request_session=http_session(endpoint),
                                      host=endpoint.host, timeout=timeout)
    client._httpclient.protocol = endpoint.protocol
    return client


def raw_xml(client: ServiceManagementService, path: str) -> Element:
    """GET ``path`` and parse the body, for the elements the SDK's models drop."""
    response = client.perform_get(path)
    return DefusedET.fromstring(response.body)


def request_id(response: object) -> str:
    """The ``x-ms-request-id`` an asynchronous operation answered with ("" when there is none)."""
    for name, value in getattr(response, "headers", None) or []:
        if name.lower() == "x-ms-request-id":
            return value
    return ""


def text_of(element: Element | None, path: str, default: str = "") -> str:
    """The stripped text at ``path`` under ``element`` (namespaced ``wa:``), or ``default``."""
    if element is None:
        return default
    found = element.find(path, NS)
    return (found.text or default).strip() if found is not None and found.text else default
