"""Backups: what is read, what is stored, progress and cancellation."""

from __future__ import annotations

import os

import pytest

from tests.fixtures.store import TEST_CHUNK, chunk_files, damage_chunk
from vaultstore import MemoryDisk, MemorySink, MemorySource, OperationCancelled, VaultStore


def restore_bytes(store: VaultStore, point, name: str = "os") -> bytes:
    sink = MemorySink()
    store.restore_disk(point.disk(name), sink)
    return bytes(sink.data)


def test_full_backup_reads_only_valid_page_ranges(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    snapshot = disk.snapshot()
    source = disk.source(snapshot)
    point = vault_store.back_up([("os", source)])
    assert source.bytes_read() == sum(end - start for start, end in disk.valid_ranges(snapshot))
    assert source.bytes_read() < disk.size
    assert restore_bytes(vault_store, point) == disk.snapshots[snapshot].data


def test_incremental_backup_reads_only_changed_ranges(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    writes = [(5 * TEST_CHUNK + 512, 1024), (17 * TEST_CHUNK, TEST_CHUNK), (40 * TEST_CHUNK + 4096, 8192)]
    for offset, length in writes:
        disk.write(offset, os.urandom(length))
    second = disk.snapshot()
    source = disk.source(second, first)
    point = vault_store.back_up([("os", source)], previous=base)
    assert sorted(source.read_log) == sorted((offset, offset + length) for offset, length in writes)
    assert point.disks[0].incremental
    assert point.disks[0].read_bytes == sum(length for _, length in writes)
    # Only the three touched chunks differ from the previous manifest; the rest are referenced, not copied.
    changed = [index for index, (old, new) in enumerate(zip(base.disks[0].chunks, point.disks[0].chunks, strict=True))
               if old != new]
    assert changed == [5, 17, 40]
    assert restore_bytes(vault_store, point) == disk.snapshots[second].data
    assert restore_bytes(vault_store, base) == disk.snapshots[first].data


def test_incremental_digest_equals_the_digest_of_a_full_backup(vault_store, lab_disk, tmp_path):
    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    disk.write(3 * TEST_CHUNK + 512, os.urandom(2048))
    second = disk.snapshot()
    incremental = vault_store.back_up([("os", disk.source(second, first))], previous=base)
    other = VaultStore.create(tmp_path / "other", chunk_size=TEST_CHUNK, key=vault_store.key)
    full = other.back_up([("os", disk.source(second))])
    assert incremental.disks[0].digest == full.disks[0].digest
    assert incremental.disks[0].chunks == full.disks[0].chunks


def test_zero_chunks_are_recorded_not_stored(vault_store):
    disk = MemoryDisk(8 * TEST_CHUNK)
    disk.write(TEST_CHUNK, b"\x01" * TEST_CHUNK)
    disk.write(3 * TEST_CHUNK, bytes(TEST_CHUNK))  # written, but zeros: a valid range that is all zero
    snapshot = disk.snapshot()
    point = vault_store.back_up([("os", disk.source(snapshot))])
    assert point.disks[0].chunks.count(None) == 7
    assert chunk_files(vault_store) == [vault_store.chunks.name_of(b"\x01" * TEST_CHUNK)]
    assert not vault_store.chunks.has(vault_store.chunks.name_of(bytes(TEST_CHUNK)))
    assert point.disks[0].data_bytes == TEST_CHUNK
    assert restore_bytes(vault_store, point) == disk.snapshots[snapshot].data


def test_identical_chunks_are_stored_once_per_store(vault_store):
    block = os.urandom(TEST_CHUNK)
    data = block * 6 + bytes(TEST_CHUNK) + block
    first = vault_store.back_up([("os", MemorySource(data)), ("data0", MemorySource(block * 2))])
    assert chunk_files(vault_store) == [vault_store.chunks.name_of(block)]
    assert first.stored_bytes == vault_store.chunks.locate(vault_store.chunks.name_of(block)).length
    # A second point of the same bytes (another VM, a full re-backup) stores nothing new.
    second = vault_store.back_up([("os", MemorySource(data))])
    assert second.stored_bytes == 0
    assert restore_bytes(vault_store, second) == data


def test_progress_counts_bytes_read_up_to_the_total(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    snapshot = disk.snapshot()
    seen: list[tuple[int, int]] = []
    vault_store.back_up([("os", disk.source(snapshot)), ("data0", disk.source(snapshot))],
                        progress=lambda done, total: seen.append((done, total)))
    total = 2 * sum(end - start for start, end in disk.valid_ranges(snapshot))
    assert seen[-1] == (total, total)
    assert all(t == total for _, t in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


@pytest.mark.parametrize("how", ["returns True", "raises"])
def test_cancelled_backup_publishes_nothing(vault_store, lab_disk, how):
    disk = lab_disk(1 << 20)
    snapshot = disk.snapshot()
    calls = 0

    class Stop(Exception):
        pass

    def cancel() -> bool:
        nonlocal calls
        calls += 1
        if calls > 3:
            if how == "raises":
                raise Stop
            return True
        return False

    with pytest.raises(OperationCancelled if how == "returns True" else Stop):
        vault_store.back_up([("os", disk.source(snapshot))], cancel=cancel)
    assert vault_store.point_ids() == []
    assert list(vault_store.pending_dir.iterdir()) == []
    point = vault_store.back_up([("os", disk.source(snapshot))])
    assert restore_bytes(vault_store, point) == disk.snapshots[snapshot].data


def test_resized_disk_gets_a_full_backup(vault_store):
    small = MemoryDisk(4 * TEST_CHUNK)
    small.write(0, os.urandom(TEST_CHUNK))
    base = vault_store.back_up([("os", small.source(small.snapshot()))])
    grown = MemoryDisk(6 * TEST_CHUNK + 512)
    grown.write(0, small.data[:TEST_CHUNK])
    grown.write(5 * TEST_CHUNK, os.urandom(1024))
    snapshot = grown.snapshot()
    point = vault_store.back_up([("os", grown.source(snapshot, snapshot))], previous=base)
    assert not point.disks[0].incremental
    assert restore_bytes(vault_store, point) == grown.snapshots[snapshot].data


def test_a_point_records_time_consistency_snapshots_and_sizes(vault_store, lab_disk):
    disk = lab_disk(512 << 10)
    snapshot = disk.snapshot()
    point = vault_store.back_up([("os", disk.source(snapshot))], consistency="application",
                                metadata={"item": "vm:web01", "expires": "2027-01-01T00:00:00+00:00"})
    loaded = vault_store.load_point(point.id)
    assert loaded.consistency == "application"
    assert loaded.metadata == {"item": "vm:web01", "expires": "2027-01-01T00:00:00+00:00"}
    assert loaded.snapshots == {"os": snapshot}
    assert loaded.logical_bytes == 512 << 10
    assert 0 < loaded.stored_bytes <= vault_store.stored_bytes()
    assert loaded.disks[0].digest == point.disks[0].digest
    assert [p.id for p in vault_store.points()] == [point.id]


def test_incremental_on_a_base_deleted_and_collected_meanwhile_falls_back_to_full(vault_store, lab_disk):
    disk = lab_disk(512 << 10)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    vault_store.delete_points([base.id])  # retention, after the job had loaded ``base``
    vault_store.collect_garbage(grace_seconds=0)
    disk.write(0, os.urandom(1024))
    second = disk.snapshot()
    point = vault_store.back_up([("os", disk.source(second, first))], previous=base)
    assert not point.disks[0].incremental
    assert restore_bytes(vault_store, point) == disk.snapshots[second].data
    assert vault_store.verify().ok


def test_incremental_over_a_damaged_base_chunk_reads_that_chunk_whole(vault_store):
    disk = MemoryDisk(4 * TEST_CHUNK)
    disk.write(0, os.urandom(4 * TEST_CHUNK))
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    damage_chunk(vault_store, base.disks[0].chunks[1])
    disk.write(TEST_CHUNK + 512, os.urandom(512))
    second = disk.snapshot()
    source = disk.source(second, first)
    point = vault_store.back_up([("os", source)], previous=base)
    assert (TEST_CHUNK, 2 * TEST_CHUNK) in source.read_log
    assert restore_bytes(vault_store, point) == disk.snapshots[second].data
    assert list(vault_store.verify().affected_points) == [base.id]


def test_a_restore_reads_a_batch_of_chunks_stored_together_with_one_disk_read(vault_store, monkeypatch):
    """A backup writes each batch's new chunks side by side; a restore reads them back in one request."""
    import vaultstore.chunks as chunks_module

    data = os.urandom(16 * TEST_CHUNK)
    point = vault_store.back_up([("os", MemorySource(data))])
    reads = []
    real_read = chunks_module.read_uncached

    def counted(path, offset, length):
        reads.append(length)
        return real_read(path, offset, length)

    monkeypatch.setattr(chunks_module, "read_uncached", counted)
    sink = MemorySink()
    vault_store.restore_disk(point.disks[0], sink)
    assert bytes(sink.data) == data
    batches = -(-16 * TEST_CHUNK // vault_store.read_batch)
    assert len(reads) == batches  # not one read per chunk
    assert sum(reads) == sum(len(vault_store.chunks.read_frame(name)) for name in point.disks[0].chunks)


def test_a_new_store_object_reads_only_the_packs_it_has_not_seen(vault_store, lab_disk, monkeypatch):
    """Each job opens its store anew; the index of the packs this process already read is not read again."""
    from vaultstore import chunks

    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    read: list[str] = []
    real_read_pack = chunks.read_pack
    monkeypatch.setattr(chunks, "read_pack", lambda path, key: read.append(path.name) or real_read_pack(path, key))

    again = VaultStore(vault_store.path, key=vault_store.key)
    assert again.chunks.names() == vault_store.chunks.names()
    assert read == []

    disk.write(9 * TEST_CHUNK, os.urandom(TEST_CHUNK))
    second = disk.snapshot()
    with monkeypatch.context() as elsewhere:  # as if another process published the next pack
        elsewhere.setattr(chunks._last_packs, "add", lambda root, pack: None)
        point = vault_store.back_up([("os", disk.source(second, first))], previous=base)
    [new_pack] = {pack.id for pack in vault_store.chunks.packs()} - {pack.id for pack in again.chunks.packs()}
    read.clear()
    third = VaultStore(vault_store.path, key=vault_store.key)
    assert restore_bytes(third, point) == disk.snapshots[second].data
    assert read == [f"{new_pack}.pack"]

    # A pack file that changed under its name is read again. With its footer cut short, its index is rebuilt from
    # the frames and the chunk is still served; cut into the chunk's frame, the chunk is missing.
    name = vault_store.chunks.name_of(disk.snapshots[second].data[9 * TEST_CHUNK:10 * TEST_CHUNK])
    path = third.chunks.pack_path(new_pack)
    os.truncate(path, path.stat().st_size - 1)
    fourth = VaultStore(vault_store.path, key=vault_store.key)
    assert name in fourth.chunks.names() and fourth.chunks.rebuilt_packs() == [new_pack]
    assert fourth.chunks.get(name) == disk.snapshots[second].data[9 * TEST_CHUNK:10 * TEST_CHUNK]
    where = fourth.chunks.locate(name)
    os.truncate(path, where.offset + where.length - 1)
    fifth = VaultStore(vault_store.path, key=vault_store.key)
    assert name not in fifth.chunks.names()
