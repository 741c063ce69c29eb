"""Garbage collection: remove chunks no recovery point names, pack by pack.

A pack none of whose chunks is named any more is deleted. A pack that still
holds named chunks is rewritten once at least ``repack_threshold`` of its
bytes are dead (or as soon as it holds a damaged chunk, or its index had to be
rebuilt from its frames): its live frames are
copied, as stored, into a new pack, which is published before the old one is
deleted, so at every moment each live chunk has a durable copy. Below the
threshold the dead chunks wait: a daily retention run frees a few chunks in
many packs, and copying every live neighbour to free them would cost far
more I/O than the space is worth.

It never races a backup: it holds the store's exclusive lease, which waits for
every running backup, restore, verify and replication (they hold it shared)
and keeps new ones out until it is done; ``StoreBusyError`` after ``timeout``
lets the job retry later. It refuses to run when any manifest is unreadable
(deleting on partial knowledge could destroy the only copy of live chunks).

Second line of defence, for a store shared by hosts whose filesystem does not
enforce the lock: a pack younger than ``grace_seconds`` is kept whole even if
it holds unreferenced chunks, and every chunk a pending record (an unpublished
backup) names counts as referenced. The grace period must then exceed the
longest backup; a single host can use 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vaultstore.base import Store
from vaultstore.durable import unlink_durably
from vaultstore.errors import CorruptManifestError, StoreError
from vaultstore.locks import lease, read_pending
from vaultstore.packs import PACK_SUFFIX, Pack
from vaultstore.writer import ChunkWriter

DEFAULT_GRACE_SECONDS = 3600.0
DEFAULT_REPACK_THRESHOLD = 0.2


@dataclass
class GcReport:
    chunks_deleted: int = 0
    bytes_freed: int = 0
    unreferenced_kept: int = 0       # too recent to delete (grace period)
    dead_waiting: int = 0            # dead chunks in packs not yet worth rewriting (repack threshold)
    temp_files_removed: int = 0
    pending_records_removed: int = 0
    packs_deleted: int = 0
    packs_rewritten: int = 0


def collect_garbage(store: Store, *, grace_seconds: float = DEFAULT_GRACE_SECONDS, timeout: float | None = 60.0,
                    repack_threshold: float = DEFAULT_REPACK_THRESHOLD) -> GcReport:
    report = GcReport()
    with lease(store.lock_path, exclusive=True, timeout=timeout):
        store.chunks.refresh()
        cutoff = time.time() - grace_seconds
        referenced = _referenced(store, cutoff, report)
        damaged = store.chunks.damaged()
        doomed, cleaned = [], []
        for pack in store.chunks.packs():
            bad = damaged.get(pack.id, set())
            dead = [name for name, _ in pack.entries if name not in referenced or name in bad]
            if not dead and not pack.rebuilt:  # a rebuilt pack is rewritten, so its index is whole again
                continue
            if pack.mtime >= cutoff:
                report.unreferenced_kept += sum(1 for name in dead if name not in bad)
                continue
            live = [(name, where) for name, where in pack.entries if name in referenced and name not in bad]
            dead_bytes = sum(where.length for name, where in pack.entries if name not in referenced or name in bad)
            worth_waiting = dead_bytes < repack_threshold * sum(where.length for _, where in pack.entries)
            if live and not bad and not pack.rebuilt and worth_waiting:
                report.dead_waiting += len(dead)
                continue
            if live:
                report.bytes_freed += pack.size - _rewrite(store, pack, live)
                report.packs_rewritten += 1
            else:
                report.bytes_freed += pack.size
                report.packs_deleted += 1
            report.chunks_deleted += len(dead)
            doomed.append(pack.path)
            cleaned.append(pack.id)
        # Temp packs of interrupted backups and temp files of interrupted point writes.
        for path in [*store.chunks.root.glob(f"*/.*{PACK_SUFFIX}.*.tmp"), *store.points_dir.glob(".*.tmp")]:
            try:
                if path.stat().st_mtime < cutoff:
                    doomed.append(path)
                    report.temp_files_removed += 1
            except FileNotFoundError:
                continue
        unlink_durably(doomed)
        if cleaned:
            store.chunks.forget_damage(cleaned)
        store.chunks.refresh()
    return report


def _referenced(store: Store, cutoff: float, report: GcReport) -> set[str]:
    """Every chunk a point or a live pending record names; stale pending records are removed."""
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
    report.pending_records_removed = unlink_durably(stale_records)
    return referenced


def _rewrite(store: Store, pack: Pack, live: list) -> int:
    """Copy the live frames of ``pack`` into a new pack and publish it; returns the bytes the copy takes."""
    writer = ChunkWriter(store.chunks)
    try:
        stored = 0
        for name, where in live:
            stored += writer.write_compressed(name, store.chunks.read_at(where, name), where.raw_length)
        writer.commit()
    finally:
        writer.discard()
    return stored
