"""A damaged store never poisons later backups: unsound chunks are read again from the snapshot, never referenced.

Each case damages the store the way the disk or an operator might (a flipped bit in a chunk, a damaged pack
index, a lost pack), then takes the next incremental backup of a disk whose bytes in that spot did not change:
the new point must be whole and restore bit-exact, and the job can say how many chunks it re-read to heal.
"""

from __future__ import annotations

from vaultstore import VaultStore

from ..fixtures.store import TEST_CHUNK, damage_chunk, lose_chunk, restored


def _written_chunk(point) -> int:
    """The index of the first chunk the point stores (not all zeros)."""
    return next(i for i, name in enumerate(point.disks[0].chunks) if name is not None)


def test_a_chunk_verify_found_damaged_is_read_again_by_the_next_backup(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    index = _written_chunk(base)
    damaged = base.disks[0].chunks[index]
    damage_chunk(vault_store, damaged)
    report = vault_store.verify()
    assert list(report.affected_points) == [base.id] and damaged in report.bad_chunks

    elsewhere = (index + 8) % 64  # a change in another chunk; the damaged one's bytes are unchanged
    disk.write(elsewhere * TEST_CHUNK, b"x" * 512)
    second = disk.snapshot()
    healed = vault_store.back_up([("os", disk.source(second, first))], previous=base)

    assert healed.disks[0].incremental and healed.healed_chunks == 1
    assert healed.disks[0].chunks[index] == damaged  # the same bytes, so the same name, now stored whole
    assert restored(vault_store, healed.disks[0]) == disk.snapshots[second].data
    again = VaultStore(vault_store.path, key=vault_store.key).verify()
    assert again.ok, again.summary()  # the damaged frame was set aside; every point now reads the new copy
    assert restored(vault_store, base.disks[0]) == disk.snapshots[first].data  # Verify's advice healed the old one


def test_a_chunk_missing_from_the_store_is_read_again_not_referenced(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    index = _written_chunk(base)
    lose_chunk(vault_store, base.disks[0].chunks[index])

    second = disk.snapshot()  # nothing changed on the disk
    point = vault_store.back_up([("os", disk.source(second, first))], previous=base)

    assert point.healed_chunks == 1 and point.disks[0].read_bytes == TEST_CHUNK
    assert restored(VaultStore(vault_store.path, key=vault_store.key), point.disks[0]) == disk.snapshots[second].data


def test_a_damaged_pack_index_is_rebuilt_from_its_frames_and_reported(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    [pack] = vault_store.chunks.packs()
    size = pack.path.stat().st_size
    with open(pack.path, "r+b") as handle:  # one bit of the index (just before the footer) flipped
        handle.seek(size - 60)
        byte = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([byte ^ 0x01]))

    reopened = VaultStore(vault_store.path, key=vault_store.key, workers=2)
    assert reopened.chunks.rebuilt_packs() == [pack.id]
    assert reopened.chunks.names() == {name for name in base.disks[0].chunks if name is not None}
    second = disk.snapshot()
    point = reopened.back_up([("os", disk.source(second, first))], previous=base)
    assert point.healed_chunks == 0  # nothing was lost: every chunk is still served from its frame
    report = reopened.verify()
    assert report.ok and report.rebuilt_packs == [pack.id]
    assert restored(reopened, point.disks[0]) == disk.snapshots[second].data

    reopened.collect_garbage(grace_seconds=0)  # rewrites the pack, so its index is whole again
    fresh = VaultStore(vault_store.path, key=vault_store.key)
    assert fresh.chunks.rebuilt_packs() == []
    assert restored(fresh, base.disks[0]) == disk.snapshots[first].data


def test_a_pack_damaged_past_a_frame_loses_only_those_chunks_and_the_next_backup_heals(vault_store, lab_disk):
    disk = lab_disk(1 << 20)
    first = disk.snapshot()
    base = vault_store.back_up([("os", disk.source(first))])
    [pack] = vault_store.chunks.packs()
    last_name, last = max(pack.entries, key=lambda entry: entry[1].offset)
    with open(pack.path, "r+b") as handle:  # the last frame's header and the index both damaged
        handle.seek(last.offset)
        handle.write(b"\0" * 8)
        handle.seek(pack.size - 60)
        handle.write(b"\0")

    reopened = VaultStore(vault_store.path, key=vault_store.key, workers=2)
    assert last_name not in reopened.chunks.names()
    assert len(reopened.chunks.names()) == len(pack.entries) - 1  # the frames before the damage are served
    assert list(reopened.verify().affected_points) == [base.id]
    second = disk.snapshot()
    point = reopened.back_up([("os", disk.source(second, first))], previous=base)
    assert point.healed_chunks == sum(1 for name in base.disks[0].chunks if name == last_name)
    assert restored(reopened, point.disks[0]) == disk.snapshots[second].data
