"""GRS replication: copy the points a secondary store lacks, chunks first, manifests last.

Chunks are copied as stored (compressed) but decoded and verified on the way,
so corruption in the primary is never replicated. A point's file is written to
the secondary only after every chunk it names is durable there, so a
replication interrupted at any moment leaves the secondary consistent. Points
gone from the primary (retention, deleted data) are removed from the secondary
when ``prune`` is set; the secondary's own GC then frees their chunks.
``progress(done, total)`` counts the stored bytes copied against those the
secondary lacks, so a job shows a byte rate and the time left.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from vaultstore.base import Store
from vaultstore.durable import atomic_write
from vaultstore.errors import ChunkError, CorruptManifestError, StoreKeyError
from vaultstore.locks import PendingRecord, lease
from vaultstore.pool import CancelFn, ProgressFn, run_bounded
from vaultstore.writer import ChunkWriter

COPY_BATCH = 16


@dataclass
class ReplicationReport:
    points_copied: list[str] = field(default_factory=list)
    points_removed: list[str] = field(default_factory=list)
    chunks_copied: int = 0
    bytes_copied: int = 0
    failed_points: dict[str, str] = field(default_factory=dict)  # point id -> why it was not replicated

    @property
    def ok(self) -> bool:
        return not self.failed_points


def replicate(primary: Store, secondary: Store, *, prune: bool = True, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> ReplicationReport:
    report = ReplicationReport()
    if primary.chunks.key != secondary.chunks.key:
        # Frames and point files are copied as stored: under another key they could never be read.
        raise StoreKeyError(f"The copy at {secondary.path} is not under the same key as the vault store at "
                            f"{primary.path}, so nothing was copied to it.")
    with lease(primary.lock_path, exclusive=False, timeout=primary.lock_timeout), \
            lease(secondary.lock_path, exclusive=False, timeout=secondary.lock_timeout):
        primary.chunks.refresh()
        secondary.chunks.refresh()
        present = set(secondary.point_ids())
        wanted = [point_id for point_id in primary.point_ids() if point_id not in present]
        total = _bytes_to_copy(primary, secondary, wanted)

        def copied() -> None:
            if progress is not None:
                progress(min(report.bytes_copied, total), total)

        for point_id in wanted:
            try:
                raw = primary.point_path(point_id).read_bytes()
                point = primary.load_point(point_id)
            except (CorruptManifestError, FileNotFoundError) as exc:
                report.failed_points[point_id] = str(exc)
                continue
            # The secondary's GC must not remove chunks copied for a point not yet published there.
            pending = PendingRecord(secondary.pending_dir, secrets.token_hex(8), point_id)
            names = point.referenced()
            pending.write(names)
            try:
                missing = sorted(name for name in names if not secondary.chunks.has(name))
                writer = ChunkWriter(secondary.chunks)
                try:
                    _copy_chunks(primary, writer, missing, report, cancel, copied)
                    writer.commit()
                finally:
                    writer.discard()
                atomic_write(secondary.point_path(point_id), raw)
                report.points_copied.append(point_id)
            except ChunkError as exc:
                report.failed_points[point_id] = exc.message
            finally:
                pending.remove()
            copied()
        if prune:
            gone = sorted(present - set(primary.point_ids()))
            secondary.delete_points(gone)
            report.points_removed = gone
    return report


def _bytes_to_copy(primary: Store, secondary: Store, point_ids: list[str]) -> int:
    """The stored bytes of the chunks these points name that the secondary lacks: the total ``progress`` counts
    against (points that cannot be read count nothing; the copy loop reports them)."""
    missing: set[str] = set()
    for point_id in point_ids:
        try:
            names = primary.load_point(point_id).referenced()
        except (CorruptManifestError, FileNotFoundError):
            continue
        missing.update(name for name in names if not secondary.chunks.has(name))
    total = 0
    for name in missing:
        try:
            total += primary.chunks.locate(name).length
        except ChunkError:
            continue
    return total


def _copy_chunks(primary: Store, writer: ChunkWriter, names: list[str], report: ReplicationReport,
                 cancel: CancelFn | None, copied: Callable[[], None]) -> None:
    def work(batch: list[str]) -> int:
        copied = 0
        for name in batch:
            frame = primary.chunks.read_frame(name)
            data = primary.chunks.decode(name, frame)  # never replicate a damaged chunk
            copied += writer.write_compressed(name, frame, len(data))
        return copied

    def collect(count: int) -> None:
        report.bytes_copied += count
        copied()

    batches = [names[start:start + COPY_BATCH] for start in range(0, len(names), COPY_BATCH)]
    run_bounded(primary.workers, batches, work, collect, cancel, "replicate")
    report.chunks_copied += len(names)


def repair_chunks(primary: Store, secondary: Store, names: list[str]) -> list[str]:
    """Copy chunks the primary lost or damaged back from the secondary, verified; returns the ones repaired."""
    repaired = []
    with lease(primary.lock_path, exclusive=False, timeout=primary.lock_timeout), \
            lease(secondary.lock_path, exclusive=False, timeout=secondary.lock_timeout):
        primary.chunks.refresh()
        secondary.chunks.refresh()
        # The damaged copies stop counting first, so the index can only point at the repaired ones.
        primary.chunks.quarantine(names)
        writer = ChunkWriter(primary.chunks)
        try:
            for name in names:
                try:
                    frame = secondary.chunks.read_frame(name)
                    data = secondary.chunks.decode(name, frame)
                except ChunkError:
                    continue  # damaged on both sides: the affected points stay reported by verify
                writer.write_compressed(name, frame, len(data))
                repaired.append(name)
            writer.commit()
        finally:
            writer.discard()
    return repaired
