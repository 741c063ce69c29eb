"""What restore writes into: the ``DiskSink`` protocol and its file and in-memory adapters.

Restore calls ``begin(size)`` once, then ``write(offset, pieces)`` from worker
threads for non-zero runs only (a sink starts all-zero: a new page blob or a
new sparse file), then ``finish()``. On failure the caller discards the target.
``pieces`` are the consecutive chunks of one run, as they were decompressed:
a sink copies them at most once, to where they go, instead of the caller
joining them first.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from vaultstore.durable import full_disk_as_store_error

TARGET_FULL = ("The restore target", "Free space on the volume that holds the restore target, delete the half-restored "
                                     "disk, then restore again.")


Buffer = bytes | bytearray | memoryview


def gather(pieces: Sequence[Buffer], target: memoryview | mmap.mmap) -> int:
    """Copy the pieces one after another into ``target``; returns how many bytes that was."""
    used = 0
    for piece in pieces:
        target[used:used + len(piece)] = piece
        used += len(piece)
    return used


@runtime_checkable
class DiskSink(Protocol):
    def begin(self, size: int) -> None: ...

    def write(self, offset: int, pieces: Sequence[Buffer]) -> None: ...

    def finish(self) -> None: ...


class FileSink:
    """A new raw image file, sparse where the disk is zero. Refuses to overwrite an existing file.

    Aligned pieces are written with O_DIRECT: filling the page cache with a
    multi-GiB restore cost ~4x more CPU (page allocation and reclaim) than the
    device needed to take the bytes, measured on this kind of VM. Tails that
    are not 4 KiB-aligned, and filesystems without O_DIRECT, use ordinary writes.
    """

    ALIGN = 4096

    def __init__(self, path: Path | str, *, sync: bool = True, direct: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        self.direct = direct
        self._fd: int | None = None
        self._direct_fd: int | None = None
        self._buffers = threading.local()

    def begin(self, size: int) -> None:
        with full_disk_as_store_error(self.path.parent, *TARGET_FULL):
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
            os.ftruncate(self._fd, size)
        if self.direct and hasattr(os, "O_DIRECT"):
            try:
                self._direct_fd = os.open(self.path, os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC)
            except OSError:  # e.g. tmpfs: no O_DIRECT
                self._direct_fd = None

    def _aligned_buffer(self, length: int) -> mmap.mmap:
        # mmap memory is page-aligned, as O_DIRECT requires; one buffer per writing thread.
        buffer = getattr(self._buffers, "buffer", None)
        if buffer is None or len(buffer) < length:
            buffer = self._buffers.buffer = mmap.mmap(-1, max(length, 4 << 20))
        return buffer

    def write(self, offset: int, pieces: Sequence[Buffer]) -> None:
        assert self._fd is not None, "begin() first"
        length = sum(len(piece) for piece in pieces)
        with full_disk_as_store_error(self.path.parent, *TARGET_FULL):
            if self._direct_fd is not None and offset % self.ALIGN == 0 and length >= self.ALIGN:
                buffer = self._aligned_buffer(length)
                gather(pieces, buffer)
                aligned = length - length % self.ALIGN
                self._pwrite(self._direct_fd, memoryview(buffer)[:aligned], offset)
                self._pwrite(self._fd, memoryview(buffer)[aligned:length], offset + aligned)
            else:
                self._pwrite(self._fd, memoryview(b"".join(pieces)), offset)

    @staticmethod
    def _pwrite(fd: int, view: memoryview, offset: int) -> None:
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written

    def _close(self) -> None:
        for fd in (self._direct_fd, self._fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._direct_fd = None

    def finish(self) -> None:
        if self._fd is not None and self.sync:
            os.fsync(self._fd)  # the file's data (direct writes included) and its size and extents
        self._close()

    def discard(self) -> None:
        """Remove the half-restored file (the caller does this when restore fails)."""
        self._close()
        self.path.unlink(missing_ok=True)


class MemorySink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.writes: list[tuple[int, int]] = []
        self.finished = False

    def begin(self, size: int) -> None:
        self.data = bytearray(size)

    def write(self, offset: int, pieces: Sequence[Buffer]) -> None:
        length = gather(pieces, memoryview(self.data)[offset:])
        self.writes.append((offset, offset + length))

    def finish(self) -> None:
        self.finished = True
