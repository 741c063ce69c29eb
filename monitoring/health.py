"""The checks behind /healthz: the database, Redis, the workers' heartbeats and the subscriptions' endpoints.

Each check answers True or False and nothing more: what failed, and why, goes to the log, never to the answer.
The endpoints are asked at most once per FABRIC_CACHE_SECONDS per process, however often /healthz is called,
so it cannot be used to hammer them.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from monitoring import heartbeat
from monitoring.broker import broker_client, monitored_queues
from vaults.cloud.compute import list_regions
from vaults.cloud.endpoint import Endpoint
from vaults.cloud.errors import FabricError
from vaults.models import Subscription

log = logging.getLogger(__name__)

FABRIC_TIMEOUT_SECONDS = 3.0
FABRIC_CACHE_SECONDS = 15.0
FABRIC_PARALLEL = 8


def database_and_endpoints() -> tuple[bool, list[Endpoint] | None]:
    """Whether the database answers, and the subscriptions' endpoints it names (None when it did not answer)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, sorted({subscription.endpoint for subscription in Subscription.objects.all()}, key=repr)
    except DatabaseError as error:
        log.warning("healthz: the database did not answer: %s", error)
        return False, None


def broker_and_workers() -> tuple[bool, bool]:
    """Whether Redis answers PING, and whether each of the deployment's queues (the jobs', the control one) has a
    worker that beat within HEALTHZ_WORKER_SECONDS."""
    client = broker_client()
    try:
        client.ping()
        seen = heartbeat.last_seen(client, monitored_queues())
    except redis.RedisError as error:
        log.warning("healthz: the broker did not answer: %s", error)
        return False, False
    finally:
        client.close()
    fresh_after = time.time() - settings.HEALTHZ_WORKER_SECONDS
    stale = [queue for queue, workers in seen.items() if not any(when >= fresh_after for when in workers.values())]
    if stale:
        log.warning("healthz: no worker beat within %s s on %s", settings.HEALTHZ_WORKER_SECONDS, ", ".join(stale))
    return True, not stale


class _FabricCache:
    """The last answer for a set of endpoints, kept FABRIC_CACHE_SECONDS; one probe at a time per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.endpoints: tuple[Endpoint, ...] = ()
        self.answer = False
        self.expires = 0.0

    def answers(self, endpoints: list[Endpoint]) -> bool:
        with self.lock:  # a burst of requests waits for the one probe under way instead of starting its own
            if tuple(endpoints) == self.endpoints and time.monotonic() < self.expires:
                return self.answer
            self.answer = _probe(endpoints)
            self.endpoints, self.expires = tuple(endpoints), time.monotonic() + FABRIC_CACHE_SECONDS
            return self.answer

    def clear(self) -> None:
        with self.lock:
            self.endpoints, self.expires = (), 0.0


fabric_cache = _FabricCache()


def _probe(endpoints: list[Endpoint]) -> bool:
    if not endpoints:
        return True
    with ThreadPoolExecutor(min(FABRIC_PARALLEL, len(endpoints))) as pool:
        return all(pool.map(_answers, endpoints))


def _answers(endpoint: Endpoint) -> bool:
    """The endpoint lists its regions (what TEST CONNECTION asks) within FABRIC_TIMEOUT_SECONDS."""
    try:
        list_regions(endpoint, timeout=FABRIC_TIMEOUT_SECONDS)
    except FabricError as error:
        log.warning("healthz: a subscription's endpoint did not answer: %s", error)
        return False
    return True
