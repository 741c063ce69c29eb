"""A backup session: back up the disks of one recovery point, then publish the point atomically.

Order of durability, which is what makes an interrupted backup harmless:

1. new chunks are appended to temp pack files, which are sealed, made durable, then
   renamed and their directories synced (writer.py), the last pack before publishing;
2. so every chunk the point names is durable under its name before step 4;
3. the pending record is rewritten with every chunk the point names;
4. the point file is written to a temp name, fsynced, renamed, and ``points/`` fsynced:
   this rename is the single moment the point becomes visible;
5. the pending record is removed and the lease released.

An exception, a cancellation or a killed process before step 4 leaves no point;
the chunks already written are orphans that garbage collection removes.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultstore.backup import DiskPlan, plan_disk, transfer_disk
from vaultstore.base import Store
from vaultstore.durable import atomic_write
from vaultstore.errors import StoreError
from vaultstore.locks import PendingRecord, lease
from vaultstore.manifest import POINT_ID, DiskManifest, RecoveryPoint
from vaultstore.pool import CancelFn, ProgressFn
from vaultstore.sources import DiskSource
from vaultstore.writer import ChunkWriter


def new_point_id(created: datetime) -> str:
    return f"{created.astimezone(UTC):%Y%m%dT%H%M%S}Z-{secrets.token_hex(4)}"


class BackupSession:
    """Use as a context manager: leaving it with an exception (or without publish) aborts."""

    def __init__(self, store: Store, point_id: str | None = None, *, created: datetime | None = None) -> None:
        self.store = store
        self.created = created or datetime.now(UTC)
        self.point_id = point_id or new_point_id(self.created)
        if not POINT_ID.match(self.point_id):
            raise ValueError(f"invalid recovery point id {self.point_id!r}")
        self.disks: list[DiskManifest] = []
        self.writer = ChunkWriter(store.chunks, on_new_temp=self._record_temp)
        self._stack = ExitStack()
        self._pending: PendingRecord | None = None
        self.published: RecoveryPoint | None = None

    # --- lifecycle -------------------------------------------------------

    def __enter__(self) -> BackupSession:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.published is None:
            self.abort()

    def start(self) -> None:
        if self.store.has_point(self.point_id):
            raise StoreError(f"Recovery point {self.point_id} already exists in the vault store.")
        # Shared lease: any number of backups at once, never during garbage collection.
        self._stack.enter_context(lease(self.store.lock_path, exclusive=False, timeout=self.store.lock_timeout))
        self.store.chunks.refresh()  # what other processes published, minus what GC removed, is what dedup may trust
        self._pending = PendingRecord(self.store.pending_dir, secrets.token_hex(8), self.point_id)
        self._stack.callback(self._pending.remove)
        self._pending.write(set())

    def _record_temp(self, path: Path) -> None:
        if self._pending is not None:
            self._pending.add_temp(path)

    def abort(self) -> None:
        """Drop the session: no point, the pending record removed, the lease released. Safe to call twice."""
        self.writer.discard()
        self._stack.close()

    # --- work ------------------------------------------------------------

    def plan(self, name: str, source: DiskSource, previous: DiskManifest | None = None) -> DiskPlan:
        """``previous`` must belong to a point still published (``VaultStore.back_up`` checks this for you)."""
        if any(disk.name == name for disk in self.disks):
            raise ValueError(f"disk {name!r} is already part of this recovery point")
        return plan_disk(name, source, self.store.chunk_size, previous, sound=self.store.chunks.has)

    def run(self, plan: DiskPlan, *, progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> DiskManifest:
        if self._pending is None:
            raise RuntimeError("start the session first")
        manifest = transfer_disk(plan, self.store.chunks, self.writer, workers=self.store.workers,
                                 read_batch=self.store.read_batch, progress=progress, cancel=cancel)
        self.disks.append(manifest)
        return manifest

    def back_up_disk(self, name: str, source: DiskSource, previous: DiskManifest | None = None, *,
                     progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> DiskManifest:
        """Full backup when ``previous`` is None, else incremental from ``source.changed_ranges()``."""
        return self.run(self.plan(name, source, previous), progress=progress, cancel=cancel)

    def publish(self, *, consistency: str, metadata: dict[str, Any] | None = None) -> RecoveryPoint:
        if self._pending is None:
            raise RuntimeError("start the session first")
        if not self.disks:
            raise ValueError("a recovery point needs at least one disk")
        point = RecoveryPoint(id=self.point_id, created=self.created, consistency=consistency, disks=list(self.disks),
                              metadata=dict(metadata or {}))
        try:
            self.writer.commit()
            self._pending.write(point.referenced())
            atomic_write(self.store.point_path(point.id), self.store.encode_point(point))
        except BaseException:
            self.abort()
            raise
        self.published = point
        self.abort()  # releases the lease and removes the pending record: the point now protects its chunks
        return point
