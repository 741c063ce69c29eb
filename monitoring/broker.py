"""What the monitoring reads of the broker (Redis): the length of a Celery queue, and a client that gives up fast.

Celery's Redis transport (kombu) keeps each queue as a Redis list named after the queue, plus one list per
priority step for messages sent with a priority (``<queue>\\x06\\x16<step>``); the depth is their sum. Messages
sent with a countdown (parked jobs) wait inside a worker, not in the list, so they are not counted.
"""

from __future__ import annotations

import redis
from django.conf import settings

TIMEOUT_SECONDS = 1.0
# kombu.transport.redis: PRIORITY_STEPS and the separator of a priority's list name.
_PRIORITY_STEPS = (0, 3, 6, 9)
_PRIORITY_SEPARATOR = "\x06\x16"


def broker_client() -> redis.Redis:
    """A client of the broker of ``settings`` (read now, so tests can point it elsewhere), with short timeouts."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=TIMEOUT_SECONDS,
                                socket_connect_timeout=TIMEOUT_SECONDS)


def queue_lists(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS]


def queue_lengths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue, read in one round trip."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for name in queue_lists(queue):
            pipe.llen(name)
    lengths = pipe.execute()
    steps = len(_PRIORITY_STEPS)
    return {queue: sum(lengths[i * steps:(i + 1) * steps]) for i, queue in enumerate(queues)}


def monitored_queues() -> list[str]:
    """The jobs' queue and the control queue of this deployment."""
    return [settings.CELERY_TASK_DEFAULT_QUEUE, settings.CONTROL_QUEUE]
