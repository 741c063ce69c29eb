"""Damage: verify names the affected points, restore fails clearly, the GRS copy saves the day."""

from __future__ import annotations

import dataclasses
import os

import pytest

from tests.fixtures.store import TEST_CHUNK, chunk_files, damage_chunk, lose_chunk
from vaultstore import (
    CorruptChunkError,
    DigestMismatchError,
    FileSink,
    FileSource,
    MemoryDisk,
    MemorySink,
    MissingChunkError,
    OperationCancelled,
    PointNotFoundError,
    StoreError,
    measure_digest,
)
from vaultstore.writer import put_chunk


@pytest.fixture
def three_points(vault_store):
    """Three points of one disk: chunk 0 shared by all, chunk 2 changed for the third."""
    disk = MemoryDisk(4 * TEST_CHUNK)
    disk.write(0, os.urandom(TEST_CHUNK))
    disk.write(2 * TEST_CHUNK, os.urandom(TEST_CHUNK))
    first = disk.snapshot()
    points = [vault_store.back_up([("os", disk.source(first))])]
    disk.write(TEST_CHUNK, os.urandom(512))
    second = disk.snapshot()
    points.append(vault_store.back_up([("os", disk.source(second, first))], previous=points[0]))
    disk.write(2 * TEST_CHUNK, os.urandom(512))
    third = disk.snapshot()
    points.append(vault_store.back_up([("os", disk.source(third, second))], previous=points[1]))
    return disk, [first, second, third], points


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def test_verify_reports_a_corrupted_chunk_by_recovery_point(vault_store, three_points):
    _, _, points = three_points
    only_in_first_two = points[0].disks[0].chunks[2]
    damage_chunk(vault_store, only_in_first_two)
    report = vault_store.verify()
    assert not report.ok
    assert set(report.bad_chunks) == {only_in_first_two}
    assert report.affected_points == {points[0].id: [only_in_first_two], points[1].id: [only_in_first_two]}
    assert points[0].id in report.summary() and points[2].id not in report.summary()


def test_verify_reports_missing_chunks_and_damaged_manifests(vault_store, three_points):
    _, _, points = three_points
    shared = points[0].disks[0].chunks[0]
    lose_chunk(vault_store, shared)
    flip_a_byte(vault_store.point_path(points[2].id))
    report = vault_store.verify()
    assert "missing" in report.bad_chunks[shared]
    assert set(report.affected_points) == {points[0].id, points[1].id}
    assert set(report.corrupt_manifests) == {points[2].id}


def test_restore_of_a_damaged_point_fails_naming_the_chunk(vault_store, three_points):
    _, _, points = three_points
    bad = points[2].disks[0].chunks[2]
    damage_chunk(vault_store, bad)
    with pytest.raises(CorruptChunkError) as caught:
        vault_store.restore_disk(points[2].disks[0], MemorySink())
    assert caught.value.chunk == bad and bad in str(caught.value)
    lose_chunk(vault_store, bad)
    with pytest.raises(MissingChunkError, match=bad):
        vault_store.restore_disk(points[2].disks[0], MemorySink())


def test_restore_reads_the_secondary_copy_when_the_primary_chunk_is_damaged(vault_store, secondary_store, three_points):
    disk, snapshots, points = three_points
    report = vault_store.replicate_to(secondary_store)
    assert report.points_copied == [point.id for point in sorted(points, key=lambda p: p.id)]
    assert secondary_store.verify().ok
    bad = points[2].disks[0].chunks[2]
    damage_chunk(vault_store, bad)
    lose_chunk(vault_store, points[2].disks[0].chunks[0])
    sink = MemorySink()
    result = vault_store.restore_disk(points[2].disks[0], sink, secondary=secondary_store)
    assert bytes(sink.data) == disk.snapshots[snapshots[2]].data
    assert result.chunks_from_secondary == 2


def test_replication_copies_only_new_points_and_never_copies_damage(vault_store, secondary_store, three_points):
    _, _, points = three_points
    vault_store.replicate_to(secondary_store)
    again = vault_store.replicate_to(secondary_store)
    assert again.points_copied == [] and again.chunks_copied == 0
    more = MemoryDisk(2 * TEST_CHUNK)
    more.write(0, os.urandom(TEST_CHUNK))
    fresh = vault_store.back_up([("data0", more.source(more.snapshot()))])
    damage_chunk(vault_store, fresh.disks[0].chunks[0])
    report = vault_store.replicate_to(secondary_store)
    assert list(report.failed_points) == [fresh.id]
    assert not secondary_store.has_point(fresh.id)
    # Retention in the primary is mirrored; the secondary's GC then frees the chunks.
    vault_store.delete_points([points[0].id])
    report = vault_store.replicate_to(secondary_store)
    assert report.points_removed == [points[0].id]
    secondary_store.collect_garbage(grace_seconds=0)
    assert secondary_store.verify().ok


def test_restore_proves_the_digest(vault_store, three_points):
    _, _, points = three_points
    disk = points[2].disks[0]
    forged = dataclasses.replace(disk, chunks=[disk.chunks[0], None, disk.chunks[2], disk.chunks[3]])
    with pytest.raises(DigestMismatchError) as caught:
        vault_store.restore_disk(forged, MemorySink())
    assert caught.value.code == "RestoreDigestMismatch"


def test_restore_to_a_sparse_file_and_measure_its_digest(vault_store, three_points, tmp_path):
    disk, snapshots, points = three_points
    target = tmp_path / "restored.img"
    sink = FileSink(target)
    vault_store.restore_disk(points[2].disks[0], sink)
    assert target.read_bytes() == disk.snapshots[snapshots[2]].data
    with FileSource(target) as source:
        assert measure_digest(source, TEST_CHUNK, name_of=vault_store.chunks.name_of) == points[2].disks[0].digest
    with pytest.raises(FileExistsError):
        FileSink(target).begin(1024)  # never overwrites an existing disk


def test_gc_refuses_to_run_on_a_damaged_manifest(vault_store, three_points):
    _, _, points = three_points
    orphan = os.urandom(TEST_CHUNK)
    put_chunk(vault_store.chunks, vault_store.chunks.name_of(orphan), orphan)
    flip_a_byte(vault_store.point_path(points[0].id))
    before = chunk_files(vault_store)
    with pytest.raises(StoreError, match="stopped without deleting anything"):
        vault_store.collect_garbage(grace_seconds=0)
    assert chunk_files(vault_store) == before


@pytest.mark.parametrize("direct", [True, False])
def test_file_restore_handles_unaligned_tails(vault_store, tmp_path, direct):
    disk = MemoryDisk(2 * TEST_CHUNK + 1536)  # the last chunk is 1.5 KiB: not 4 KiB-aligned for O_DIRECT
    disk.write(0, os.urandom(TEST_CHUNK))
    disk.write(2 * TEST_CHUNK, os.urandom(1536))
    snapshot = disk.snapshot()
    point = vault_store.back_up([("os", disk.source(snapshot))])
    target = tmp_path / f"restored-{direct}.img"
    vault_store.restore_disk(point.disks[0], FileSink(target, direct=direct))
    assert target.read_bytes() == disk.snapshots[snapshot].data


def test_file_source_skips_the_holes_of_a_sparse_image(vault_store, tmp_path):
    image = tmp_path / "sparse.img"
    with open(image, "wb") as handle:
        handle.truncate(64 << 20)
        handle.seek(40 << 20)
        handle.write(os.urandom(1 << 20))
    with FileSource(image) as source:
        ranges = source.ranges()
        assert sum(end - start for start, end in ranges) < 8 << 20
        point = vault_store.back_up([("os", source)])
    target = tmp_path / "restored.img"
    vault_store.restore_disk(point.disks[0], FileSink(target))
    assert target.read_bytes() == image.read_bytes()
    assert os.stat(target).st_blocks * 512 < 8 << 20  # the restored image is sparse too


def test_listing_skips_a_damaged_point_and_ids_cannot_escape_the_store(vault_store, three_points):
    _, _, points = three_points
    flip_a_byte(vault_store.point_path(points[1].id))
    assert [point.id for point in vault_store.points()] == [points[0].id, points[2].id]
    with pytest.raises(PointNotFoundError):
        vault_store.load_point("../../etc/passwd")


def test_interrupted_replication_leaves_the_secondary_consistent(vault_store, secondary_store, three_points, monkeypatch):
    from vaultstore import replication as replicate_module

    real = replicate_module.atomic_write
    monkeypatch.setattr(replicate_module, "atomic_write", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("link down")))
    with pytest.raises(OSError):
        vault_store.replicate_to(secondary_store)
    assert secondary_store.point_ids() == []  # chunks may have arrived; no manifest without them
    monkeypatch.setattr(replicate_module, "atomic_write", real)
    assert len(vault_store.replicate_to(secondary_store).points_copied) == 3
    assert secondary_store.verify().ok


def test_restore_reports_progress_and_can_be_cancelled(vault_store, three_points):
    _, _, points = three_points
    seen: list[tuple[int, int]] = []
    vault_store.restore_disk(points[0].disks[0], MemorySink(), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (points[0].disks[0].data_bytes, points[0].disks[0].data_bytes)
    with pytest.raises(OperationCancelled):
        vault_store.restore_disk(points[0].disks[0], MemorySink(), cancel=lambda: True)


def test_verify_sets_a_corrupt_chunk_aside_so_the_next_backup_of_those_bytes_heals_old_points(vault_store, three_points):
    disk, snapshots, points = three_points
    shared = points[0].disks[0].chunks[0]
    damage_chunk(vault_store, shared)
    report = vault_store.verify()
    assert set(report.affected_points) == {point.id for point in points}
    assert not vault_store.chunks.has(shared)  # set aside: dedup no longer trusts the name
    # The VM still holds those bytes: the next backup (full, here) writes the chunk again.
    healed = vault_store.back_up([("os", disk.source(snapshots[2]))])
    assert shared in healed.referenced() and healed.stored_bytes > 0
    assert vault_store.verify().ok


def test_repair_from_the_secondary_copy(vault_store, secondary_store, three_points):
    _, _, points = three_points
    vault_store.replicate_to(secondary_store)
    bad = points[2].disks[0].chunks[2]
    damage_chunk(vault_store, bad)
    report = vault_store.verify()
    assert vault_store.repair_from(secondary_store, report.bad_chunks) == [bad]
    assert vault_store.verify().ok
