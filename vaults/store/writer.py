"""Writing new chunks durably, in batches.

A chunk is never visible under its name before its bytes are durable: that
name is what dedup trusts, so a chunk file that a power cut had truncated
would otherwise poison every later backup that references it. Per-file fsync
gives that but costs a journal commit per chunk (~2 ms here, more than the
compression). So a writer stages chunks as temp files, then ``commit()``:
one syncfs (or parallel fsyncs) for the whole batch, rename each to its name,
and sync the directories. The engine commits every ``commit_bytes`` and before
a point is published. A crash leaves only temp files, which GC removes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from vaults.store.chunks import ChunkStore
from vaults.store.durable import full_disk_as_store_error, make_durable, temp_name, write_all

DEFAULT_COMMIT_BYTES = 512 << 20


class ChunkWriter:
    """New chunks of one session (a backup, a replication). Thread-safe."""

    def __init__(self, chunks: ChunkStore, *, commit_bytes: int = DEFAULT_COMMIT_BYTES) -> None:
        self.chunks = chunks
        self.commit_bytes = commit_bytes
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        self._staged: list[tuple[Path, Path]] = []
        self._staged_bytes = 0
        self._renamed_dirs: set[Path] = set()

    def claim(self, name: str) -> bool:
        """True when the caller must write the chunk: neither the store nor this session has it."""
        with self._lock:
            if name in self._claimed:
                return False
        if self.chunks.has(name):
            return False
        with self._lock:
            if name in self._claimed:
                return False
            self._claimed.add(name)
            return True

    def write(self, name: str, data: bytes | bytearray | memoryview) -> int:
        return self.write_compressed(name, self.chunks.compress(data))

    def write_compressed(self, name: str, frame: bytes) -> int:
        """Stage one chunk file (not yet durable, not yet named). Returns its stored size."""
        final = self.chunks.path(name)
        temp = temp_name(final)
        with full_disk_as_store_error(self.chunks.root.parent):
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
            except FileNotFoundError:  # the 256 directories are made with the store; recreate one if it was removed
                final.parent.mkdir(exist_ok=True)
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
            try:
                write_all(fd, frame)
            except BaseException:
                os.close(fd)
                os.unlink(temp)
                raise
            os.close(fd)
        with self._lock:
            self._staged.append((temp, final))
            self._staged_bytes += len(frame)
        return len(frame)

    @property
    def needs_commit(self) -> bool:
        return self._staged_bytes >= self.commit_bytes

    def commit(self) -> None:
        """Make every staged chunk durable, then give it its name, durably."""
        with self._lock:
            staged, self._staged, self._staged_bytes = self._staged, [], 0
        try:
            with full_disk_as_store_error(self.chunks.root.parent):
                if staged:
                    make_durable(self.chunks.root, [temp for temp, _ in staged])
                for temp, final in staged:
                    os.rename(temp, final)
                    self._renamed_dirs.add(final.parent)
                if self._renamed_dirs:
                    make_durable(self.chunks.root, [], self._renamed_dirs | {self.chunks.root})
                    self._renamed_dirs = set()
        except BaseException:
            self._discard(staged)
            raise

    def discard(self) -> None:
        """Drop staged chunks (the session failed): their temp files go now rather than at the next GC."""
        with self._lock:
            staged, self._staged, self._staged_bytes = self._staged, [], 0
        self._discard(staged)

    @staticmethod
    def _discard(staged: list[tuple[Path, Path]]) -> None:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
