"""The engine's progress in bytes, which the jobs' rates and times left are computed from: replication counts the
stored bytes it copies, and the digest proof of a restored disk counts the bytes it reads back."""

from __future__ import annotations

import os

from tests.fixtures.store import TEST_CHUNK
from vaultstore import MemoryDisk, MemorySink, MemorySource, measure_digest


def test_replication_reports_the_stored_bytes_it_copies(vault_store, secondary_store):
    disk = MemoryDisk(6 * TEST_CHUNK)
    for index in range(5):
        disk.write(index * TEST_CHUNK, os.urandom(TEST_CHUNK))
    first = vault_store.back_up([("os", disk.source(disk.snapshot()))])
    disk.write(5 * TEST_CHUNK, os.urandom(TEST_CHUNK))
    vault_store.back_up([("os", disk.source(disk.snapshot()))], previous=first)
    seen: list[tuple[int, int]] = []
    report = vault_store.replicate_to(secondary_store, progress=lambda done, total: seen.append((done, total)))
    assert len(report.points_copied) == 2 and report.bytes_copied > 5 * TEST_CHUNK // 2
    assert {total for _, total in seen} == {report.bytes_copied}  # known before the first byte moved
    dones = [done for done, _ in seen]
    assert dones == sorted(dones) and dones[-1] == report.bytes_copied and len(dones) >= 3
    # Nothing left to copy: the total is zero, and so is what is reported.
    again: list[tuple[int, int]] = []
    vault_store.replicate_to(secondary_store, progress=lambda done, total: again.append((done, total)))
    assert all(pair == (0, 0) for pair in again)


def test_the_digest_proof_reports_the_bytes_it_reads_back(vault_store):
    disk = MemoryDisk(8 * TEST_CHUNK)
    for index in (0, 1, 2, 5):
        disk.write(index * TEST_CHUNK, os.urandom(TEST_CHUNK))
    point = vault_store.back_up([("os", disk.source(disk.snapshot()))])
    [manifest] = point.disks
    sink = MemorySink()
    vault_store.restore_disk(manifest, sink)
    seen: list[tuple[int, int]] = []
    # The restored blob holds data where the disk did: chunks 0-2 and 5 (a page blob lists those ranges).
    written = MemorySource(bytes(sink.data), valid=[(0, 3 * TEST_CHUNK), (5 * TEST_CHUNK, 6 * TEST_CHUNK)])
    digest = measure_digest(written, manifest.chunk_size, workers=2,
                            read_batch=manifest.chunk_size, name_of=vault_store.chunks.name_of,
                            progress=lambda done, total: seen.append((done, total)))
    assert digest == manifest.digest
    dones = [done for done, _ in seen]
    assert dones == sorted(dones) and len(dones) >= 2
    assert seen[-1] == (4 * TEST_CHUNK, 4 * TEST_CHUNK)
