"""Pack bytes bypass the page cache where the filesystem allows it, and work the same where it does not."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from tests.fixtures.store import TEST_CHUNK, restored
from vaultstore import MemorySource
from vaultstore.writer import STAGE


def is_direct(fd: int) -> bool:
    return bool(os.O_DIRECT & fcntl.fcntl(fd, fcntl.F_GETFL))


def back_up_and_restore(store, size: int) -> None:
    data = os.urandom(size // 2) + bytes(size // 4) + b"text " * (size // 20)
    data += os.urandom(size - len(data))
    point = store.back_up([("os", MemorySource(data))])
    assert restored(store, point.disks[0]) == data
    assert store.verify().ok


def test_packs_are_written_with_direct_io_in_whole_pages(vault_store, monkeypatch):
    direct_writes = []
    real_pwrite = os.pwrite

    def watching(fd, data, offset):
        if is_direct(fd):
            direct_writes.append(len(data))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", watching)
    back_up_and_restore(vault_store, 3 * STAGE)
    assert direct_writes and all(length % 4096 == 0 for length in direct_writes)


def test_without_direct_io_packs_go_through_the_page_cache(vault_store, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECT")  # a system without it (reads fall back too)
    back_up_and_restore(vault_store, 3 * STAGE)


def test_a_device_that_refuses_a_direct_write_gets_an_ordinary_one(vault_store, monkeypatch):
    real_pwrite = os.pwrite

    def refusing(fd, data, offset):
        if is_direct(fd):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", refusing)
    back_up_and_restore(vault_store, 3 * STAGE)


@pytest.mark.parametrize("chunk_factor", [1, 3])
def test_frames_larger_than_the_stage_are_written_whole(tmp_path, chunk_factor):
    from vaultstore import VaultStore

    store = VaultStore.create(tmp_path / "vault", chunk_size=chunk_factor * 2 * STAGE, workers=2)
    back_up_and_restore(store, 2 * chunk_factor * 2 * STAGE)


def test_a_device_that_refuses_a_direct_read_gets_an_ordinary_one(vault_store, monkeypatch):
    def refusing(fd, buffers, offset):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(os, "preadv", refusing)  # direct reads use preadv; ordinary ones pread
    back_up_and_restore(vault_store, 3 * STAGE)


def test_a_failing_disk_read_is_not_hidden_by_a_second_try(vault_store, monkeypatch):
    point = vault_store.back_up([("os", MemorySource(os.urandom(4 * TEST_CHUNK)))])

    def broken(fd, buffers, offset):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "preadv", broken)
    with pytest.raises(OSError) as caught:
        restored(vault_store, point.disks[0])
    assert caught.value.errno == errno.EIO
