"""What several benchmarks need: a free loopback port, and waiting until something listens on it."""

from __future__ import annotations

import socket
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, timeout: float = 60) -> bool:
    """True once something listens on ``port``, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        time.sleep(0.1)
    return False


def fresh_django(db_path: Path) -> None:
    """Set Django up on a new, migrated SQLite database at ``db_path`` (DATABASE_URL must already point there)."""
    import django
    from django.core.management import call_command

    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    django.setup()
    call_command("migrate", verbosity=0)
