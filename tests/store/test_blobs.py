"""The page-blob adapters, against an in-memory stand-in for PageBlobClient."""

from __future__ import annotations

import os

import pytest

from tests.fixtures.store import TEST_CHUNK, restored
from vaultstore import MemoryDisk, PageBlobSink, PageBlobSource


class FakePageBlobs:
    """The PageBlobClient calls the adapters make, served from MemoryDisks; records every call."""

    def __init__(self) -> None:
        self.blobs: dict[str, MemoryDisk] = {}
        self.calls: list[tuple] = []

    def create(self, url: str, size: int) -> None:
        self.calls.append(("create", url, size))
        self.blobs[url] = MemoryDisk(size)

    def write_pages(self, url: str, offset: int, data) -> None:
        data = b"".join(data) if isinstance(data, list) else data
        self.calls.append(("write_pages", url, offset, len(data)))
        self.blobs[url].write(offset, data)

    def snapshot(self, url: str) -> str:
        return self.blobs[url].snapshot()

    def release(self, url: str, snapshot: str) -> None:
        del self.blobs[url].snapshots[snapshot]

    def snapshot_exists(self, url: str, snapshot: str | None) -> bool:
        self.calls.append(("snapshot_exists", url, snapshot))
        return snapshot is not None and url in self.blobs and snapshot in self.blobs[url].snapshots

    def size(self, url: str, snapshot: str | None = None) -> int:
        return self.blobs[url].size

    def page_ranges(self, url: str, snapshot: str | None = None, prev_snapshot: str | None = None):
        self.calls.append(("page_ranges", url, snapshot, prev_snapshot))
        disk = self.blobs[url]
        return disk.changed_between(prev_snapshot, snapshot) if prev_snapshot else disk.valid_ranges(snapshot)

    def read(self, url: str, offset: int, length: int, snapshot: str | None = None) -> bytes:
        self.calls.append(("read", url, offset, length, snapshot))
        return self.blobs[url].snapshots[snapshot].data[offset:offset + length]

    def read_into(self, url: str, offset: int, buffer: memoryview, snapshot: str | None = None) -> int:
        data = self.read(url, offset, len(buffer), snapshot)
        buffer[:len(data)] = data
        return len(data)


def test_back_up_a_page_blob_and_restore_it_into_a_new_one(vault_store):
    client = FakePageBlobs()
    url = "http://fabric/vhds/web01-os.vhd"
    client.create(url, 10 << 20)
    client.write_pages(url, 0, os.urandom(5 << 20))
    client.write_pages(url, 8 << 20, os.urandom(TEST_CHUNK))
    first = client.snapshot(url)
    base = vault_store.back_up([("os", PageBlobSource(client, url, first))])
    client.write_pages(url, 8 << 20, os.urandom(1024))
    second = client.snapshot(url)
    client.calls.clear()
    point = vault_store.back_up([("os", PageBlobSource(client, url, second, prev_snapshot=first))], previous=base)
    assert ("page_ranges", url, second, first) in client.calls
    assert [call for call in client.calls if call[0] == "read"] == [("read", url, 8 << 20, 1024, second)]

    target = "http://fabric/vhds/web01-restored-os.vhd"
    client.calls.clear()
    vault_store.restore_disk(point.disks[0], PageBlobSink(client, target))
    assert client.blobs[target].data == client.blobs[url].snapshots[second].data
    writes = [call for call in client.calls if call[0] == "write_pages"]
    assert client.calls[0] == ("create", target, 10 << 20)
    assert all(offset % 512 == 0 and 0 < length <= 4 << 20 for _, _, offset, length in writes)
    # Zeros are never sent: only the 5 MiB of data and one chunk are written.
    assert sum(length for *_, length in writes) == (5 << 20) + TEST_CHUNK


def _backed_up_then_written(vault_store):
    """A disk backed up at snapshot ``first``, then written to and snapshotted again (``second``)."""
    client = FakePageBlobs()
    url = "http://fabric/vhds/web01-os.vhd"
    client.create(url, 1 << 20)
    client.write_pages(url, 0, os.urandom(256 << 10))
    first = client.snapshot(url)
    base = vault_store.back_up([("os", PageBlobSource(client, url, first))])
    client.write_pages(url, 0, os.urandom(1024))
    return client, url, first, client.snapshot(url), base


def test_a_released_previous_snapshot_makes_the_next_backup_full(vault_store):
    client, url, first, second, base = _backed_up_then_written(vault_store)
    client.release(url, first)
    client.calls.clear()
    point = vault_store.back_up([("os", PageBlobSource(client, url, second, prev_snapshot=first))], previous=base)
    # The diff against a snapshot that is gone cannot be asked for: every valid range is read again.
    assert ("snapshot_exists", url, first) in client.calls
    assert not [call for call in client.calls if call[0] == "page_ranges" and call[3] is not None]
    assert point.disks[0].incremental is False
    assert point.disks[0].read_bytes == 256 << 10


def test_a_previous_point_of_another_snapshot_is_no_base_for_the_diff(vault_store):
    client, url, first, second, base = _backed_up_then_written(vault_store)
    client.write_pages(url, 512 << 10, os.urandom(1024))
    third = client.snapshot(url)
    # The diff offered is since `second`, but the previous point holds `first`: the changes in between would be lost.
    point = vault_store.back_up([("os", PageBlobSource(client, url, third, prev_snapshot=second))], previous=base)
    assert point.disks[0].incremental is False
    restored_disk = restored(vault_store, point.disks[0])
    assert restored_disk == client.blobs[url].snapshots[third].data


def test_a_run_of_pieces_is_regrouped_into_put_pages_of_at_most_4_mib():
    client = FakePageBlobs()
    url = "http://fabric/vhds/pieces.vhd"
    sink = PageBlobSink(client, url)
    sink.begin(16 << 20)
    pieces = [os.urandom(size) for size in (3 << 20, 3 << 20, 512, (2 << 20) - 512, 5 << 20)]
    client.calls.clear()
    sink.write(1 << 20, pieces)
    writes = [(offset, length) for _, _, offset, length in client.calls]
    assert writes == [(1 << 20, 4 << 20), (5 << 20, 4 << 20), (9 << 20, 4 << 20), (13 << 20, 1 << 20)]
    assert client.blobs[url].data[1 << 20:14 << 20] == b"".join(pieces)
    with pytest.raises(ValueError, match="aligned"):
        sink.write(0, [b"x" * 100])


class Busy(Exception):
    transient = True


class Refused(Exception):
    transient = False


def test_transient_fabric_errors_are_retried_and_others_are_not(vault_store, monkeypatch):
    from vaultstore import blobs

    monkeypatch.setattr(blobs, "RETRY_DELAYS", (0.0, 0.0))
    client = FakePageBlobs()
    url = "http://fabric/vhds/db01-data0.vhd"
    client.create(url, 1 << 20)
    client.write_pages(url, 0, os.urandom(64 << 10))
    snapshot = client.snapshot(url)
    real_read = client.read
    failures = iter([Busy("503 ServerBusy"), Busy("connection reset")])

    def flaky_read(*args, **kwargs):
        problem = next(failures, None)
        if problem is not None:
            raise problem
        return real_read(*args, **kwargs)

    client.read = flaky_read
    point = vault_store.back_up([("os", PageBlobSource(client, url, snapshot))])
    assert point.disks[0].data_bytes == 64 << 10

    def refusing_read(*args, **kwargs):
        raise Refused("404 BlobNotFound")

    client.read = refusing_read
    with pytest.raises(Refused):
        vault_store.back_up([("os", PageBlobSource(client, url, snapshot))])
