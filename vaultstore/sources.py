"""What the backup engine reads from: the ``DiskSource`` protocol and its file and in-memory adapters.

The page-blob adapter lives in ``vaultstore.blobs``. A source describes one
disk at one snapshot: ``ranges()`` are the ranges that may hold data (everything
else reads as zeros), ``changed_ranges()`` the ranges written since the previous
point's snapshot. Both may over-report (a range rewritten with the same bytes);
neither may under-report. ``read`` must be safe to call from several threads.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from vaultstore.ranges import Range, normalize


@runtime_checkable
class DiskSource(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def snapshot_id(self) -> str | None: ...

    def ranges(self) -> list[Range]: ...

    def changed_ranges(self) -> list[Range]: ...

    def can_diff_from(self, snapshot_id: str | None) -> bool:
        """Whether ``changed_ranges()`` are the changes since ``snapshot_id``, the snapshot a previous point was
        taken from; only then can that point be the base of an incremental backup."""
        ...

    def read(self, offset: int, length: int) -> bytes: ...


def read_into(source: DiskSource, offset: int, buffer: memoryview) -> None:
    """Fill ``buffer`` from ``source`` at ``offset``: in place when the source can, else through ``read``."""
    reader = getattr(source, "read_into", None)
    if reader is not None:
        reader(offset, buffer)
    else:
        buffer[:] = source.read(offset, len(buffer))


class FileSource:
    """A raw image file. Valid ranges come from SEEK_DATA/SEEK_HOLE, so a sparse image's holes are never read.

    ``changed`` is what the caller knows changed since the previous point (e.g. a
    write log); without it an incremental backup is refused rather than guessed.
    """

    def __init__(self, path: Path | str, *, changed: list[Range] | None = None, snapshot_id: str | None = None) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self._size = os.fstat(self._fd).st_size
        self._changed = changed
        self._snapshot_id = snapshot_id

    @property
    def size(self) -> int:
        return self._size

    @property
    def snapshot_id(self) -> str | None:
        return self._snapshot_id

    def ranges(self) -> list[Range]:
        found: list[Range] = []
        position = 0
        try:
            while position < self._size:
                try:
                    start = os.lseek(self._fd, position, os.SEEK_DATA)
                except OSError:  # ENXIO: no data after position
                    break
                end = os.lseek(self._fd, start, os.SEEK_HOLE)
                found.append((start, end))
                position = end
        except (AttributeError, OSError):
            return [(0, self._size)]  # the filesystem cannot tell holes: read everything
        return normalize(found, self._size)

    def changed_ranges(self) -> list[Range]:
        if self._changed is None:
            raise ValueError(f"{self.path}: no change list was given, so only a full backup is possible")
        return normalize(self._changed, self._size)

    def can_diff_from(self, snapshot_id: str | None) -> bool:
        return self._changed is not None  # the caller's change list is relative to the point it passes

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) < length:  # past the end of a short file reads as zeros
            data += bytes(length - len(data))
        return data

    def read_into(self, offset: int, buffer: memoryview) -> None:
        got = os.preadv(self._fd, [buffer], offset)
        if got < len(buffer):
            buffer[got:] = bytes(len(buffer) - got)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Snapshot:
    data: bytes
    generation: int


@dataclass
class MemoryDisk:
    """A disk in memory with page-blob semantics: writes, copy-on-write snapshots, valid and changed ranges.

    The model the tests and benchmarks drive: ``source(snap, prev)`` behaves like
    the page-blob adapter over ``snap`` with ``prevsnapshot=prev``, and logs every read.
    """

    size: int
    data: bytearray = field(init=False)
    writes: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, generation)
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)
    generation: int = 0

    def __post_init__(self) -> None:
        self.data = bytearray(self.size)

    def write(self, offset: int, data: bytes) -> None:
        if offset < 0 or offset + len(data) > self.size:
            raise ValueError("write past the end of the disk")
        self.data[offset:offset + len(data)] = data
        self.generation += 1
        self.writes.append((offset, offset + len(data), self.generation))

    def snapshot(self) -> str:
        snapshot_id = f"snap-{len(self.snapshots) + 1}"
        self.snapshots[snapshot_id] = _Snapshot(bytes(self.data), self.generation)
        return snapshot_id

    def valid_ranges(self, snapshot_id: str) -> list[Range]:
        generation = self.snapshots[snapshot_id].generation
        return normalize(((s, e) for s, e, g in self.writes if g <= generation), self.size)

    def changed_between(self, prev: str, snapshot_id: str) -> list[Range]:
        low, high = self.snapshots[prev].generation, self.snapshots[snapshot_id].generation
        return normalize(((s, e) for s, e, g in self.writes if low < g <= high), self.size)

    def source(self, snapshot_id: str, prev_snapshot: str | None = None) -> MemorySource:
        changed = self.changed_between(prev_snapshot, snapshot_id) if prev_snapshot else None
        return MemorySource(self.snapshots[snapshot_id].data, self.valid_ranges(snapshot_id), changed, snapshot_id)


class MemorySource:
    """Bytes plus their valid/changed ranges; records every read in ``read_log`` (thread-safe)."""

    def __init__(self, data: bytes, valid: list[Range] | None = None, changed: list[Range] | None = None,
                 snapshot_id: str | None = None) -> None:
        self.data = data
        self._valid = normalize(valid if valid is not None else [(0, len(data))], len(data))
        self._changed = changed
        self._snapshot_id = snapshot_id
        self.read_log: list[Range] = []
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def snapshot_id(self) -> str | None:
        return self._snapshot_id

    def ranges(self) -> list[Range]:
        return list(self._valid)

    def changed_ranges(self) -> list[Range]:
        if self._changed is None:
            raise ValueError("this source has no previous snapshot to compare with")
        return list(self._changed)

    def can_diff_from(self, snapshot_id: str | None) -> bool:
        return self._changed is not None

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            self.read_log.append((offset, offset + length))
        return self.data[offset:offset + length]

    def bytes_read(self) -> int:
        return sum(end - start for start, end in self.read_log)
