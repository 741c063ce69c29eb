"""Pack bytes bypass the page cache where the filesystem allows it, and work the same where it does not."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from tests.fixtures.store import TEST_CHUNK, restored
from vaultstore import MemorySource
from vaultstore.writer import STAGE

# Read once: one test takes O_DIRECT away from the os module, and must still recognise it in open flags.
O_DIRECT = os.O_DIRECT


def is_direct(fd: int) -> bool:
    return bool(O_DIRECT & fcntl.fcntl(fd, fcntl.F_GETFL))


def watch_direct_opens(monkeypatch) -> list[str]:
    """The names of the files opened with O_DIRECT from now on (the pack files, when direct I/O is tried)."""
    opened: list[str] = []
    real_open = os.open

    def watching(path, flags, *args, **kwargs):
        if flags & O_DIRECT:
            opened.append(os.path.basename(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching)
    return opened


def watch_direct_writes(monkeypatch) -> list[int]:
    """The lengths of the writes made through a descriptor opened with O_DIRECT, as they happen."""
    direct_writes: list[int] = []
    real_pwrite = os.pwrite

    def watching(fd, data, offset):
        if is_direct(fd):
            direct_writes.append(len(data))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", watching)
    return direct_writes


def is_pack(name: str) -> bool:
    return ".pack" in name  # a temp pack being written (.<id>.pack.<pid>.tmp) or a named one being read


def back_up_and_restore(store, size: int) -> None:
    data = os.urandom(size // 2) + bytes(size // 4) + b"text " * (size // 20)
    data += os.urandom(size - len(data))
    point = store.back_up([("os", MemorySource(data))])
    assert restored(store, point.disks[0]) == data
    assert store.verify().ok


def test_packs_are_written_with_direct_io_in_whole_pages(vault_store, monkeypatch):
    direct_writes = watch_direct_writes(monkeypatch)
    back_up_and_restore(vault_store, 3 * STAGE)
    assert direct_writes and all(length % 4096 == 0 for length in direct_writes)


def test_packs_are_read_with_direct_io(vault_store, monkeypatch):
    direct_reads = []
    real_preadv = os.preadv

    def watching(fd, buffers, offset):
        if is_direct(fd):
            direct_reads.append((offset, sum(len(buffer) for buffer in buffers)))
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", watching)
    back_up_and_restore(vault_store, 3 * STAGE)
    assert direct_reads and all(offset % 4096 == 0 and length % 4096 == 0 for offset, length in direct_reads)


def test_without_direct_io_packs_go_through_the_page_cache(vault_store, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECT")  # a system without it (reads fall back too)
    opened_direct = watch_direct_opens(monkeypatch)
    back_up_and_restore(vault_store, 3 * STAGE)
    assert vault_store.chunks.packs()
    assert opened_direct == []


def test_a_device_that_refuses_a_direct_write_gets_an_ordinary_one(vault_store, monkeypatch):
    opened_direct = watch_direct_opens(monkeypatch)
    refused = []
    real_pwrite = os.pwrite

    def refusing(fd, data, offset):
        if is_direct(fd):
            refused.append(len(data))
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", refusing)
    back_up_and_restore(vault_store, 3 * STAGE)
    # The direct path was taken and refused: what was restored came through the ordinary writes.
    assert any(is_pack(name) and name.endswith(".tmp") for name in opened_direct)
    assert refused and sum(refused) >= STAGE


@pytest.mark.parametrize("chunk_factor", [1, 3])
def test_frames_larger_than_the_stage_are_written_whole(tmp_path, monkeypatch, chunk_factor):
    from vaultstore import VaultStore

    direct_writes = watch_direct_writes(monkeypatch)
    chunk_size = chunk_factor * 2 * STAGE
    store = VaultStore.create(tmp_path / "vault", chunk_size=chunk_size, workers=2)
    back_up_and_restore(store, 2 * chunk_size)
    # A random chunk does not compress: its frame, longer than a stage, went to the pack in one direct write.
    assert direct_writes and all(length % 4096 == 0 for length in direct_writes)
    assert max(direct_writes) >= chunk_size - 4096


def test_a_device_that_refuses_a_direct_read_gets_an_ordinary_one(vault_store, monkeypatch):
    opened_direct = watch_direct_opens(monkeypatch)
    refused = []

    def refusing(fd, buffers, offset):
        refused.append(is_direct(fd))
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(os, "preadv", refusing)  # direct reads use preadv; ordinary ones pread
    back_up_and_restore(vault_store, 3 * STAGE)
    # Every pack read tried the direct path first, and was refused: the data came from the ordinary reads.
    assert any(is_pack(name) and not name.endswith(".tmp") for name in opened_direct)
    assert refused and all(refused)


def test_a_failing_disk_read_is_not_hidden_by_a_second_try(vault_store, monkeypatch):
    point = vault_store.back_up([("os", MemorySource(os.urandom(4 * TEST_CHUNK)))])
    tried = []

    def broken(fd, buffers, offset):
        tried.append(is_direct(fd))
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "preadv", broken)
    with pytest.raises(OSError) as caught:
        restored(vault_store, point.disks[0])
    assert caught.value.errno == errno.EIO
    # The error is the direct read's own: the read that failed was the one on the O_DIRECT descriptor.
    assert tried and all(tried)
