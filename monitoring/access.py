"""Who may read /metrics: a scraper with the bearer token METRICS_TOKEN, or one at an address in METRICS_ALLOW.

Prometheus cannot sign in, so the page opts out of the login and checks this instead. A refusal says nothing
about which check failed.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def scraper_allowed(request: HttpRequest) -> bool:
    return _token_matches(request) or _address_allowed(request)


def _token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    # Constant time: how long the comparison takes must not tell how much of a guess was right.
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def _address_allowed(request: HttpRequest) -> bool:
    # REMOTE_ADDR is the client's: uvicorn takes it from X-Forwarded-For only when a proxy on 127.0.0.1 sends it.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOW)
