"""Property: any sequence of writes, snapshots, backups and restores restores exactly the snapshot's bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vaultstore import MemoryDisk, MemorySink, VaultStore
from vaultstore.ranges import normalize

PAGE = 512
CHUNK = 4096


def inside(ranges, reads) -> bool:
    """Every read lies inside the union of ``ranges``."""
    return all(any(start <= read_start and read_end <= end for start, end in ranges) for read_start, read_end in reads)


class BackupMachine(RuleBasedStateMachine):
    @initialize(pages=st.integers(min_value=1, max_value=80))
    def open(self, pages: int) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.store = VaultStore.create(Path(self._dir.name) / "vault", chunk_size=CHUNK, workers=2, read_batch=3 * CHUNK)
        self.disk = MemoryDisk(pages * PAGE)  # often not a multiple of the chunk size: a short last chunk
        self.backups: list[tuple[str, str]] = []  # (snapshot id, point id)

    def teardown(self) -> None:
        self._dir.cleanup()

    @rule(data=st.data(), kind=st.sampled_from(["random", "zeros", "pattern"]))
    def write(self, data, kind: str) -> None:
        pages = self.disk.size // PAGE
        first = data.draw(st.integers(0, pages - 1))
        count = data.draw(st.integers(1, min(24, pages - first)))
        length = count * PAGE
        if kind == "random":
            payload = data.draw(st.binary(min_size=length, max_size=length))
        elif kind == "zeros":
            payload = bytes(length)  # rewriting with zeros must restore zeros, not the older data
        else:
            payload = bytes([data.draw(st.integers(1, 255))]) * length  # identical chunks dedup
        self.disk.write(first * PAGE, payload)

    @rule(full=st.booleans())
    def back_up(self, full: bool) -> None:
        snapshot = self.disk.snapshot()
        previous = None if full or not self.backups else self.store.load_point(self.backups[-1][1])
        prev_snapshot = previous.disks[0].source_snapshot if previous else None
        source = self.disk.source(snapshot, prev_snapshot)
        point = self.store.back_up([("disk0", source)], previous=previous)
        wanted = self.disk.changed_between(prev_snapshot, snapshot) if previous else self.disk.valid_ranges(snapshot)
        assert inside(wanted, source.read_log), "the backup read outside the ranges it was told about"
        assert point.disks[0].incremental == (previous is not None)
        self.backups.append((snapshot, point.id))

    @precondition(lambda self: self.backups)
    @rule(data=st.data())
    def restore(self, data) -> None:
        snapshot, point_id = data.draw(st.sampled_from(self.backups))
        point = self.store.load_point(point_id)
        sink = MemorySink()
        self.store.restore_disk(point.disks[0], sink)
        assert bytes(sink.data) == self.disk.snapshots[snapshot].data
        zero_chunks = {index for index, name in enumerate(point.disks[0].chunks) if name is None}
        for start, _end in normalize(sink.writes, self.disk.size):
            assert start // CHUNK not in zero_chunks, "restore wrote an all-zero chunk"

    @precondition(lambda self: len(self.backups) > 1)
    @rule(data=st.data())
    def expire_and_collect(self, data) -> None:
        # Retention may remove any point, even the base of later incrementals: they name their chunks themselves.
        victim = data.draw(st.sampled_from(self.backups[:-1]))
        self.store.delete_points([victim[1]])
        self.backups.remove(victim)
        self.store.collect_garbage(grace_seconds=0)

    @invariant()
    def no_zero_chunk_stored(self) -> None:
        if hasattr(self, "store"):
            assert not self.store.chunks.has(self.store.chunks.name_of(bytes(CHUNK)))


BackupMachine.TestCase.settings = settings(max_examples=35, stateful_step_count=18, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
test_random_write_snapshot_backup_restore_sequences_restore_the_snapshot = BackupMachine.TestCase
