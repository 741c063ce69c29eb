"""Live events: published on Redis channels after commit, streamed to browsers as SSE.

Channels are per object (``user:<id>``, ``vault:<id>``, ``job:<id>``) and
payloads are small: an event name and a JSON object. Pages render their state
from the database and only listen for changes, so a browser that reconnects
first reloads what it shows, then listens again; nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    """The process's Redis client, created on first use (never at import time)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    return _client


def set_redis(client: redis.Redis | None) -> None:
    """Point publishing at another client (tests), or back to the default with None."""
    global _client
    _client = client


def channel_name(channel: str) -> str:
    """The Redis channel for an object channel: prefixed, so two deployments (or test runs) on one Redis never mix."""
    return f"{settings.EVENTS_CHANNEL_PREFIX}{channel}"


def encode(event: str, data: dict[str, Any]) -> str:
    return json.dumps({"event": event, "data": data}, separators=(",", ":"), default=str)


def publish_now(channels: Iterable[str], event: str, data: dict[str, Any]) -> None:
    """Publish immediately. Redis being down must never fail the work that changed state."""
    message = encode(event, data)
    try:
        pipe = get_redis().pipeline(transaction=False)
        for channel in channels:
            pipe.publish(channel_name(channel), message)
        pipe.execute()
    except redis.RedisError:
        log.warning("could not publish %s on %s", event, list(channels), exc_info=True)


def publish(channels: Iterable[str], event: str, data: dict[str, Any]) -> None:
    """Publish once the current transaction commits (at once outside a transaction)."""
    channels = list(channels)
    transaction.on_commit(lambda: publish_now(channels, event, data))


def sse_frame(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


async def stream(channels: list[str], *, keepalive: float = KEEPALIVE_SECONDS) -> AsyncIterator[str]:
    """Server-sent events for ``channels``: one Redis subscription for this browser.

    Yields a comment every ``keepalive`` seconds so proxies keep the
    connection open and a dead client is noticed. When the client goes away
    the ASGI handler cancels this generator and ``finally`` releases the
    subscription.
    """
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(*(channel_name(channel) for channel in channels))
        # Tells the page the stream is live (tests wait for it; pages may
        # re-render on reconnect).
        yield sse_frame("ready", json.dumps({"channels": channels}))
        last_sent = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=keepalive)
            if message is None:
                # None also stands for a control message (subscribe confirmations),
                # so only a real silence of `keepalive` seconds earns a comment.
                if time.monotonic() - last_sent >= keepalive:
                    last_sent = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            try:
                payload = json.loads(message["data"])
                event = str(payload["event"])
                data = json.dumps(payload.get("data", {}), separators=(",", ":"))
            except (ValueError, KeyError, TypeError):
                log.warning("dropping malformed event on %s", message.get("channel"))
                continue
            last_sent = time.monotonic()
            yield sse_frame(event, data)
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(_close(pubsub, client))


async def _close(pubsub: aioredis.client.PubSub, client: aioredis.Redis) -> None:
    try:
        await pubsub.unsubscribe()
        await pubsub.aclose()
        await client.aclose()
    except (aioredis.RedisError, OSError):
        pass


# Which object channels a page may join: kind -> check(user, id) -> bool.
# Apps register their kinds in AppConfig.ready(), so this module knows none of them.
_channel_checks: dict[str, Callable[[Any, int], bool]] = {}


def register_channel(kind: str, check: Callable[[Any, int], bool]) -> None:
    _channel_checks[kind] = check


def authorize_channel(user: AbstractBaseUser | AnonymousUser, kind: str, raw_id: str) -> str | None:
    """``"<kind>:<id>"`` when ``user`` may follow that object, else None."""
    check = _channel_checks.get(kind)
    if check is None or not raw_id.isdigit():
        return None
    return f"{kind}:{int(raw_id)}" if check(user, int(raw_id)) else None
