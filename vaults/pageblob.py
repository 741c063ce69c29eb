"""A thin client of the page-blob REST API: the disk bytes behind every VM's MediaLink.

Only what backup and restore need: create, write and clear pages, snapshot,
valid and changed page ranges, ranged reads, snapshot deletion and size. URLs
are the disks' MediaLinks (``http://127.0.0.1:8100/<account>/vhds/<blob>.vhd``
on the lab fabric). Errors come back as :class:`PageBlobError`, with
``transient`` set for 5xx answers and connection failures, so callers can
retry those and fail fast on the rest.
"""

from __future__ import annotations

from xml.etree import ElementTree

import requests

PAGE = 512
READ_PIECE = 4 * 1024 * 1024
VERSION = "2015-04-05"


class PageBlobError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status >= 500


class PageBlobClient:
    """Page-blob calls over one ``requests.Session`` (injectable: certificates, CA, adapters)."""

    def __init__(self, session: requests.Session | None = None, timeout: float | tuple[float, float] = (5.0, 60.0)) -> None:
        if session is None:
            session = requests.Session()
            # Environment proxies and CA bundles must not redirect disk traffic.
            session.trust_env = False
        self.session = session
        self.timeout = timeout

    # --- plumbing ----------------------------------------------------------

    def _call(self, method: str, url: str, *, params: dict | None = None, headers: dict | None = None,
              data: bytes | memoryview | None = None, stream: bool = False) -> requests.Response:
        try:
            answer = self.session.request(method, url, params=params, data=data, stream=stream, timeout=self.timeout,
                                          headers={"x-ms-version": VERSION, **(headers or {})})
        except requests.RequestException as problem:
            raise PageBlobError(0, "ConnectionError", str(problem)) from problem
        if answer.status_code >= 400:
            raise self._error(answer)
        return answer

    @staticmethod
    def _error(answer: requests.Response) -> PageBlobError:
        code = answer.headers.get("x-ms-error-code", "")
        message = answer.reason or ""
        try:
            root = ElementTree.fromstring(answer.content)  # noqa: S314 - Expat refuses entity bombs
            code = root.findtext("Code") or code
            message = (root.findtext("Message") or message).split("\n", 1)[0]
        except ElementTree.ParseError:
            pass
        return PageBlobError(answer.status_code, code or "Unknown", message)

    @staticmethod
    def _span(offset: int, length: int) -> str:
        return f"bytes={offset}-{offset + length - 1}"

    # --- calls ---------------------------------------------------------------

    def create(self, url: str, size: int) -> None:
        """A new, all-zero page blob of ``size`` bytes (a multiple of 512); replaces one that exists."""
        self._call("PUT", url, headers={"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": str(size),
                                        "Content-Length": "0"})

    def write_pages(self, url: str, offset: int, data: bytes | memoryview) -> None:
        self._call("PUT", url, params={"comp": "page"}, data=data,
                   headers={"x-ms-range": self._span(offset, len(data)), "x-ms-page-write": "update"})

    def clear_pages(self, url: str, offset: int, length: int) -> None:
        self._call("PUT", url, params={"comp": "page"},
                   headers={"x-ms-range": self._span(offset, length), "x-ms-page-write": "clear", "Content-Length": "0"})

    def snapshot(self, url: str) -> str:
        return self._call("PUT", url, params={"comp": "snapshot"}, headers={"Content-Length": "0"}).headers["x-ms-snapshot"]

    def page_ranges(self, url: str, snapshot: str | None = None, prev_snapshot: str | None = None) -> list[tuple[int, int]]:
        """(start, end-exclusive) ranges holding data; with ``prev_snapshot``, the ranges changed since it.

        Changed ranges include pages cleared since ``prev_snapshot`` (they read
        as zeros now), so copying every returned range brings a copy of the
        earlier version up to date.
        """
        params = {"comp": "pagelist"}
        if snapshot:
            params["snapshot"] = snapshot
        if prev_snapshot:
            params["prevsnapshot"] = prev_snapshot
        root = ElementTree.fromstring(self._call("GET", url, params=params).content)  # noqa: S314
        ranges = [(int(node.findtext("Start")), int(node.findtext("End")) + 1) for node in root
                  if node.tag in ("PageRange", "ClearRange")]
        return sorted(ranges)

    def cleared_ranges(self, url: str, snapshot: str | None, prev_snapshot: str) -> list[tuple[int, int]]:
        """Only the ranges cleared since ``prev_snapshot`` (``ClearRange`` of the diff)."""
        params = {"comp": "pagelist", "prevsnapshot": prev_snapshot, **({"snapshot": snapshot} if snapshot else {})}
        root = ElementTree.fromstring(self._call("GET", url, params=params).content)  # noqa: S314
        return [(int(node.findtext("Start")), int(node.findtext("End")) + 1) for node in root if node.tag == "ClearRange"]

    def read(self, url: str, offset: int, length: int, snapshot: str | None = None) -> bytes:
        buffer = bytearray(length)
        got = self.read_into(url, offset, memoryview(buffer), snapshot)
        return bytes(buffer[:got])

    def read_into(self, url: str, offset: int, buffer: memoryview, snapshot: str | None = None) -> int:
        """Fill ``buffer`` with the bytes at ``offset``; returns how many arrived (fewer only at the blob's end)."""
        params = {"snapshot": snapshot} if snapshot else None
        answer = self._call("GET", url, params=params, stream=True,
                            headers={"x-ms-range": self._span(offset, len(buffer))})
        filled = 0
        whole = False
        try:
            # urllib3 copies through an intermediate buffer in readinto; the
            # http.client response beneath it reads straight into ours, which
            # keeps large reads well above 500 MB/s. Fall back when it is absent
            # or the body is encoded.
            raw = answer.raw
            if "content-encoding" not in answer.headers and hasattr(raw, "_fp"):
                raw = raw._fp
            while filled < len(buffer):
                got = raw.readinto(buffer[filled:])
                if not got:
                    break
                filled += got
            whole = raw.read(1) == b""
        except (requests.RequestException, OSError) as problem:
            raise PageBlobError(0, "ConnectionError", str(problem)) from problem
        finally:
            if whole and hasattr(answer.raw, "release_conn"):
                # The body was read to its end: the connection goes back to the pool. Closing the response
                # would close the connection, and a new TCP connection per read costs more than the read.
                answer.raw.release_conn()
            else:
                answer.close()
        return filled

    def iter_read(self, url: str, offset: int, length: int, snapshot: str | None = None, piece: int = READ_PIECE):
        """The bytes of [offset, offset+length) as pieces of ``piece`` bytes (the last may be shorter)."""
        end = offset + length
        while offset < end:
            data = self.read(url, offset, min(piece, end - offset), snapshot)
            if not data:
                return
            yield data
            offset += len(data)

    def delete_snapshot(self, url: str, snapshot: str) -> None:
        self._call("DELETE", url, params={"snapshot": snapshot})

    def size(self, url: str, snapshot: str | None = None) -> int:
        params = {"snapshot": snapshot} if snapshot else None
        return int(self._call("HEAD", url, params=params).headers["Content-Length"])
