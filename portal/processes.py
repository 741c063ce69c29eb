"""What ``make run`` and the test suite need before they start processes: a Redis that answers."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import redis

REDIS_PACKAGE = "redis-server"


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def private_redis_command(url: str, var_dir: Path) -> list[str]:
    """The command line of a private redis-server for ``url``, kept under ``var_dir``.

    Raises RuntimeError with what to install when no redis-server exists, and
    when the URL names a host that is not this machine.
    """
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise RuntimeError(f"Nothing answers at REDIS_URL={url}, and it is not on this machine; start that Redis first.")
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            f"Nothing answers at REDIS_URL={url} and redis-server is not installed. "
            f"Install it with: sudo apt-get install {REDIS_PACKAGE}"
        )
    data = var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return [
        binary, "--bind", host, "--port", str(parsed.port or 6379), "--dir", str(data),
        "--save", "", "--appendonly", "no", "--daemonize", "no",
    ]
