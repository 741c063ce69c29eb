"""Adapters between the engine and page blobs, through the project's ``PageBlobClient``.

The client is passed in (never imported here), so tests can hand in a fake and
the store package stays free of HTTP concerns. Calls that fail with a transient
error (the client's ``PageBlobError.transient``: a 5xx or a dropped connection)
are retried with backoff: every call here is idempotent (a read, a page list,
or a write of the same bytes at the same offset), and one busy answer from the
fabric should not fail a backup of many GiB.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

from vaultstore.ranges import Range, normalize
from vaultstore.sinks import Buffer

PAGE = 512
MAX_PUT_PAGE = 4 << 20  # the page-blob API accepts at most 4 MiB per Put Page
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
T = TypeVar("T")


def with_retries(call: Callable[[], T]) -> T:
    for delay in RETRY_DELAYS:  # read at each call, so a test (or an operator's patch) can change it
        try:
            return call()
        except Exception as exc:
            if not getattr(exc, "transient", False):
                raise
            time.sleep(delay)
    return call()  # the last attempt's error goes to the caller


class PageBlobApi(Protocol):
    def create(self, url: str, size: int) -> None: ...

    def write_pages(self, url: str, offset: int, data: Buffer | Sequence[Buffer]) -> None: ...

    def page_ranges(self, url: str, snapshot: str | None = None, prev_snapshot: str | None = None) -> list[Range]: ...

    def read(self, url: str, offset: int, length: int, snapshot: str | None = None) -> bytes: ...

    def read_into(self, url: str, offset: int, buffer: memoryview, snapshot: str | None = None) -> int: ...

    def size(self, url: str, snapshot: str | None = None) -> int: ...

    def snapshot_exists(self, url: str, snapshot: str | None) -> bool: ...


class PageBlobSource:
    """One disk (blob ``url``) at ``snapshot``; ``prev_snapshot`` enables ``changed_ranges()`` (page-range diff)."""

    def __init__(self, client: PageBlobApi, url: str, snapshot: str, prev_snapshot: str | None = None) -> None:
        self.client = client
        self.url = url
        self._snapshot = snapshot
        self.prev_snapshot = prev_snapshot
        self._size = with_retries(lambda: client.size(url, snapshot=snapshot))

    @property
    def size(self) -> int:
        return self._size

    @property
    def snapshot_id(self) -> str | None:
        return self._snapshot

    def ranges(self) -> list[Range]:
        return normalize(with_retries(lambda: self.client.page_ranges(self.url, snapshot=self._snapshot)), self._size)

    def changed_ranges(self) -> list[Range]:
        if self.prev_snapshot is None:
            raise ValueError(f"{self.url}: no previous snapshot, so only a full backup is possible")
        changed = with_retries(lambda: self.client.page_ranges(self.url, snapshot=self._snapshot,
                                                               prev_snapshot=self.prev_snapshot))
        return normalize(changed, self._size)

    def can_diff_from(self, snapshot_id: str | None) -> bool:
        """The page-range diff is against ``prev_snapshot``: usable when that is the previous point's snapshot and
        the storage still holds it (a released or lost snapshot cannot be diffed against)."""
        if self.prev_snapshot is None or snapshot_id != self.prev_snapshot:
            return False
        return with_retries(lambda: self.client.snapshot_exists(self.url, self.prev_snapshot))

    def read(self, offset: int, length: int) -> bytes:
        buffer = bytearray(length)
        self.read_into(offset, memoryview(buffer))
        return bytes(buffer)

    def read_into(self, offset: int, buffer: memoryview) -> None:
        got = with_retries(lambda: self.client.read_into(self.url, offset, buffer, snapshot=self._snapshot))
        if got != len(buffer):
            raise OSError(f"{self.url}: short read at {offset} ({got} of {len(buffer)} bytes)")


def put_pages(offset: int, pieces: Sequence[Buffer]) -> Iterator[tuple[int, list[memoryview]]]:
    """The pieces regrouped into Put Page requests of at most MAX_PUT_PAGE bytes: (offset, the request's pieces)."""
    request: list[memoryview] = []
    size = 0
    for piece in pieces:
        view = memoryview(piece).cast("B")
        while view:
            part = view[:MAX_PUT_PAGE - size]
            request.append(part)
            size += len(part)
            view = view[len(part):]
            if size == MAX_PUT_PAGE:
                yield offset, request
                offset, request, size = offset + size, [], 0
    if request:
        yield offset, request


class PageBlobSink:
    """A new page blob: created at ``begin``, written in aligned pieces of at most 4 MiB; zeros are never sent."""

    def __init__(self, client: PageBlobApi, url: str) -> None:
        self.client = client
        self.url = url

    def begin(self, size: int) -> None:
        if size % PAGE:
            raise ValueError(f"a page blob's size must be a multiple of {PAGE} bytes, not {size}")
        with_retries(lambda: self.client.create(self.url, size))

    def write(self, offset: int, pieces: Sequence[Buffer]) -> None:
        length = sum(len(piece) for piece in pieces)
        if offset % PAGE or length % PAGE:
            raise ValueError(f"page writes must be {PAGE}-byte aligned (offset {offset}, length {length})")
        for at, request in put_pages(offset, pieces):
            # Sent as they are, one after the other: the caller's buffers stay put until we return.
            with_retries(lambda request=request, at=at: self.client.write_pages(self.url, at, request))

    def finish(self) -> None:
        pass
