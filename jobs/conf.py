"""Timings of the job machinery, from the environment (seconds), read when used so tests can set them."""

from __future__ import annotations

from portal.env import env_int


def heartbeat_seconds() -> int:
    """How often a running job's worker touches its row."""
    return env_int("JOBS_HEARTBEAT_SECONDS", 5, minimum=1)


def stale_seconds() -> int:
    """How long without a heartbeat before the reconciler declares the worker dead (four heartbeats: a worker that
    was killed is failed within this plus one reconcile interval, 25 s at the defaults)."""
    return env_int("JOBS_STALE_SECONDS", 20, minimum=2)


def requeue_seconds() -> int:
    """How long a job may wait Not Started before its message is sent again (the broker may have lost it)."""
    return env_int("JOBS_REQUEUE_SECONDS", 120, minimum=1)


def max_enqueues() -> int:
    """How many times a Not Started job is sent before it fails as never picked up."""
    return env_int("JOBS_MAX_ENQUEUES", 10, minimum=1)


def transient_retries() -> int:
    """How many times a task is retried after a TransientError before the job fails."""
    return env_int("JOBS_TRANSIENT_RETRIES", 3, minimum=0)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff: 2, 4, 8... seconds, capped at a minute (JOBS_BACKOFF_BASE scales it)."""
    base = env_int("JOBS_BACKOFF_BASE_MS", 2000, minimum=0) / 1000
    return min(60.0, base * (2 ** max(0, attempt - 1)))
