"""Random writes, clears, snapshots and diffs always agree with a plain in-memory model of the disk.

One property drives the HTTP API of the running fabric; one drives the store
directly, many more times, and also reopens it from its journal.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabric.disks import EXTENT, PAGE, Body, DiskError, DiskStore
from vaults.cloud.pageblob import PageBlobClient

SIZE = 4 * EXTENT  # small, but four extents: writes straddle extent boundaries
PAGES = SIZE // PAGE
counter = itertools.count()

write = st.tuples(st.just("write"), st.integers(0, PAGES - 1), st.integers(1, 160), st.integers(1, 255))
clear = st.tuples(st.just("clear"), st.integers(0, PAGES - 1), st.integers(1, 160), st.just(0))
snap = st.tuples(st.just("snapshot"), st.just(0), st.just(0), st.just(0))
drop = st.tuples(st.just("delete"), st.integers(0, 5), st.just(0), st.just(0))
programs = st.lists(st.one_of(write, write, clear, snap, snap, drop), min_size=1, max_size=18)


def model_ranges(valid: set[int], touched: set[int] | None = None) -> list[tuple[int, int, bool]]:
    """Valid pages, or the pages touched since a snapshot, as merged (start, end, holds-data) byte ranges."""
    ranges: list[tuple[int, int, bool]] = []
    for page in sorted(valid if touched is None else touched):
        start, kind = page * PAGE, page in valid
        if ranges and ranges[-1][1] == start and ranges[-1][2] == kind:
            ranges[-1] = (ranges[-1][0], start + PAGE, kind)
        else:
            ranges.append((start, start + PAGE, kind))
    return ranges


def pairs(ranges: list[tuple[int, int, bool]]) -> list[tuple[int, int]]:
    return [(start, end) for start, end, _ in ranges]


class Model:
    """The disk as a bytearray, with valid pages and the pages touched since each snapshot."""

    def __init__(self) -> None:
        self.data = bytearray(SIZE)
        self.valid: set[int] = set()
        self.snapshots: dict[str, tuple[bytes, set[int]]] = {}
        self.touched: dict[str, set[int]] = {}

    def apply(self, kind: str, first: int, count: int, fill: int) -> tuple[int, int] | None:
        count = min(count, PAGES - first)
        pages = range(first, first + count)
        self.data[first * PAGE:(first + count) * PAGE] = bytes([fill]) * (count * PAGE)
        # Clearing pages that hold no data changes nothing, so a diff leaves them out.
        changed = set(pages) if kind == "write" else self.valid.intersection(pages)
        if kind == "write":
            self.valid.update(pages)
        else:
            self.valid.difference_update(pages)
        for touched in self.touched.values():
            touched.update(changed)
        return first * PAGE, count * PAGE


def run_program(program, write_pages, clear_pages, take_snapshot, delete_snapshot, check) -> Model:
    model = Model()
    for kind, first, count, fill in program:
        if kind in ("write", "clear"):
            offset, length = model.apply(kind, first, count, fill)
            if kind == "write":
                write_pages(offset, bytes([fill]) * length)
            else:
                clear_pages(offset, length)
        elif kind == "snapshot":
            sid = take_snapshot()
            model.snapshots[sid] = (bytes(model.data), set(model.valid))
            model.touched[sid] = set()
        elif kind == "delete" and model.snapshots:
            sid = sorted(model.snapshots)[first % len(model.snapshots)]
            delete_snapshot(sid)
            del model.snapshots[sid], model.touched[sid]
        check(model)
    return model


def changed_ranges(model: Model, sid: str) -> list[tuple[int, int, bool]]:
    return model_ranges(model.valid, model.touched[sid])


@pytest.mark.integration
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs)
def test_http_disk_agrees_with_model(own_fabric, program):
    disks = PageBlobClient()
    url = f"{own_fabric.base_url}/labstorewestus/model/disk-{next(counter)}.vhd"
    disks.create(url, SIZE)

    def check(model: Model) -> None:
        assert disks.read(url, 0, SIZE) == model.data
        assert disks.page_ranges(url) == pairs(model_ranges(model.valid))
        for sid, (data, valid) in model.snapshots.items():
            assert disks.read(url, 0, SIZE, snapshot=sid) == data
            assert disks.page_ranges(url, snapshot=sid) == pairs(model_ranges(valid))
            assert disks.page_ranges(url, prev_snapshot=sid) == pairs(changed_ranges(model, sid))

    run_program(program, lambda o, d: disks.write_pages(url, o, d), lambda o, n: disks.clear_pages(url, o, n),
                lambda: disks.snapshot(url), lambda sid: disks.delete_snapshot(url, sid), check)


@settings(max_examples=150, deadline=None)
@given(program=programs, reopen=st.booleans())
def test_store_agrees_with_model_and_survives_reopening(tmp_path_factory, program, reopen):
    root = tmp_path_factory.mktemp("disks")
    store = DiskStore(root)
    blob = store.create("acct/c/disk.vhd", SIZE)
    names = itertools.count()

    def snapshot() -> str:
        sid = f"s{next(names):03d}"
        blob.snapshot(sid)
        return sid

    def check(model: Model) -> None:
        current = store.get("acct/c/disk.vhd")
        assert b"".join(current.read_chunks(0, SIZE)) == model.data
        assert current.page_ranges() == model_ranges(model.valid)
        for sid, (data, _valid) in model.snapshots.items():
            assert b"".join(current.read_chunks(0, SIZE, sid)) == data
            assert current.page_ranges(None, sid) == changed_ranges(model, sid)

    model = run_program(program, blob.write, blob.clear, snapshot, blob.delete_snapshot, check)
    if reopen:
        # Forget everything in memory: the next get() rebuilds the blob from its journal.
        store.close()
        check(model)
    store.close()


@pytest.mark.parametrize("failure", ["no O_DIRECT", "EINVAL"])
def test_disk_bytes_fall_back_to_the_page_cache_when_direct_io_is_refused(tmp_path, monkeypatch, failure):
    """tmpfs refuses O_DIRECT at open; some devices refuse an alignment at write time. Either way the bytes land."""
    import errno
    import os

    store = DiskStore(tmp_path)
    blob = store.create("acct/vhds/disk.vhd", 4 * EXTENT)
    if failure == "no O_DIRECT":
        blob._direct = -1
    else:
        real = os.pwrite

        def refuse_direct(fd, data, pos):
            if fd == blob.direct_fd:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            return real(fd, data, pos)

        monkeypatch.setattr(os, "pwrite", refuse_direct)
    data = bytes(range(256)) * (2 * EXTENT // 256)
    blob.write(EXTENT, data)
    blob.write(PAGE, b"\x07" * PAGE)  # unaligned for direct I/O: always through the page cache
    assert blob.direct_fd is None
    assert b"".join(blob.read_chunks(EXTENT, 2 * EXTENT)) == data
    assert b"".join(blob.read_chunks(PAGE, PAGE)) == b"\x07" * PAGE
    store.close()


@pytest.mark.parametrize("direct", [True, False])
def test_a_body_in_uneven_pieces_lands_byte_for_byte(tmp_path, direct):
    """A Put Page body is written from the pieces it arrived in, across extents and slot runs, direct or not."""
    blob = DiskStore(tmp_path).create("acct/vhds/pieces.vhd", SIZE)
    if not direct:
        blob._direct = -1
    blob.write(2 * EXTENT, b"x" * PAGE)  # the middle extent gets the first slot: the write below lands in three runs
    data = bytes(range(251)) * (3 * EXTENT // 251 + 1)
    data = data[:3 * EXTENT]
    cuts = [0, 1, 700, 4096, 4097, EXTENT - 3, EXTENT + 5000, 2 * EXTENT, 3 * EXTENT - 1, 3 * EXTENT]
    body = Body([data[a:b] for a, b in itertools.pairwise(cuts)])
    assert len(body) == len(data)
    blob.write(EXTENT, body)
    assert b"".join(blob.read_chunks(EXTENT, 3 * EXTENT)) == data
    assert body.read(EXTENT - 10, 20) == data[EXTENT - 10:EXTENT + 10]


def test_a_deleted_snapshot_is_gone_at_once_and_its_slots_come_back_when_released(tmp_path):
    blob = DiskStore(tmp_path).create("store/vhds/detach.vhd", SIZE)
    blob.write(0, b"1" * EXTENT)
    blob.snapshot("old")
    extents = blob.detach_snapshot("old")  # what the endpoint does before it answers
    with pytest.raises(DiskError):
        blob.version("old")
    blob.write(0, b"2" * EXTENT)  # the slot still counts the snapshot's reference: the write copies it first
    assert b"".join(blob.read_chunks(0, EXTENT)) == b"2" * EXTENT
    assert blob.free_pos == []
    blob.release(extents)  # what it does after
    assert len(blob.free_pos) == 1  # the snapshot's copy of the extent is given back
    assert b"".join(blob.read_chunks(0, EXTENT)) == b"2" * EXTENT


def test_writes_landing_in_threads_keep_their_order_and_snapshots_wait_for_them(tmp_path):
    """The endpoint stages a write on the event loop and lands its bytes in a thread. A later write to the same
    extent, and a snapshot, wait until the bytes in flight have landed."""
    import threading
    import time

    blob = DiskStore(tmp_path).create("store/vhds/landing.vhd", SIZE)
    first = blob.stage_write(0, b"1" * EXTENT)
    landed = []

    def land_late() -> None:
        time.sleep(0.2)
        landed.append(time.monotonic())
        blob.land(first, b"1" * EXTENT)

    threading.Thread(target=land_late).start()
    blob.snapshot("with-first")  # waits for the first write's bytes
    assert landed and time.monotonic() >= landed[0]
    second = blob.stage_write(EXTENT // 2, b"2" * 512)  # same extent, now shared with the snapshot: forks a copy
    blob.land(second, b"2" * 512)
    assert b"".join(blob.read_chunks(0, EXTENT, "with-first")) == b"1" * EXTENT
    assert b"".join(blob.read_chunks(0, EXTENT)) == b"1" * (EXTENT // 2) + b"2" * 512 + b"1" * (EXTENT // 2 - 512)
    other = blob.stage_write(EXTENT, b"3" * EXTENT)  # another extent in flight does not hold up this one
    third = blob.stage_write(0, b"4" * 512)
    blob.land(third, b"4" * 512)
    blob.land(other, b"3" * EXTENT)
    assert b"".join(blob.read_chunks(EXTENT, EXTENT)) == b"3" * EXTENT
