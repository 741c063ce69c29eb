"""The workers' own heartbeat: each Celery worker says every few seconds, in Redis, that it is alive.

A job's heartbeat (``jobs/runner.py``) only exists while the worker runs a job, so an idle worker and a dead one
would look the same. Here every worker (the job workers and the control worker) keeps, for each queue it
consumes, its name in a sorted set ``monitoring:workers:<queue>`` scored by the time it last beat. The beat is a
timer on the worker's consumer (a Celery bootstep), so it stops when the worker's main loop stops, not only when
the process dies. A worker that shuts down cleanly removes itself; a dead one's entry ages and is dropped after a
day; the key itself expires a day after the last beat of any worker. /healthz and /metrics read the sets.
"""

from __future__ import annotations

import contextlib
import logging
import time

import redis
from celery import bootsteps

from jobs import conf
from monitoring.broker import broker_client

log = logging.getLogger(__name__)

KEY_PREFIX = "monitoring:workers:"
RETAIN_SECONDS = 86400


def key(queue: str) -> str:
    return f"{KEY_PREFIX}{queue}"


def beat(client: redis.Redis, worker: str, queues: list[str], now: float | None = None) -> None:
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zadd(key(queue), {worker: now})
        pipe.zremrangebyscore(key(queue), "-inf", now - RETAIN_SECONDS)
        pipe.expire(key(queue), RETAIN_SECONDS)
    pipe.execute()


def forget(client: redis.Redis, worker: str, queues: list[str]) -> None:
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zrem(key(queue), worker)
    pipe.execute()


def last_seen(client: redis.Redis, queues: list[str]) -> dict[str, dict[str, float]]:
    """``{queue: {worker: unix time of its last beat}}`` for each queue, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zrange(key(queue), 0, -1, withscores=True)
    return {queue: {member.decode(): score for member, score in rows}
            for queue, rows in zip(queues, pipe.execute(), strict=True)}


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A consumer step: beats when the consumer starts, then every JOBS_HEARTBEAT_SECONDS on the worker's timer."""

    requires = {"celery.worker.consumer.tasks:Tasks"}  # its queues are known once the task consumer exists

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry: object | None = None
        self.client: redis.Redis | None = None
        self.worker, self.queues = "", []
        self.failing = False

    def start(self, c: object) -> None:
        self.worker = c.hostname
        self.queues = sorted({queue.name for queue in c.task_consumer.queues})
        self.client = broker_client()
        self.beat()
        self.timer_entry = c.timer.call_repeatedly(conf.heartbeat_seconds(), self.beat)

    def stop(self, c: object) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
        if self.client is not None:
            # Should the broker be gone, the entry ages out instead: /healthz then counts the worker as gone too.
            with contextlib.suppress(redis.RedisError):
                forget(self.client, self.worker, self.queues)
            self.client.close()
            self.client = None

    def beat(self) -> None:
        try:
            beat(self.client, self.worker, self.queues)
        except redis.RedisError as error:
            if not self.failing:  # once per outage, not every few seconds
                log.warning("worker heartbeat could not reach the broker: %s", error)
            self.failing = True
        else:
            self.failing = False
