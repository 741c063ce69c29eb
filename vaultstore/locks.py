"""The store's lease: backups, restores, verify and replication share it; garbage collection takes it alone.

``flock`` on ``<store>/lock``, opened afresh for every acquisition: locks then
belong to the open file, so two threads of one process exclude each other as
two processes do, and the kernel drops a dead process's lock with its files (a
killed worker never wedges the store). On NFS, Linux turns ``flock`` into NFS
byte-range locks, which the server arbitrates between hosts; for a shared
filesystem without working locks the pending records and the GC grace period
below are the second line (see ``gc.py``).

Pending records (``pending/<session>.json``) say what an unpublished backup
references and which temp packs it is writing. A backup writes one when it
starts, again for each new temp pack, and with every chunk it names just before
it publishes; a crash leaves it behind, and GC keeps the chunks it names until
it is older than the grace period. Whoever learns that the session's process is
dead (the reconciler, through the job's cleanup) removes the record and its temp
packs at once with ``abandon_sessions``.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vaultstore.durable import atomic_write, unlink_durably
from vaultstore.errors import StoreBusyError


@contextmanager
def lease(lock_path: Path, *, exclusive: bool, timeout: float | None) -> Iterator[None]:
    """Hold the store lock; ``timeout`` None waits forever, 0 tries once. Raises StoreBusyError on timeout."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    holder = "backups, restores or a verify" if exclusive else "garbage collection"
                    raise StoreBusyError(f"The vault store at {lock_path.parent} is busy with {holder}.") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class PendingRecord:
    """The intent record of one backup session."""

    def __init__(self, directory: Path, session_id: str, point_id: str) -> None:
        self.path = directory / f"{session_id}.json"
        self.session_id = session_id
        self.point_id = point_id
        self.started = time.time()
        self.temps: list[str] = []
        self.chunks: set[str] = set()

    def write(self, chunks: set[str] | None = None) -> None:
        if chunks is not None:
            self.chunks = set(chunks)
        record = {"session": self.session_id, "point": self.point_id, "host": socket.gethostname(), "pid": os.getpid(),
                  "started": self.started, "temps": self.temps, "chunks": sorted(self.chunks)}
        atomic_write(self.path, json.dumps(record).encode())

    def add_temp(self, path: Path) -> None:
        """A temp pack the session is about to write: recorded before it exists, so it is never left unnamed."""
        self.temps.append(str(path))
        self.write()

    def remove(self) -> None:
        unlink_durably([self.path])


def read_pending(directory: Path) -> list[tuple[Path, float, set[str]]]:
    """Every pending record as (path, mtime, chunk names); unreadable ones name nothing but still count by age."""
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            mtime = path.stat().st_mtime
            chunks = set(json.loads(path.read_bytes()).get("chunks", []))
        except FileNotFoundError:
            continue
        except ValueError:
            chunks = set()
            mtime = time.time()  # a torn record is kept a full grace period rather than trusted
        records.append((path, mtime, chunks))
    return records


def abandon_sessions(directory: Path, point_id: str, packs_root: Path) -> tuple[int, int]:
    """Remove the pending records of ``point_id``'s sessions and the temp packs they list, because the process
    that wrote them is known to be dead. Returns (records removed, temp packs removed).

    Only temp packs (hidden ``.*.tmp`` files under ``packs_root``) are ever removed: a published pack is named
    by its content's chunks and belongs to the store.
    """
    records, temps = [], 0
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            continue
        if record.get("point") != point_id:
            continue
        for name in record.get("temps", []):
            temp = Path(name)
            if temp.parent.parent == packs_root and temp.name.startswith(".") and temp.name.endswith(".tmp"):
                temps += unlink_durably([temp])
        records.append(path)
    return unlink_durably(records), temps
