"""Subscriptions: an administrator connects a Service Management endpoint and tests its connection.

What may be connected (``check_endpoint``): a subscription id that is a GUID; an HTTPS endpoint with a
management certificate and its own private key; plain HTTP only to the lab fabric on this machine; and never an
endpoint on a link-local or cloud-metadata address, for any protocol (from a cloud VM those answer with the VM's
credentials, and the portal would fetch them with its own hands).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from portal.env import private_dir, write_private_text
from vaults.cloud.compute import list_regions
from vaults.cloud.errors import FabricError
from vaults.models import Subscription, User
from vaults.services.refusals import InvalidRequest, require_administrator

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")
# Link-local addresses, where clouds answer instance metadata (AWS, Azure, GCP: 169.254.169.254; AWS's IPv6
# one: fd00:ec2::254).
_METADATA_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"))
_PUBLIC_KEY = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def add_subscription(user: User, *, name: str, subscription_id: str, host: str, protocol: str,
                     certificate_pem: str = "", ca_pem: str = "") -> Subscription:
    """An administrator connects another endpoint; they become its first member."""
    require_administrator(user, "add subscriptions")
    subscription_id = check_endpoint(subscription_id=subscription_id, host=host, protocol=protocol,
                                     certificate_pem=certificate_pem, ca_pem=ca_pem)
    if Subscription.objects.filter(subscription_id__iexact=subscription_id).exists():
        raise InvalidRequest(_("A subscription with this id is already connected."), field="subscription_id")
    with transaction.atomic():
        subscription = Subscription.objects.create(name=name, subscription_id=subscription_id, host=host.strip(),
                                                   protocol=protocol)
        if certificate_pem.strip():
            subscription.certificate_path = str(write_private(f"{subscription.pk}-management.pem", certificate_pem))
        if ca_pem.strip():
            subscription.ca_path = str(write_private(f"{subscription.pk}-ca.pem", ca_pem))
        subscription.save(update_fields=["certificate_path", "ca_path"])
        subscription.members.add(user)
    return subscription


def check_endpoint(*, subscription_id: str, host: str, protocol: str, certificate_pem: str = "",
                   ca_pem: str = "") -> str:
    """Refuse what may not be connected, field by field in the form's order; return the subscription id as kept."""
    subscription_id = check_subscription_id(subscription_id)
    hostname, port = split_host(host, protocol)
    check_not_metadata(hostname)
    if protocol == Subscription.Protocol.HTTP:
        check_plain_http(hostname, port)
    elif protocol == Subscription.Protocol.HTTPS and not certificate_pem.strip():
        raise InvalidRequest(_("An HTTPS endpoint needs a management certificate (PEM with the key)."),
                             field="certificate")
    if certificate_pem.strip():
        check_management_certificate(certificate_pem)
    if ca_pem.strip():
        check_ca_certificate(ca_pem)
    return subscription_id


def check_subscription_id(value: str) -> str:
    """A subscription id is a GUID (it names the endpoint's paths and the certificate's files): kept lowercase."""
    if not _GUID.fullmatch(value.strip()):
        raise InvalidRequest(_("The subscription ID must be a GUID such as 6d1f2c7a-3b4e-4f5a-9c8d-1a2b3c4d5e6f: "
                               "copy it from the subscription's settings."), field="subscription_id")
    return str(uuid.UUID(value.strip()))


def split_host(host: str, protocol: str) -> tuple[str, int]:
    """``host[:port]`` (an IPv6 address in brackets) as (host name, port); anything more is refused."""
    refusal = InvalidRequest(_("Give the endpoint as host or host:port, such as management.core.windows.net or "
                               "127.0.0.1:%(port)s, with no scheme or path.") % {"port": settings.FABRIC_PORT},
                             field="host")
    try:
        parts = urlsplit(f"//{host.strip()}")
        port = parts.port
    except ValueError:
        raise refusal from None
    hostname = parts.hostname or ""
    extras = (parts.path, parts.query, parts.fragment, parts.username, parts.password)
    if any(extras) or not (_HOSTNAME.fullmatch(hostname) or _ip(hostname)):
        raise refusal
    return hostname, port or (443 if protocol == Subscription.Protocol.HTTPS else 80)


def check_not_metadata(hostname: str) -> None:
    """Refuse a link-local or cloud-metadata address, given as such or as a name that resolves to one."""
    literal = _ip(hostname)
    for address in [literal] if literal else resolve(hostname):
        mapped = getattr(address, "ipv4_mapped", None) or address
        if any(mapped in network for network in _METADATA_NETWORKS if network.version == mapped.version):
            raise InvalidRequest((_("The endpoint is on a link-local address, where clouds answer instance "
                                    "metadata: the portal does not connect there. Give the endpoint's own host "
                                    "name.") if literal else
                                  _("The endpoint is on a link-local address (%(host)s resolves to %(address)s), "
                                    "where clouds answer instance metadata: the portal does not connect there. Give "
                                    "the endpoint's own host name.")) % {"host": hostname, "address": address},
                                 field="host")


def check_plain_http(hostname: str, port: int) -> None:
    """Plain HTTP carries no certificate: it is for the bundled lab fabric on this machine, on FABRIC_PORT, only."""
    literal = _ip(hostname)
    loopback = hostname == "localhost" or bool(literal and literal.is_loopback)
    if not loopback or port != settings.FABRIC_PORT:
        raise InvalidRequest(_("Plain HTTP is only for the lab fabric on this machine (127.0.0.1:%(port)s): choose "
                               "HTTPS with a management certificate for any other endpoint.")
                             % {"port": settings.FABRIC_PORT}, field="host")


def check_management_certificate(pem: str) -> None:
    """The certificate and its private key, both PEM, unencrypted (the worker presents them unattended), matching."""
    data = pem.encode()
    try:
        certificate = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise InvalidRequest(_("The management certificate is not a PEM certificate: paste the certificate and its "
                               "private key, each with its BEGIN and END lines."), field="certificate") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InvalidRequest(_("The private key is protected by a password: paste it without one (it is stored "
                               "readable by the portal only)."), field="certificate") from None
    except ValueError:
        raise InvalidRequest(_("The management certificate has no private key: paste the certificate followed by "
                               "its private key (PEM)."), field="certificate") from None
    if certificate.public_key().public_bytes(*_PUBLIC_KEY) != key.public_key().public_bytes(*_PUBLIC_KEY):
        raise InvalidRequest(_("The private key does not belong to the management certificate: paste the key that "
                               "was made with this certificate."), field="certificate")


def check_ca_certificate(pem: str) -> None:
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise InvalidRequest(_("The CA certificate is not a PEM certificate: paste it with its BEGIN and END lines, "
                               "or leave the field empty."), field="ca_certificate") from None


def resolve(hostname: str) -> list[IPAddress]:
    """The addresses ``hostname`` resolves to now; none when it does not resolve (the connection test says so)."""
    try:
        answers = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [ipaddress.ip_address(str(answer[4][0]).split("%")[0]) for answer in answers]


def _ip(hostname: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        return None


def write_private(filename: str, content: str) -> Path:
    """A certificate's PEM in CERTIFICATE_DIR (0700), readable by the portal's user only (0600)."""
    return write_private_text(private_dir(settings.CERTIFICATE_DIR) / filename, content.strip())


def test_connection(user: User, subscription: Subscription) -> tuple[bool, str]:
    """An administrator asks the endpoint for its regions; the answer, in plain words."""
    require_administrator(user, "test a subscription's connection")
    try:
        regions = list_regions(subscription.endpoint)
    except FabricError as error:
        return False, str(error)
    return True, _("Connected to %(host)s: %(count)s regions (%(regions)s).") % {
        "host": subscription.host, "count": len(regions), "regions": ", ".join(regions)}
