"""Verify: re-read every manifest and every chunk they name, and say which recovery points damage affects.

A corrupt chunk is also set aside (listed as damaged, dropped from its pack by GC):
while the store offers it, dedup would keep referencing it from new points; once
it is set aside, the next backup that meets those bytes writes them again, which
heals every older point too, and ``repair_from`` can copy it from the secondary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaultstore.base import Store
from vaultstore.errors import ChunkError, CorruptManifestError
from vaultstore.locks import lease
from vaultstore.manifest import chunk_length
from vaultstore.pool import CancelFn, ProgressFn, run_bounded

VERIFY_BATCH = 16


@dataclass
class VerifyReport:
    points_checked: int = 0
    chunks_checked: int = 0
    bytes_checked: int = 0                                          # logical bytes decompressed and hashed
    bad_chunks: dict[str, str] = field(default_factory=dict)        # chunk -> what is wrong
    affected_points: dict[str, list[str]] = field(default_factory=dict)  # point id -> its bad chunks
    corrupt_manifests: dict[str, str] = field(default_factory=dict)      # point id -> what is wrong
    rebuilt_packs: list[str] = field(default_factory=list)  # packs whose damaged index was rebuilt from their frames

    @property
    def ok(self) -> bool:
        return not self.bad_chunks and not self.corrupt_manifests

    def summary(self) -> str:
        if self.ok:
            return f"Verified {self.points_checked} recovery points and {self.chunks_checked} chunks: no damage found."
        damaged = sorted(set(self.affected_points) | set(self.corrupt_manifests))
        return (f"Found {len(self.bad_chunks)} damaged chunks and {len(self.corrupt_manifests)} damaged manifests; "
                f"affected recovery points: {', '.join(damaged)}.")


def verify_store(store: Store, *, quarantine: bool = True, progress: ProgressFn | None = None,
                 cancel: CancelFn | None = None) -> VerifyReport:
    report = VerifyReport()
    with lease(store.lock_path, exclusive=False, timeout=store.lock_timeout):
        store.chunks.refresh()
        report.rebuilt_packs = store.chunks.rebuilt_packs()
        users, lengths = _chunks_in_use(store, report)
        names = sorted(users)
        batches = [names[start:start + VERIFY_BATCH] for start in range(0, len(names), VERIFY_BATCH)]
        total_bytes = sum(lengths.values())

        def work(batch: list[str]) -> list[tuple[str, int, str | None]]:
            results = []
            for name in batch:
                try:
                    store.chunks.get(name, lengths[name])
                    results.append((name, lengths[name], None))
                except ChunkError as exc:
                    results.append((name, lengths[name], exc.message))
            return results

        def collect(results: list[tuple[str, int, str | None]]) -> None:
            for name, length, problem in results:
                report.chunks_checked += 1
                report.bytes_checked += length
                if problem is not None:
                    report.bad_chunks[name] = problem
                    for point_id in users[name]:
                        report.affected_points.setdefault(point_id, []).append(name)
            if progress is not None:
                progress(report.bytes_checked, total_bytes)

        run_bounded(store.workers, batches, work, collect, cancel, "verify")
        if quarantine and report.bad_chunks:
            store.chunks.quarantine(report.bad_chunks)
    return report


def _chunks_in_use(store: Store, report: VerifyReport) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Every chunk the recovery points name: the points that use it (each once, in order) and its length.

    Counts the points read into ``report``, and records there the manifests that cannot be read.
    """
    users: dict[str, list[str]] = {}
    lengths: dict[str, int] = {}
    for point_id in store.point_ids():
        try:
            point = store.load_point(point_id)
        except CorruptManifestError as exc:
            report.corrupt_manifests[point_id] = exc.message
            continue
        report.points_checked += 1
        for disk in point.disks:
            for index, name in enumerate(disk.chunks):
                if name is None:
                    continue
                users.setdefault(name, [])
                if not users[name] or users[name][-1] != point_id:
                    users[name].append(point_id)
                lengths[name] = chunk_length(index, disk.size, disk.chunk_size)
    return users, lengths
