"""A thin client of the page-blob REST API: the disk bytes behind every VM's MediaLink.

Only what backup and restore need: create, write and clear pages, snapshot,
valid and changed page ranges, ranged reads, snapshot deletion and size. URLs
are the disks' MediaLinks (``http://127.0.0.1:8100/<account>/vhds/<blob>.vhd``
on the lab fabric). Errors come back as :class:`PageBlobError`, with
``transient`` set for 5xx answers and connection failures, so callers can
retry those and fail fast on the rest.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Sequence
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import requests

from vaults.cloud.endpoint import Endpoint, http_session

PAGE = 512
VERSION = "2015-04-05"


class PageBlobError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        # An answer's error reads "503 ServerBusy: ..."; no answer at all reads as its sentence alone.
        super().__init__(f"{status} {code}: {message}" if status else message)
        self.status, self.code, self.message = status, code, message

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status >= 500


def unreachable(netloc: str, problem: BaseException) -> PageBlobError:
    """No answer from the storage endpoint, as a sentence a person can act on (``transient``: worth a retry)."""
    if isinstance(problem, (TimeoutError, requests.Timeout)):
        message = f"The disk storage at {netloc} did not answer in time."
    elif isinstance(problem, (ConnectionResetError, BrokenPipeError, http.client.HTTPException,
                              requests.exceptions.ChunkedEncodingError)):
        message = f"The connection to the disk storage at {netloc} broke off ({problem.__class__.__name__})."
    else:
        message = f"Could not connect to the disk storage at {netloc}. Check that it is running and reachable."
    return PageBlobError(0, "ConnectionError", message)


def storage_error(status: int, reason: str | None, code: str, body: bytes) -> PageBlobError:
    """The storage service's ``<Error><Code/><Message/></Error>`` (or just the status line) as a PageBlobError."""
    message = reason or ""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - Expat refuses entity bombs
        code = root.findtext("Code") or code
        message = (root.findtext("Message") or message).split("\n", 1)[0]
    except ElementTree.ParseError:
        pass
    return PageBlobError(status, code or "Unknown", message)


class PageBlobClient:
    """Page-blob calls over one ``requests.Session`` (injectable: certificates, CA, adapters).

    The two calls that move disk bytes, ``read_into`` and ``write_pages``, go
    over plain ``http.client`` connections instead, one kept per thread and
    endpoint, with the session's certificate and CA: a backup makes thousands
    of them, and requests spent ~0.6 ms of CPU per call against ~0.25 ms.
    """

    def __init__(self, session: requests.Session | None = None, timeout: float | tuple[float, float] = (5.0, 60.0)) -> None:
        if session is None:
            session = requests.Session()
            # Environment proxies and CA bundles must not redirect disk traffic.
            session.trust_env = False
        self.session = session
        self.timeout = timeout
        self._local = threading.local()
        self._tls: ssl.SSLContext | None = None

    # --- the data plane ------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            verify = self.session.verify
            context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            cert = self.session.cert
            if cert:
                context.load_cert_chain(*(cert if isinstance(cert, tuple) else (cert,)))
            self._tls = context
        return self._tls

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        connection = connections.get((scheme, netloc))
        if connection is None:
            read_timeout = self.timeout[1] if isinstance(self.timeout, tuple) else self.timeout
            if scheme == "https":
                connection = http.client.HTTPSConnection(netloc, timeout=read_timeout, context=self._tls_context())
            else:
                connection = http.client.HTTPConnection(netloc, timeout=read_timeout)
            connections[(scheme, netloc)] = connection
        return connection

    def _exchange(self, method: str, url: str, headers: dict[str, str],
                  body: bytes | memoryview | list[bytes | memoryview] | None = None, into: memoryview | None = None) -> int:
        """One request on this thread's kept connection; the answer's body goes into ``into`` when given.

        Returns how many bytes went into ``into``; an error answer raises its PageBlobError. A kept connection
        the server has closed meanwhile is replaced once; the calls made this way are idempotent.
        """
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"x-ms-version": VERSION, **headers}
        for attempt in (1, 2):
            connection = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request(method, target, body=body, headers=headers)
                answer = connection.getresponse()
                filled = 0
                if into is not None and answer.status < 400:
                    while filled < len(into):
                        got = answer.readinto(into[filled:])
                        if not got:
                            break
                        filled += got
                rest = answer.read()  # an error document, if any: read, so the connection can be reused
            except (OSError, http.client.HTTPException) as problem:
                connection.close()
                self._local.connections.pop((parts.scheme, parts.netloc), None)
                stale = isinstance(problem, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                if attempt == 2 or not stale:
                    raise unreachable(parts.netloc, problem) from problem
                continue
            if answer.status >= 400:
                raise storage_error(answer.status, answer.reason, answer.getheader("x-ms-error-code", ""), rest)
            return filled
        raise AssertionError("unreachable")

    # --- plumbing ----------------------------------------------------------

    def _call(self, method: str, url: str, *, params: dict | None = None, headers: dict | None = None,
              data: bytes | memoryview | None = None, stream: bool = False) -> requests.Response:
        try:
            answer = self.session.request(method, url, params=params, data=data, stream=stream, timeout=self.timeout,
                                          headers={"x-ms-version": VERSION, **(headers or {})})
        except requests.RequestException as problem:
            raise unreachable(urlsplit(url).netloc, problem) from problem
        if answer.status_code >= 400:
            raise self._error(answer)
        return answer

    @staticmethod
    def _error(answer: requests.Response) -> PageBlobError:
        return storage_error(answer.status_code, answer.reason, answer.headers.get("x-ms-error-code", ""), answer.content)

    @staticmethod
    def _span(offset: int, length: int) -> str:
        return f"bytes={offset}-{offset + length - 1}"

    # --- calls ---------------------------------------------------------------

    def create(self, url: str, size: int) -> None:
        """A new, all-zero page blob of ``size`` bytes (a multiple of 512); replaces one that exists."""
        self._call("PUT", url, headers={"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": str(size),
                                        "Content-Length": "0"})

    def write_pages(self, url: str, offset: int, data: bytes | memoryview | Sequence[bytes | memoryview]) -> None:
        """Write pages at ``offset``: ``data`` is one buffer, or several sent one after the other as one body."""
        pieces = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
        length = sum(len(piece) for piece in pieces)
        self._exchange("PUT", f"{url}?comp=page", {
            "x-ms-range": self._span(offset, length), "x-ms-page-write": "update", "Content-Length": str(length),
            "Content-Type": "application/octet-stream"}, body=pieces[0] if len(pieces) == 1 else pieces)

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

    def read(self, url: str, offset: int, length: int, snapshot: str | None = None) -> bytes:
        buffer = bytearray(length)
        got = self.read_into(url, offset, memoryview(buffer), snapshot)
        return bytes(buffer[:got])

    def read_into(self, url: str, offset: int, buffer: memoryview, snapshot: str | None = None) -> int:
        """Fill ``buffer`` with the bytes at ``offset``; returns how many arrived (fewer only at the blob's end)."""
        target = f"{url}?snapshot={quote(snapshot)}" if snapshot else url
        return self._exchange("GET", target, {"x-ms-range": self._span(offset, len(buffer))}, into=buffer)

    def delete(self, url: str) -> None:
        """Delete a blob and its snapshots."""
        self._call("DELETE", url, headers={"x-ms-delete-snapshots": "include"})

    def delete_snapshot(self, url: str, snapshot: str) -> None:
        self._call("DELETE", url, params={"snapshot": snapshot})

    def snapshot_exists(self, url: str, snapshot: str | None) -> bool:
        """Whether ``snapshot`` of ``url`` is still there (a released or never-taken one is not)."""
        if not snapshot:
            return False
        try:
            self.size(url, snapshot=snapshot)
        except PageBlobError as error:
            if error.status in (400, 404):
                return False
            raise
        return True

    def size(self, url: str, snapshot: str | None = None) -> int:
        params = {"snapshot": snapshot} if snapshot else None
        return int(self._call("HEAD", url, params=params).headers["Content-Length"])


def blob_client(endpoint: Endpoint) -> PageBlobClient:
    """A page-blob client that reaches the disks the way the compute client reaches the endpoint."""
    return PageBlobClient(http_session(endpoint))
