"""Atomic publish: an interrupted backup (exception, killed worker, full disk) leaves no point and breaks nothing."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import time

import pytest

from tests.fixtures.store import TEST_CHUNK, chunk_files, leftover_temp_files, restored
from vaultstore import MemorySink, MemorySource, StoreFullError, StoreKey, VaultStore
from vaultstore import session as session_module


class FailingSource(MemorySource):
    """Fails (like a fabric 5xx) after ``good_reads`` reads."""

    def __init__(self, data: bytes, good_reads: int) -> None:
        super().__init__(data)
        self.good_reads = good_reads

    def read(self, offset: int, length: int) -> bytes:
        if len(self.read_log) >= self.good_reads:
            raise ConnectionError("503 Server Busy from the fabric")
        return super().read(offset, length)


def test_exception_after_some_chunks_leaves_no_point_and_next_backup_works(vault_store):
    data = os.urandom(64 * TEST_CHUNK)
    vault_store.read_batch = 4 * TEST_CHUNK  # several reads, so some chunks are written before the failure
    with pytest.raises(ConnectionError):
        vault_store.back_up([("os", FailingSource(data, good_reads=3))])
    assert vault_store.point_ids() == []
    assert leftover_temp_files(vault_store) == [] and chunk_files(vault_store) == []  # its staged chunks were dropped
    assert list(vault_store.pending_dir.iterdir()) == []
    point = vault_store.back_up([("os", MemorySource(data))])
    assert restored(vault_store, point.disks[0]) == data
    assert vault_store.verify().ok


def test_failure_while_writing_the_point_file_leaves_nothing_visible(vault_store, monkeypatch):
    real = session_module.atomic_write

    def crash_on_point(path, data, **kwargs):
        if path.parent == vault_store.points_dir:
            raise OSError(errno.EIO, "I/O error")
        return real(path, data, **kwargs)

    monkeypatch.setattr(session_module, "atomic_write", crash_on_point)
    with pytest.raises(OSError):
        vault_store.back_up([("os", MemorySource(os.urandom(4 * TEST_CHUNK)))])
    assert vault_store.point_ids() == []
    assert leftover_temp_files(vault_store) == []


def _back_up_forever(path: str, ready, secret: bytes | None) -> None:
    """A worker that writes some chunks, then hangs mid-transfer until it is killed."""
    store = VaultStore(path, key=StoreKey(secret) if secret else None, read_batch=4 * TEST_CHUNK)

    class Hanging(MemorySource):
        def read(self, offset: int, length: int) -> bytes:
            if offset >= 16 * TEST_CHUNK:
                ready.set()
                time.sleep(3600)
            return super().read(offset, length)

    store.back_up([("os", Hanging(os.urandom(64 * TEST_CHUNK)))], point_id="job-7")


def _kill_a_backup_mid_transfer(store: VaultStore) -> None:
    # spawn, not fork: the suite's process has threads (Playwright, Redis) whose locks a fork would copy held.
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    worker = context.Process(target=_back_up_forever, args=(str(store.path), ready, store.key and store.key.secret))
    worker.start()
    try:
        assert ready.wait(30)
        time.sleep(0.2)
    finally:
        worker.kill()
        worker.join(10)


def test_worker_killed_mid_transfer_leaves_no_point_and_gc_cleans_up(vault_store):
    _kill_a_backup_mid_transfer(vault_store)
    assert vault_store.point_ids() == []
    assert leftover_temp_files(vault_store), "the dead backup's staged chunks"
    assert chunk_files(vault_store) == []  # nothing was named: names appear only for durable chunks
    assert len(list(vault_store.pending_dir.iterdir())) == 1  # the dead backup's intent record
    # The kernel released the dead worker's lease: the next backup and GC do not wait for it.
    data = os.urandom(8 * TEST_CHUNK)
    point = vault_store.back_up([("os", MemorySource(data))])
    report = vault_store.collect_garbage(grace_seconds=0, timeout=5)
    assert report.pending_records_removed == 1
    assert report.temp_files_removed > 0
    assert set(chunk_files(vault_store)) == point.referenced()
    assert leftover_temp_files(vault_store) == []
    assert vault_store.verify().ok


def test_a_killed_backups_leftovers_go_as_soon_as_its_death_is_known(vault_store):
    """The reconciler knows a dead worker's job: its temp packs and pending record go then, not an hour later."""
    _kill_a_backup_mid_transfer(vault_store)
    assert leftover_temp_files(vault_store) and len(list(vault_store.pending_dir.iterdir())) == 1
    [record] = vault_store.pending_dir.iterdir()
    assert json.loads(record.read_bytes())["temps"] == leftover_temp_files(vault_store)  # each named before written

    assert vault_store.abandon("job-8") == (0, 0)  # another job's point: nothing of this one is touched
    records, temps = vault_store.abandon("job-7")
    assert records == 1 and temps >= 1
    assert leftover_temp_files(vault_store) == [] and list(vault_store.pending_dir.iterdir()) == []
    assert vault_store.point_ids() == [] and chunk_files(vault_store) == []
    data = os.urandom(8 * TEST_CHUNK)
    point = vault_store.back_up([("os", MemorySource(data))])
    assert vault_store.verify().ok and restored(vault_store, point.disks[0]) == data


class DiskFull:
    """os.write, os.pwrite and os.pwritev that fail with ENOSPC once ``budget`` bytes have been written (a tiny
    filesystem)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.real_write, self.real_pwrite, self.real_pwritev = os.write, os.pwrite, os.pwritev

    def spend(self, data) -> None:
        if len(data) > self.budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.budget -= len(data)

    def write(self, fd: int, data) -> int:
        self.spend(data)
        return self.real_write(fd, data)

    def pwrite(self, fd: int, data, offset: int) -> int:
        self.spend(data)
        return self.real_pwrite(fd, data, offset)

    def pwritev(self, fd: int, buffers, offset: int) -> int:
        self.spend(b"".join(buffers))
        return self.real_pwritev(fd, buffers, offset)

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(os, "write", self.write)
        monkeypatch.setattr(os, "pwrite", self.pwrite)
        monkeypatch.setattr(os, "pwritev", self.pwritev)


# 0: fails at once; 40 chunks: mid-transfer; 64 chunks and a bit: every chunk written, the publish fails.
@pytest.mark.parametrize("budget", [0, 40 * TEST_CHUNK, 64 * TEST_CHUNK + 200])
def test_full_disk_raises_store_full_and_leaves_nothing_half_written(vault_store, monkeypatch, budget):
    first_data = os.urandom(8 * TEST_CHUNK)
    first = vault_store.back_up([("os", MemorySource(first_data))])
    before = set(chunk_files(vault_store))
    DiskFull(budget).install(monkeypatch)
    with pytest.raises(StoreFullError) as caught:
        vault_store.back_up([("os", MemorySource(os.urandom(64 * TEST_CHUNK)))])
    monkeypatch.undo()
    error = caught.value
    assert error.code == "VaultStoreFull"
    assert "out of disk space" in str(error) and "Free space" in error.recommendation
    assert vault_store.point_ids() == [first.id]
    assert leftover_temp_files(vault_store) == []
    assert list(vault_store.pending_dir.iterdir()) == []
    assert before <= set(chunk_files(vault_store))
    # Nothing lost: the earlier point restores, and once space is back the next backup works.
    sink = MemorySink()
    vault_store.restore_disk(first.disks[0], sink)
    assert bytes(sink.data) == first_data
    assert vault_store.back_up([("os", MemorySource(os.urandom(4 * TEST_CHUNK)))])
    assert vault_store.verify().ok


def test_full_disk_when_flushing_chunks_names_nothing(vault_store, monkeypatch):
    """Delayed allocation can report ENOSPC only at sync time: still nothing named, nothing published."""
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdatasync", no_space)
    with pytest.raises(StoreFullError):
        vault_store.back_up([("os", MemorySource(os.urandom(8 * TEST_CHUNK)))])
    assert vault_store.point_ids() == []
    assert chunk_files(vault_store) == [] and leftover_temp_files(vault_store) == []
