"""The user's time zone: the browser's, as ``tz.js`` keeps it in a cookie. Times are stored in UTC and read in it."""

from __future__ import annotations

from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest

TZ_COOKIE = "tz"


def user_zone(request: HttpRequest) -> ZoneInfo:
    """The browser's zone (a cookie set by ``tz.js``), UTC when absent or unknown."""
    try:
        return ZoneInfo(unquote(request.COOKIES.get(TZ_COOKIE) or "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
