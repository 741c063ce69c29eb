"""Page blobs with copy-on-write snapshots: the bytes behind every lab disk.

On-disk format of one blob (a directory):

* ``data``: a sparse file of fixed 64 KiB *slots*. A slot holds one extent of
  the blob (or of a snapshot); slots freed by a deleted snapshot are punched
  out and reused.
* ``journal``: one JSON line per metadata change (create, write, clear,
  snapshot, delete snapshot). Replaying it rebuilds the extent maps; bytes
  already sit in ``data``, so replay never copies or punches.

In memory each blob has a *head* map (extent index -> slot id) and one frozen
map per snapshot. Every slot keeps a bitmap of its valid 512-byte pages, a
bitmap of the pages written since it was forked, its parent slot and a
reference count. A snapshot copies the head map and bumps reference counts:
O(written extents), never O(disk size), and no byte is copied. The first
write to a shared extent forks it (one 64 KiB copy). A diff between two
versions walks each differing extent's parent chain and ORs the written
bitmaps, so it reports exactly the 512-byte pages written in between (a page
rewritten with identical bytes still counts as changed; clearing pages that
hold no data changes nothing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import mmap
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PAGE = 512
MAX_SIZE = 8 * 1024**4  # 8 TiB: the largest page blob the storage service creates
EXTENT = 64 * 1024
PAGES_PER_EXTENT = EXTENT // PAGE
FULL = (1 << PAGES_PER_EXTENT) - 1
ZEROS = bytes(4 * 1024 * 1024)
ZERO_VIEW = memoryview(ZEROS)  # slices of it cost nothing: unwritten extents are served from here
# Disk bytes bypass the page cache (O_DIRECT) wherever a piece is aligned, which is nearly always: a lab holds
# several disks of many GiB that are written once and read once per backup, and filling the page cache with
# them cost ~2.8 s of kernel CPU per GiB written here (~1.9 s per GiB read cold), against ~0.1 s for direct I/O.
# Unaligned pieces, and filesystems without O_DIRECT (tmpfs), use ordinary reads and writes; the kernel keeps
# the two coherent.
DIRECT_ALIGN = 4096
DIRECT_BUFFER = 4 * 1024 * 1024
GROW_STEP = 256 * 1024 * 1024
_buffers = threading.local()


def aligned_buffer() -> mmap.mmap:
    """This thread's page-aligned buffer for direct I/O (anonymous mappings start on a page)."""
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = mmap.mmap(-1, DIRECT_BUFFER)
    return buffer


def direct_ok(pos: int, length: int) -> bool:
    return pos % DIRECT_ALIGN == 0 and length % DIRECT_ALIGN == 0 and 0 < length <= DIRECT_BUFFER


class Body:
    """Bytes to write, kept in the pieces they arrived in (a request body): each byte is copied once, straight
    into the buffer the disk takes it from. Joining a 4 MiB body first cost another copy on the event loop."""

    def __init__(self, pieces: Sequence[bytes | memoryview]) -> None:
        self.pieces = [memoryview(piece).cast("B") for piece in pieces if len(piece)]
        self.length = sum(len(piece) for piece in self.pieces)

    def __len__(self) -> int:
        return self.length

    def copy_into(self, target: memoryview | mmap.mmap, start: int, count: int) -> None:
        """``target[:count] = self[start:start + count]``."""
        filled = 0
        for piece in self.pieces:
            if start >= len(piece):
                start -= len(piece)
                continue
            part = piece[start:start + count - filled]
            target[filled:filled + len(part)] = part
            filled, start = filled + len(part), 0
            if filled == count:
                return

    @classmethod
    def of(cls, data: bytes | memoryview | Body) -> Body:
        return data if isinstance(data, Body) else cls((data,))

    def read(self, start: int, count: int) -> bytearray:
        target = bytearray(count)
        self.copy_into(memoryview(target), start, count)
        return target


class DiskError(Exception):
    """A refused page-blob request, carrying the storage service's status and code.

    ``header`` names the offending header and its value; ``details`` are further elements of the error body
    (``QueryParameterName``, ``MaxLimit``...), in the order the storage service writes them.
    """

    def __init__(self, status: int, code: str, message: str, header: tuple[str, str] | None = None,
                 details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.header = status, code, message, header
        self.details = details or {}


@dataclass
class Slot:
    pos: int  # byte offset in the data file
    parent: int | None = None
    valid: int = 0
    written: int = 0
    refs: int = 0


def page_mask(first: int, last: int) -> int:
    """Bits first..last (inclusive) set."""
    return ((1 << (last - first + 1)) - 1) << first


def bit_runs(bits: int) -> Iterator[tuple[int, int]]:
    """(first, last) inclusive runs of set bits, lowest first."""
    index = 0
    while bits:
        zeros = (bits & -bits).bit_length() - 1
        bits >>= zeros
        index += zeros
        ones = (~bits & (bits + 1)).bit_length() - 1
        yield index, index + ones - 1
        bits >>= ones
        index += ones


@dataclass
class WriteRuns:
    """Where a staged write's bytes go (``Blob.stage_write``), and the extents it holds in flight."""

    pieces: list[list[int]]
    extents: range


@dataclass
class Blob:
    path: Path
    size: int = 0
    head: dict[int, int] = field(default_factory=dict)
    snapshots: dict[str, tuple[int, dict[int, int]]] = field(default_factory=dict)
    slots: dict[int, Slot] = field(default_factory=dict)
    free_pos: list[int] = field(default_factory=list)
    next_slot: int = 0
    next_pos: int = 0
    replaying: bool = False
    _data: int | None = None
    _direct: int | None = None  # -1: the filesystem refuses O_DIRECT
    _length: int | None = None  # of the data file, once known
    _journal: object = None
    # Bytes of staged writes still on their way to ``data`` (a thread writes them): extent index -> writes.
    _landing: dict[int, int] = field(default_factory=dict)
    _landed: threading.Condition = field(default_factory=threading.Condition)

    # --- files -----------------------------------------------------------

    @property
    def data_fd(self) -> int:
        if self._data is None:
            self._data = os.open(self.path / "data", os.O_RDWR | os.O_CREAT, 0o600)
        return self._data

    @property
    def direct_fd(self) -> int | None:
        if self._direct is None:
            try:
                self._direct = os.open(self.path / "data", os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
            except (OSError, AttributeError):  # refused by the filesystem, or no O_DIRECT on this system
                self._direct = -1
        return self._direct if self._direct >= 0 else None

    def pwrite(self, data: bytes | memoryview | Body, pos: int, start: int = 0, count: int | None = None) -> None:
        """Write ``data[start:start + count]`` (all of it by default) at ``pos``: direct when aligned, else
        through the page cache."""
        body = Body.of(data)
        count = len(body) - start if count is None else count
        fd = self.direct_fd
        if fd is not None and direct_ok(pos, count):
            buffer = aligned_buffer()
            body.copy_into(buffer, start, count)
            try:
                if os.pwrite(fd, memoryview(buffer)[:count], pos) == count:
                    return
            except OSError:  # EINVAL: this filesystem or device wants another alignment
                self._no_direct()
        os.pwrite(self.data_fd, body.read(start, count), pos)

    def pread(self, length: int, pos: int) -> bytes:
        fd = self.direct_fd
        if fd is not None and direct_ok(pos, length):
            buffer = aligned_buffer()
            try:
                got = os.preadv(fd, [memoryview(buffer)[:length]], pos)
                return buffer[:got]
            except OSError:
                self._no_direct()
        return os.pread(self.data_fd, length, pos)

    def _no_direct(self) -> None:
        """Direct I/O failed here: use the page cache from now on."""
        fd, self._direct = self._direct, -1
        if fd is not None and fd >= 0:
            os.close(fd)

    def log(self, record: list) -> None:
        if self.replaying:
            return
        if self._journal is None:
            self._journal = open(self.path / "journal", "a", encoding="ascii")  # noqa: SIM115 - kept open with the blob
        self._journal.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._journal.flush()

    def close(self) -> None:
        self.settle()  # no thread may still write through the descriptors closed here
        if self._data is not None:
            os.close(self._data)
            self._data = None
        if self._direct is not None:
            if self._direct >= 0:
                os.close(self._direct)
            self._direct = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # --- slots -----------------------------------------------------------

    def _new_slot(self, parent: int | None) -> int:
        pos = self.free_pos.pop() if self.free_pos else self._grow()
        slot_id = self.next_slot
        self.next_slot += 1
        self.slots[slot_id] = Slot(pos=pos, parent=parent, refs=1)
        return slot_id

    def _grow(self) -> int:
        pos = self.next_pos
        self.next_pos += EXTENT
        if not self.replaying:
            # Keep the file at least as long as its slots, so a read of a partly written slot never comes back
            # short. It grows (sparse) by GROW_STEP at a time: a truncate per slot waited for every direct write
            # in flight on the file.
            if self._length is None:
                self._length = os.fstat(self.data_fd).st_size
            if self.next_pos > self._length:
                self._length = self.next_pos + GROW_STEP
                os.ftruncate(self.data_fd, self._length)
        return pos

    def _release(self, slot_id: int) -> None:
        slot = self.slots[slot_id]
        slot.refs -= 1
        if slot.refs == 0:
            # The slot's bitmaps stay: a younger slot's parent chain may pass
            # through it when a diff is asked. Only its bytes go.
            self.free_pos.append(slot.pos)
            if not self.replaying:
                punch_hole(self.data_fd, slot.pos, EXTENT)
            slot.pos = -1

    def _writable(self, index: int) -> Slot:
        """The head's slot for extent ``index``, forked first if a snapshot shares it."""
        slot_id = self.head.get(index)
        if slot_id is None:
            self.head[index] = self._new_slot(None)
            return self.slots[self.head[index]]
        slot = self.slots[slot_id]
        if slot.refs == 1:
            return slot
        fork_id = self._new_slot(slot_id)
        fork = self.slots[fork_id]
        fork.valid = slot.valid
        if not self.replaying:
            self.pwrite(self.pread(EXTENT, slot.pos), fork.pos)
        slot.refs -= 1
        self.head[index] = fork_id
        return fork

    # --- operations ------------------------------------------------------

    def check_range(self, offset: int, length: int, header: str = "x-ms-range") -> None:
        if offset % PAGE or length % PAGE or length <= 0:
            value = f"bytes={offset}-{offset + length - 1}"
            raise DiskError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                            (header, value))
        if offset + length > self.size:
            raise DiskError(416, "InvalidPageRange", "The page range specified is invalid.")

    def write(self, offset: int, data: bytes | memoryview | Body) -> None:
        self.land(self.stage_write(offset, data), data)

    def stage_write(self, offset: int, data: bytes | memoryview | Body) -> WriteRuns:
        """The map half of a write (slots, bitmaps, journal), made on the thread that owns the maps.

        The bytes follow with ``land``, which may run in another thread, so the
        event loop goes on with other requests while the disk takes them. Until
        they have landed, their extents count as in flight: a later write or
        clear touching them first waits (``settle``), so writes land in order,
        and a snapshot waits for all, so neither it nor the copy a fork makes
        of a shared extent ever misses bytes.
        """
        self.check_range(offset, len(data))
        extents = range(offset // EXTENT, (offset + len(data) - 1) // EXTENT + 1)
        self.settle(extents)
        runs = WriteRuns(self._apply(offset, len(data), True), extents)
        self.log(["w", offset, len(data)])
        with self._landed:
            for index in extents:
                self._landing[index] = self._landing.get(index, 0) + 1
        return runs

    def land(self, runs: WriteRuns, data: bytes | memoryview | Body) -> None:
        """Write a staged write's bytes (any thread)."""
        try:
            body = Body.of(data)
            for pos, start, count in runs.pieces:
                self.pwrite(body, pos, start, count)
        finally:
            with self._landed:
                for index in runs.extents:
                    if self._landing[index] == 1:
                        del self._landing[index]
                    else:
                        self._landing[index] -= 1
                self._landed.notify_all()

    def settle(self, extents: range | None = None) -> None:
        """Wait until no staged bytes of these extents (of any, when None) are still to land."""
        with self._landed:
            if extents is None:
                self._landed.wait_for(lambda: not self._landing)
            else:
                self._landed.wait_for(lambda: not any(index in self._landing for index in extents))

    def clear(self, offset: int, length: int) -> None:
        self.check_range(offset, length)
        self.settle(range(offset // EXTENT, (offset + length - 1) // EXTENT + 1))
        self._apply(offset, length, False)
        self.log(["c", offset, length])

    def _apply(self, offset: int, length: int, write: bool) -> list[list[int]]:
        """Update the maps for a write or a clear (``write`` False); a clear also zeroes its pages. Returns where
        a write's bytes go: [position in ``data``, start in the request, length] pieces."""
        end = offset + length
        if not write and length > 64 * EXTENT:
            # A large clear visits only the extents that exist, not every extent of the range.
            for index in sorted(i for i in self.head if offset // EXTENT <= i <= (end - 1) // EXTENT):
                start = max(offset, index * EXTENT)
                self._apply(start, min(end, (index + 1) * EXTENT) - start, False)
            return []
        runs: list[list[int]] = []  # [position in data, start in the request, length]: writes to make
        while offset < end:
            index, within = divmod(offset, EXTENT)
            chunk = min(EXTENT - within, end - offset)
            first, last = within // PAGE, (within + chunk) // PAGE - 1
            mask = page_mask(first, last)
            if not write:
                # Clearing pages that hold no data changes nothing: no fork, and
                # they do not show up in a diff.
                current = self.head.get(index)
                mask &= self.slots[current].valid if current is not None else 0
                if not mask:
                    offset += chunk
                    continue
            slot = self._writable(index)
            if not self.replaying:
                if not write:
                    os.pwrite(self.data_fd, ZEROS[:chunk], slot.pos + within)
                else:
                    start = offset - (end - length)
                    if runs and runs[-1][0] + runs[-1][2] == slot.pos + within and runs[-1][1] + runs[-1][2] == start \
                            and runs[-1][2] + chunk <= DIRECT_BUFFER:
                        runs[-1][2] += chunk  # this extent's slot follows the previous one's: one write for both
                    else:
                        runs.append([slot.pos + within, start, chunk])
            slot.valid = slot.valid | mask if write else slot.valid & ~mask
            slot.written |= mask
            offset += chunk
        return runs

    def snapshot(self, snapshot_id: str) -> None:
        self.settle()
        for slot_id in self.head.values():
            self.slots[slot_id].refs += 1
        self.snapshots[snapshot_id] = (self.size, dict(self.head))
        self.log(["s", snapshot_id])

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.release(self.detach_snapshot(snapshot_id))

    def detach_snapshot(self, snapshot_id: str) -> dict[int, int]:
        """Forget the snapshot (reads of it now answer 404) and return its extent map, for ``release``.

        Until released its slots keep one reference too many, so a write to one of them copies it first: safe,
        only slower. Giving back a big disk's slots is one step per extent, so the page-blob endpoint answers
        first and releases after, as the storage service deletes snapshots in the background.
        """
        _, extents = self.version(snapshot_id)
        del self.snapshots[snapshot_id]
        self.log(["d", snapshot_id])
        return extents

    def release(self, extents: dict[int, int]) -> None:
        for slot_id in extents.values():
            self._release(slot_id)

    def delete(self) -> None:
        self.settle()
        for snapshot_id in list(self.snapshots):
            self.delete_snapshot(snapshot_id)
        self.close()

    def version(self, snapshot_id: str | None) -> tuple[int, dict[int, int]]:
        if snapshot_id is None:
            return self.size, self.head
        try:
            return self.snapshots[snapshot_id]
        except KeyError:
            raise DiskError(404, "BlobNotFound", "The specified blob does not exist.") from None

    # --- reads -----------------------------------------------------------

    def read_chunks(self, offset: int, length: int, snapshot_id: str | None = None,
                    chunk: int = 4 * 1024 * 1024) -> Iterator[bytes | memoryview]:
        """The bytes of [offset, offset+length), in pieces of at most ``chunk``."""
        return self.read_pieces(self.read_plan(offset, length, snapshot_id, chunk))

    def read_pieces(self, plan: list[tuple[int, int]]) -> Iterator[bytes | memoryview]:
        """The bytes a ``read_plan`` describes; only preads, so it may run in another thread."""
        for pos, run in plan:
            if pos < 0:
                yield ZERO_VIEW[:run] if run <= len(ZEROS) else bytes(run)
            else:
                piece = self.pread(run, pos)
                yield piece if len(piece) == run else piece + bytes(run - len(piece))

    def read_plan(self, offset: int, length: int, snapshot_id: str | None = None,
                  chunk: int = 4 * 1024 * 1024) -> list[tuple[int, int]]:
        """Where the bytes of [offset, offset+length) are: (position in ``data``, or -1 for zeros; length) pieces.

        Adjacent extents whose slots sit next to each other in ``data`` are read
        with one pread, and unwritten extents come from a shared zero buffer, so
        a sequential read costs a few system calls per megabyte.
        """
        plan: list[tuple[int, int]] = []
        size, extents = self.version(snapshot_id)
        end = min(offset + length, size)
        while offset < end:
            index, within = divmod(offset, EXTENT)
            slot_id = extents.get(index)
            pos = self.slots[slot_id].pos + within if slot_id is not None else -1
            run = min(EXTENT - within, end - offset)
            # Extend the run while the next extent continues the same kind.
            while run < chunk and offset + run < end:
                next_id = extents.get(index + 1)
                if (slot_id is None) != (next_id is None):
                    break
                if slot_id is not None and self.slots[next_id].pos != pos + run:
                    break
                index += 1
                run = min(run + EXTENT, end - offset, chunk)
            plan.append((-1 if slot_id is None else pos, run))
            offset += run
        return plan

    def page_ranges(self, snapshot_id: str | None = None, previous: str | None = None) -> list[tuple[int, int, bool]]:
        """(start, end-exclusive, valid) ranges: valid pages, or with ``previous`` the pages changed since it.

        In a diff, ``valid`` False marks pages cleared since ``previous``.
        """
        _, extents = self.version(snapshot_id)
        if previous is None:
            changes = ((index, self.slots[slot_id].valid, self.slots[slot_id].valid) for index, slot_id in extents.items())
        else:
            _, before = self.version(previous)
            changes = self._changes(extents, before)
        ranges: list[tuple[int, int, bool]] = []
        for index, changed, valid in sorted(changes):
            base = index * EXTENT
            if changed == FULL and valid in (0, FULL):  # most extents: one run, no bit walking
                runs = [(base, base + EXTENT, valid != 0)]
            else:
                runs = sorted((base + first * PAGE, base + (last + 1) * PAGE, kind)
                              for kind, bits in ((True, changed & valid), (False, changed & ~valid))
                              for first, last in bit_runs(bits))
            for start, stop, kind in runs:
                if ranges and ranges[-1][1] == start and ranges[-1][2] == kind:
                    ranges[-1] = (ranges[-1][0], stop, kind)
                else:
                    ranges.append((start, stop, kind))
        return ranges

    def _changes(self, after: dict[int, int], before: dict[int, int]) -> Iterator[tuple[int, int, int]]:
        for index in after.keys() | before.keys():
            new, old = after.get(index), before.get(index)
            if new == old:
                continue
            valid = self.slots[new].valid if new is not None else 0
            changed, cursor = 0, new
            while cursor is not None and cursor != old:
                changed |= self.slots[cursor].written
                cursor = self.slots[cursor].parent
            if cursor != old:  # unrelated slots: everything valid on either side
                changed = valid | (self.slots[old].valid if old is not None else 0)
            if changed:
                yield index, changed, valid


def punch_hole(fd: int, offset: int, length: int) -> None:
    """Give a freed slot's blocks back to the file system; write zeros where holes are not supported."""
    try:
        if _LIBC.fallocate(fd, 0x01 | 0x02, ctypes.c_long(offset), ctypes.c_long(length)) == 0:  # KEEP_SIZE|PUNCH_HOLE
            return
    except AttributeError:
        pass
    os.pwrite(fd, bytes(length), offset)


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class DiskStore:
    """All page blobs under one directory, loaded on first use.

    Not thread-safe by itself: the server changes the maps from its one
    event-loop thread, so each request's change is applied whole before the
    next starts; only the bytes are read and written in other threads
    (``read_pieces``, ``land``).
    Command-line tools that write directly (seed) run while no server does.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs: dict[str, Blob] = {}
        self.lock = threading.Lock()

    def _dir(self, name: str) -> Path:
        # Names come from URLs: no empty, "." or ".." segment may lead outside the store.
        parts = name.split("/")
        if len(parts) < 3 or any(part in ("", ".", "..") or "\0" in part for part in parts):
            raise DiskError(400, "InvalidUri", "The requested URI does not represent any resource on the server.")
        return self.root.joinpath(*parts)

    def exists(self, name: str) -> bool:
        return name in self.blobs or (self._dir(name) / "journal").exists()

    def get(self, name: str) -> Blob:
        blob = self.blobs.get(name)
        if blob is not None:
            return blob
        path = self._dir(name)
        journal = path / "journal"
        if not journal.exists():
            raise DiskError(404, "BlobNotFound", "The specified blob does not exist.")
        blob = Blob(path=path, replaying=True)
        with open(journal, encoding="ascii") as lines:
            for line in lines:
                replay(blob, json.loads(line))
        blob.replaying = False
        self.blobs[name] = blob
        return blob

    def create(self, name: str, size: int) -> Blob:
        if size < 0 or size % PAGE or size > MAX_SIZE:
            raise DiskError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                            ("x-ms-blob-content-length", str(size)))
        if self.exists(name):
            self.delete(name)
        path = self._dir(name)
        path.mkdir(parents=True, exist_ok=True)
        blob = Blob(path=path, size=size)
        blob.log(["n", size])
        self.blobs[name] = blob
        return blob

    def delete(self, name: str) -> None:
        blob = self.get(name)
        blob.close()
        self.blobs.pop(name, None)
        for child in ("journal", "data"):
            (blob.path / child).unlink(missing_ok=True)

    def close(self) -> None:
        for blob in self.blobs.values():
            blob.close()
        self.blobs.clear()


def replay(blob: Blob, record: list) -> None:
    kind = record[0]
    if kind == "n":
        blob.size = record[1]
    elif kind == "w":
        blob._apply(record[1], record[2], True)
    elif kind == "c":
        blob._apply(record[1], record[2], False)
    elif kind == "s":
        blob.snapshot(record[1])
    elif kind == "d":
        blob.delete_snapshot(record[1])
