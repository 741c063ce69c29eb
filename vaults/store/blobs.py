"""Adapters between the engine and page blobs, through the project's ``PageBlobClient``.

The client is passed in (never imported here), so tests can hand in a fake and
the store package stays free of HTTP concerns.
"""

from __future__ import annotations

from typing import Protocol

from vaults.store.ranges import Range, normalize

PAGE = 512
MAX_PUT_PAGE = 4 << 20  # the page-blob API accepts at most 4 MiB per Put Page


class PageBlobApi(Protocol):
    def create(self, url: str, size: int) -> None: ...

    def write_pages(self, url: str, offset: int, data: bytes) -> None: ...

    def page_ranges(self, url: str, snapshot: str | None = None, prev_snapshot: str | None = None) -> list[Range]: ...

    def read(self, url: str, offset: int, length: int, snapshot: str | None = None) -> bytes: ...

    def size(self, url: str, snapshot: str | None = None) -> int: ...


class PageBlobSource:
    """One disk (blob ``url``) at ``snapshot``; ``prev_snapshot`` enables ``changed_ranges()`` (page-range diff)."""

    def __init__(self, client: PageBlobApi, url: str, snapshot: str, prev_snapshot: str | None = None) -> None:
        self.client = client
        self.url = url
        self._snapshot = snapshot
        self.prev_snapshot = prev_snapshot
        self._size = client.size(url, snapshot=snapshot)

    @property
    def size(self) -> int:
        return self._size

    @property
    def snapshot_id(self) -> str | None:
        return self._snapshot

    def ranges(self) -> list[Range]:
        return normalize(self.client.page_ranges(self.url, snapshot=self._snapshot), self._size)

    def changed_ranges(self) -> list[Range]:
        if self.prev_snapshot is None:
            raise ValueError(f"{self.url}: no previous snapshot, so only a full backup is possible")
        return normalize(self.client.page_ranges(self.url, snapshot=self._snapshot, prev_snapshot=self.prev_snapshot),
                         self._size)

    def read(self, offset: int, length: int) -> bytes:
        data = self.client.read(self.url, offset, length, snapshot=self._snapshot)
        if len(data) != length:
            raise OSError(f"{self.url}: short read at {offset} ({len(data)} of {length} bytes)")
        return data


class PageBlobSink:
    """A new page blob: created at ``begin``, written in aligned pieces of at most 4 MiB; zeros are never sent."""

    def __init__(self, client: PageBlobApi, url: str) -> None:
        self.client = client
        self.url = url

    def begin(self, size: int) -> None:
        if size % PAGE:
            raise ValueError(f"a page blob's size must be a multiple of {PAGE} bytes, not {size}")
        self.client.create(self.url, size)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        if offset % PAGE or len(data) % PAGE:
            raise ValueError(f"page writes must be {PAGE}-byte aligned (offset {offset}, length {len(data)})")
        view = memoryview(data)
        for start in range(0, len(view), MAX_PUT_PAGE):
            self.client.write_pages(self.url, offset + start, bytes(view[start:start + MAX_PUT_PAGE]))

    def finish(self) -> None:
        pass
