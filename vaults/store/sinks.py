"""What restore writes into: the ``DiskSink`` protocol and its file and in-memory adapters.

Restore calls ``begin(size)`` once, then ``write(offset, data)`` from worker
threads for non-zero runs only (a sink starts all-zero: a new page blob or a
new sparse file), then ``finish()``. On failure the caller discards the target.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from vaults.store.durable import full_disk_as_store_error


@runtime_checkable
class DiskSink(Protocol):
    def begin(self, size: int) -> None: ...

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...

    def finish(self) -> None: ...


class FileSink:
    """A new raw image file, sparse where the disk is zero. Refuses to overwrite an existing file."""

    def __init__(self, path: Path | str, *, sync: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        self._fd: int | None = None

    def begin(self, size: int) -> None:
        with full_disk_as_store_error(self.path.parent):
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
            os.ftruncate(self._fd, size)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        assert self._fd is not None, "begin() first"
        view = memoryview(data)
        with full_disk_as_store_error(self.path.parent):
            while view:
                written = os.pwrite(self._fd, view, offset)
                view, offset = view[written:], offset + written

    def finish(self) -> None:
        if self._fd is not None:
            if self.sync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Remove the half-restored file (the caller does this when restore fails)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class MemorySink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.writes: list[tuple[int, int]] = []
        self.finished = False

    def begin(self, size: int) -> None:
        self.data = bytearray(size)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self.data[offset:offset + len(data)] = data
        self.writes.append((offset, offset + len(data)))

    def finish(self) -> None:
        self.finished = True
