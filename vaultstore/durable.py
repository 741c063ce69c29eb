"""Crash-safe file writes: temp file, fsync, rename, fsync of the directory.

Every file the store publishes goes through here, so the rule "a name appears
only for complete, durable content" lives in one place. ENOSPC/EDQUOT become
``StoreFullError`` and the temp file is removed, so nothing half-written stays.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from vaultstore.errors import StoreFullError

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def full_disk_as_store_error(where: Path, what: str = "The vault store", recommendation: str | None = None) -> Iterator[None]:
    """Turn 'no space left' into the typed error the job reports to the user."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise StoreFullError(f"{what} at {where} is out of disk space ({os.strerror(exc.errno)}).",
                                 recommendation=recommendation) from exc
        raise


_temp_counter = itertools.count()


def temp_name(path: Path) -> Path:
    # Unique per process and per call (not per thread: thread ids are reused, and a staged temp file outlives
    # the thread that wrote it), so two writers of the same content never share a temp file.
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_temp_counter)}.tmp")


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, data: bytes | bytearray | memoryview, *, sync_dir: bool = True) -> None:
    """Publish ``data`` at ``path`` atomically and durably (the directory fsync may be batched by the caller)."""
    temp = temp_name(path)
    with full_disk_as_store_error(path.parent):
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp, path)
        except BaseException:
            # A failed write never leaves its temp file behind (GC would catch it, but the disk is likely full now).
            with suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        if sync_dir:
            fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(paths: Iterable[Path]) -> None:
    for path in sorted(set(paths)):
        fsync_dir(path)


def unlink_durably(paths: Iterable[Path]) -> int:
    """Remove files and fsync their directories; returns how many were removed."""
    removed = 0
    dirs: set[Path] = set()
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed += 1
        dirs.add(path.parent)
    fsync_dirs(dirs)
    return removed
