"""Retention and garbage collection, and GC racing backups (threads and processes)."""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
import traceback

import pytest

from tests.fixtures.store import TEST_CHUNK, chunk_files
from vaultstore import MemorySink, MemorySource, StoreBusyError, StoreKey, VaultStore
from vaultstore.writer import put_chunk


def restores_to(store: VaultStore, point, data: bytes) -> bool:
    sink = MemorySink()
    store.restore_disk(point.disks[0], sink)
    return bytes(sink.data) == data


def test_gc_removes_chunks_of_deleted_points_only(vault_store):
    shared = os.urandom(TEST_CHUNK)
    old = vault_store.back_up([("os", MemorySource(shared + os.urandom(TEST_CHUNK)))])
    kept_data = shared + os.urandom(TEST_CHUNK)
    kept = vault_store.back_up([("os", MemorySource(kept_data))])
    before = vault_store.stored_bytes()
    vault_store.delete_points([old.id])
    assert vault_store.point_ids() == [kept.id]
    report = vault_store.collect_garbage(grace_seconds=0)
    assert report.chunks_deleted == 1 and report.bytes_freed > 0
    assert set(chunk_files(vault_store)) == kept.referenced()
    assert vault_store.stored_bytes() < before
    assert restores_to(vault_store, kept, kept_data)


def test_gc_keeps_recent_unreferenced_chunks_for_the_grace_period(vault_store):
    orphan = os.urandom(TEST_CHUNK)
    put_chunk(vault_store.chunks, vault_store.chunks.name_of(orphan), orphan)
    report = vault_store.collect_garbage(grace_seconds=3600)
    assert report.chunks_deleted == 0 and report.unreferenced_kept == 1
    assert vault_store.collect_garbage(grace_seconds=0).chunks_deleted == 1


class GatedSource(MemorySource):
    """Reads block at ``gate_offset`` until the test opens the gate: a backup caught mid-transfer."""

    def __init__(self, data: bytes, gate_offset: int) -> None:
        super().__init__(data)
        self.gate_offset = gate_offset
        self.reached = threading.Event()
        self.gate = threading.Event()

    def read(self, offset: int, length: int) -> bytes:
        if offset >= self.gate_offset:
            self.reached.set()
            assert self.gate.wait(30)
        return super().read(offset, length)


def test_gc_never_runs_while_a_backup_is_in_flight(vault_store):
    vault_store.read_batch = 2 * TEST_CHUNK
    base_data = os.urandom(16 * TEST_CHUNK)
    base = vault_store.back_up([("os", MemorySource(base_data))])
    # The in-flight backup re-uses base's chunks (dedup), then retention deletes base before it publishes.
    new_data = base_data[:8 * TEST_CHUNK] + os.urandom(8 * TEST_CHUNK)
    source = GatedSource(new_data, gate_offset=12 * TEST_CHUNK)
    result: dict = {}
    backup = threading.Thread(target=lambda: result.update(point=vault_store.back_up([("os", source)])))
    backup.start()
    assert source.reached.wait(10)
    vault_store.delete_points([base.id])
    with pytest.raises(StoreBusyError):
        vault_store.collect_garbage(grace_seconds=0, timeout=0.2)
    # A GC that waits gets the store only after the backup published.
    gc_report: dict = {}
    gc = threading.Thread(target=lambda: gc_report.update(report=vault_store.collect_garbage(grace_seconds=0, timeout=30)))
    gc.start()
    time.sleep(0.3)
    assert gc.is_alive() and not gc_report
    source.gate.set()
    backup.join(10)
    gc.join(10)
    point = result["point"]
    assert gc_report["report"].chunks_deleted == 8  # base's second half, which nothing names any more
    assert restores_to(vault_store, point, new_data)
    assert vault_store.verify().ok


def test_pending_records_protect_an_unpublished_backup_when_locks_are_not_shared(vault_store, monkeypatch):
    """Multi-host fallback: with a lock the filesystem does not enforce, the intent record still protects old chunks."""
    from contextlib import nullcontext

    from vaultstore import collect

    old = os.urandom(TEST_CHUNK)
    put_chunk(vault_store.chunks, vault_store.chunks.name_of(old), old)
    two_hours_ago = time.time() - 7200
    os.utime(vault_store.chunks.path(vault_store.chunks.name_of(old)), (two_hours_ago, two_hours_ago))  # an orphan past its grace
    data = old + os.urandom(TEST_CHUNK)
    session = vault_store.session()
    session.start()
    session.back_up_disk("os", MemorySource(data))  # dedups against the old orphan
    session._pending.write(session.disks[0].referenced())  # what publish writes before the point file
    monkeypatch.setattr(collect, "lease", lambda *args, **kwargs: nullcontext())
    assert collect.collect_garbage(vault_store, grace_seconds=3600).chunks_deleted == 0
    point = session.publish(consistency="crash")
    assert restores_to(vault_store, point, data)


def _churn_backups(store: VaultStore, pool: list[bytes], seed: int, rounds: int, failures: list) -> None:
    rng = random.Random(seed)
    mine: list[str] = []
    try:
        for _ in range(rounds):
            # Mostly chunks from a shared pool: dedup against chunks whose points retention keeps deleting.
            data = b"".join(rng.choice(pool) if rng.random() < 0.8 else os.urandom(TEST_CHUNK) for _ in range(8))
            point = store.back_up([("os", MemorySource(data))], metadata={"seed": seed})
            if not restores_to(store, point, data):
                failures.append(f"point {point.id} did not restore")
            # Retention: keep only this writer's latest point.
            store.delete_points(mine)
            mine = [point.id]
    except Exception:  # reported by the test, not lost in a thread
        failures.append(traceback.format_exc())


def _gc_loop(path: str, seconds: float, secret: bytes | None) -> None:
    store = VaultStore(path, key=StoreKey(secret) if secret else None)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        store.collect_garbage(grace_seconds=0, timeout=None)


def test_gc_racing_backups_in_threads_and_another_process_never_loses_a_chunk(vault_store):
    pool = [os.urandom(TEST_CHUNK) for _ in range(12)]
    # spawn, not fork: the suite's process has threads (Playwright, Redis) whose locks a fork would copy held.
    context = multiprocessing.get_context("spawn")
    gc_process = context.Process(target=_gc_loop, args=(str(vault_store.path), 2.0, vault_store.key and vault_store.key.secret))
    gc_process.start()
    failures: list = []
    writers = [threading.Thread(target=_churn_backups, args=(vault_store, pool, seed, 25, failures)) for seed in (1, 2)]
    gc_thread = threading.Thread(target=lambda: [vault_store.collect_garbage(grace_seconds=0, timeout=None) for _ in range(40)])
    for thread in (*writers, gc_thread):
        thread.start()
    for thread in (*writers, gc_thread):
        thread.join(60)
    gc_process.join(30)
    assert gc_process.exitcode == 0
    assert failures == [], failures[0] if failures else ""
    report = vault_store.verify()
    assert report.ok, report.summary()
    assert len(vault_store.point_ids()) == 2


def test_gc_rewrites_a_pack_only_once_enough_of_it_is_dead(vault_store):
    """One dead chunk among ten is not worth copying nine live ones for; past the threshold it is."""
    doomed = vault_store.back_up([("os", MemorySource(os.urandom(TEST_CHUNK)))])
    vault_store.delete_points([doomed.id])
    report = vault_store.collect_garbage(grace_seconds=0)
    assert report.packs_deleted == 1 and report.dead_waiting == 0  # a pack that is all dead simply goes

    chunks = [os.urandom(TEST_CHUNK) for _ in range(10)]
    base = vault_store.back_up([("os", MemorySource(b"".join(chunks)))])  # one pack of ten chunks
    survivor = vault_store.back_up([("os", MemorySource(b"".join(chunks[1:])))])  # nine of them, deduplicated
    vault_store.delete_points([base.id])
    report = vault_store.collect_garbage(grace_seconds=0)
    assert report.dead_waiting == 1 and report.chunks_deleted == 0 and report.packs_rewritten == 0  # 10% < 20%
    assert restores_to(vault_store, survivor, b"".join(chunks[1:]))

    report = vault_store.collect_garbage(grace_seconds=0, repack_threshold=0.05)
    assert report.packs_rewritten == 1 and report.chunks_deleted == 1 and report.bytes_freed > 0
    assert set(chunk_files(vault_store)) == survivor.referenced()
    assert restores_to(vault_store, survivor, b"".join(chunks[1:]))
    assert vault_store.verify().ok
