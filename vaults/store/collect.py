"""Garbage collection: remove chunks no recovery point names.

It never races a backup: it holds the store's exclusive lease, which waits for
every running backup, restore, verify and replication (they hold it shared)
and keeps new ones out until it is done; ``StoreBusyError`` after ``timeout``
lets the job retry later. It refuses to run when any manifest is unreadable
(deleting on partial knowledge could destroy the only copy of live chunks).

Second line of defence, for a store shared by hosts whose filesystem does not
enforce the lock: a chunk file younger than ``grace_seconds`` is kept even if
unreferenced, as is every chunk a pending record (an unpublished backup) names.
The grace period must then exceed the longest backup; a single host can use 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vaults.store.durable import unlink_durably
from vaults.store.errors import CorruptManifestError, StoreError
from vaults.store.locks import lease, read_pending

if TYPE_CHECKING:
    from vaults.store.store import VaultStore

DEFAULT_GRACE_SECONDS = 3600.0


@dataclass
class GcReport:
    chunks_deleted: int = 0
    bytes_freed: int = 0
    unreferenced_kept: int = 0       # too recent to delete (grace period)
    temp_files_removed: int = 0
    pending_records_removed: int = 0


def collect_garbage(store: VaultStore, *, grace_seconds: float = DEFAULT_GRACE_SECONDS, timeout: float | None = 60.0) -> GcReport:
    report = GcReport()
    with lease(store.lock_path, exclusive=True, timeout=timeout):
        now = time.time()
        cutoff = now - grace_seconds
        referenced: set[str] = set()
        for point_id in store.point_ids():
            try:
                referenced |= store.load_point(point_id).referenced()
            except CorruptManifestError as exc:
                raise StoreError(f"Garbage collection stopped without deleting anything: {exc.message}",
                                 recommendation="Run Verify; restore the manifest from the secondary region or delete "
                                                "the damaged recovery point, then run garbage collection again.") from exc
        stale_records = []
        for path, mtime, names in read_pending(store.pending_dir):
            if mtime < cutoff:
                stale_records.append(path)  # left by a backup that died long ago: it will never publish
            else:
                referenced |= names
        doomed = []
        for chunk in store.chunks.iter_files():
            if chunk.mtime >= cutoff:
                if not chunk.name.startswith(".") and chunk.name not in referenced:
                    report.unreferenced_kept += 1
                continue
            if chunk.name.startswith("."):
                report.temp_files_removed += 1
            elif chunk.name not in referenced:
                report.chunks_deleted += 1
                report.bytes_freed += chunk.size
            else:
                continue
            doomed.append(chunk.path)
        # Temp files of interrupted point writes, too.
        for path in store.points_dir.glob(".*.tmp"):
            if path.stat().st_mtime < cutoff:
                doomed.append(path)
                report.temp_files_removed += 1
        unlink_durably(doomed)
        report.pending_records_removed = unlink_durably(stale_records)
    return report
