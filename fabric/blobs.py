"""The page-blob subset of the storage REST API, path style: ``/<account>/<container>/<blob>``.

* ``PUT`` with ``x-ms-blob-type: PageBlob`` and ``x-ms-blob-content-length``: create (201).
* ``PUT ?comp=page`` with ``x-ms-range`` (or ``Range``) ``bytes=a-b`` and
  ``x-ms-page-write: update|clear``: write or clear pages (201). Ranges must be
  512-byte aligned (400 ``InvalidHeaderValue``) and inside the blob (416
  ``InvalidPageRange``).
* ``PUT ?comp=snapshot``: snapshot (201, ``x-ms-snapshot``).
* ``GET ?comp=pagelist[&snapshot=S][&prevsnapshot=P]``: ``<PageList>`` of
  ``<PageRange><Start/><End/></PageRange>`` (inclusive ends); with
  ``prevsnapshot`` the changed pages, cleared ones as ``<ClearRange>``.
* ``GET [?snapshot=S]`` with optional ``x-ms-range``/``Range``: the bytes (206 for a range).
* ``HEAD [?snapshot=S]``: ``Content-Length`` and ``x-ms-blob-type``.
* ``DELETE ?snapshot=S``: delete one snapshot; ``DELETE`` alone deletes a blob without snapshots
  (409 ``SnapshotsPresent`` otherwise, unless ``x-ms-delete-snapshots: include``).

Errors are the storage service's ``<Error><Code/><Message/></Error>`` with ``x-ms-error-code``. Bad input is
refused as the service refuses it: a page blob over 8 TiB or not a multiple of 512 bytes (400
``InvalidHeaderValue``), a Put Page body over 4 MiB (413 ``RequestBodyTooLarge``), a ``snapshot`` or
``prevsnapshot`` that is no timestamp (400 ``InvalidQueryParameterValue``), an ``x-ms-version`` that is malformed
or dated after today (400 ``InvalidHeaderValue``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

import anyio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from fabric.disks import Blob, Body, DiskError, DiskStore

RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
LENGTH = re.compile(r"^[0-9]+$")
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OLDEST_VERSION = "2009-09-19"  # the first version of the storage REST API
SNAPSHOT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,7})?Z$")  # 2011-03-09T01:42:34.9360000Z
MAX_PAGE_WRITE = 4 * 1024 * 1024  # the largest body of one Put Page
BAD_HEADER = "The value for one of the HTTP headers is not in the correct format."
BAD_QUERY = "Value for one of the query parameters specified in the request URI is invalid."
SMALL_READ = 64 * 1024  # read on the event loop; 256 KiB direct reads blocked it long enough to slow a restore
WHOLE_READ = 4 * 1024 * 1024


def storage_error(error: DiskError) -> Response:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    request_id = uuid.uuid4()
    details = {"HeaderName": error.header[0], "HeaderValue": error.header[1]} if error.header else {}
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in {**details, **error.details}.items())
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{error.code}</Code><Message>{escape(error.message)}\n'
            f"RequestId:{request_id}\nTime:{stamp}</Message>{extra}</Error>")
    return Response(body, status_code=error.status, media_type="application/xml",
                    headers={"x-ms-error-code": error.code, "x-ms-request-id": str(request_id)})


def headers(**extra: str) -> dict[str, str]:
    return {"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": "2015-04-05",
            "Date": format_datetime(datetime.now(UTC), usegmt=True), **extra}


def parse_range(request: Request, size: int | None = None) -> tuple[int, int] | None:
    """(offset, length) of x-ms-range or Range, or None when neither is given."""
    name = "x-ms-range" if "x-ms-range" in request.headers else "range"
    value = request.headers.get(name)
    if value is None:
        return None
    match = RANGE.match(value.strip())
    if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
        raise DiskError(400, "InvalidHeaderValue", BAD_HEADER, (name, value))
    start = int(match.group(1))
    if match.group(2):
        end = int(match.group(2))
    elif size is not None:
        end = size - 1
    else:
        raise DiskError(400, "InvalidHeaderValue", BAD_HEADER, (name, value))
    return start, end - start + 1


def check_version(request: Request) -> None:
    """A well-formed ``x-ms-version`` that the storage service could have published by now.

    The lab serves the page-blob operations whose shape has not changed since 2015, so it accepts every
    version from the first on, but not a date still to come. A request without the header is served at the
    service's default version, as an anonymous request is.
    """
    version = request.headers.get("x-ms-version")
    if version is None:
        return
    if not (VERSION.match(version) and valid_time(version, "%Y-%m-%d")
            and OLDEST_VERSION <= version <= datetime.now(UTC).date().isoformat()):
        raise DiskError(400, "InvalidHeaderValue", BAD_HEADER, ("x-ms-version", version))


def valid_time(value: str, form: str) -> bool:
    """Whether ``value`` names a real date (and time) in ``form``: 2015-02-30 does not."""
    try:
        datetime.strptime(value, form)
    except ValueError:
        return False
    return True


def snapshot_param(request: Request, name: str = "snapshot") -> str | None:
    """The ``snapshot`` (or ``prevsnapshot``) of the query: a timestamp, as the storage service hands them out."""
    value = request.query_params.get(name)
    if value is None:
        return None
    match = SNAPSHOT.match(value)
    if match is None or not valid_time(match.group(1), "%Y-%m-%dT%H:%M:%S"):
        raise DiskError(400, "InvalidQueryParameterValue", BAD_QUERY,
                        details={"QueryParameterName": name, "QueryParameterValue": value, "Reason": ""})
    return value


def bad_comp(comp: str) -> DiskError:
    return DiskError(400, "InvalidQueryParameterValue", BAD_QUERY,
                     details={"QueryParameterName": "comp", "QueryParameterValue": comp, "Reason": ""})


def too_large() -> DiskError:
    return DiskError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.",
                     details={"MaxLimit": str(MAX_PAGE_WRITE)})


async def page_body(request: Request) -> Body:
    """The body of a Put Page, refused as soon as it is known to exceed 4 MiB: from its Content-Length before
    a byte is read, or while it streams in when it comes without one."""
    declared = request.headers.get("content-length", "")
    if LENGTH.match(declared) and int(declared) > MAX_PAGE_WRITE:
        raise too_large()
    pieces, received = [], 0
    async for piece in request.stream():
        received += len(piece)
        if received > MAX_PAGE_WRITE:
            raise too_large()
        pieces.append(piece)
    # The body stays in the pieces it arrived in: the thread that lands it copies each byte once.
    return Body(pieces)


async def handle(request: Request, store: DiskStore, name: str) -> Response:
    try:
        check_version(request)
        if request.method == "PUT":
            return await put(request, store, name)
        if request.method in ("GET", "HEAD"):
            return await get(request, store, name)
        if request.method == "DELETE":
            return delete(request, store, name)
        return Response(status_code=405)
    except DiskError as error:
        return storage_error(error)


async def put(request: Request, store: DiskStore, name: str) -> Response:
    comp = request.query_params.get("comp")
    if comp is None:
        if request.headers.get("x-ms-blob-type") != "PageBlob":
            raise DiskError(400, "InvalidHeaderValue", "Only page blobs are supported by this endpoint.",
                            ("x-ms-blob-type", request.headers.get("x-ms-blob-type", "")))
        length = request.headers.get("x-ms-blob-content-length")
        if length is None:
            raise DiskError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.",
                            ("x-ms-blob-content-length", ""))
        if not LENGTH.match(length):
            raise DiskError(400, "InvalidHeaderValue", BAD_HEADER, ("x-ms-blob-content-length", length))
        store.create(name, int(length))
        return Response(status_code=201, headers=headers())
    blob = store.get(name)
    if comp == "page":
        span = parse_range(request)
        if span is None:
            raise DiskError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.",
                            ("x-ms-range", ""))
        offset, length = span
        action = request.headers.get("x-ms-page-write", "update").lower()
        if action == "clear":
            blob.clear(offset, length)
        elif action == "update":
            body = await page_body(request)
            if len(body) != length:
                raise DiskError(400, "InvalidHeaderValue", BAD_HEADER, ("Content-Length", str(len(body))))
            # The maps change here, on the event loop; a thread gives the disk the bytes, so the loop goes on
            # receiving other requests meanwhile (direct writes block for as long as the device takes).
            runs = blob.stage_write(offset, body)
            await anyio.to_thread.run_sync(blob.land, runs, body)
        else:
            raise DiskError(400, "InvalidHeaderValue", BAD_HEADER, ("x-ms-page-write", action))
        return Response(status_code=201, headers=headers())
    if comp == "snapshot":
        from fabric.agent import snapshot_id

        sid = snapshot_id()
        blob.snapshot(sid)
        return Response(status_code=201, headers=headers(**{"x-ms-snapshot": sid}))
    raise bad_comp(comp)


async def get(request: Request, store: DiskStore, name: str) -> Response:
    comp = request.query_params.get("comp")
    if comp not in (None, "pagelist"):
        raise bad_comp(comp)
    snapshot = snapshot_param(request)
    previous = snapshot_param(request, "prevsnapshot")
    blob = store.get(name)
    size, _ = blob.version(snapshot)
    if comp == "pagelist":
        ranges = blob.page_ranges(snapshot, previous)
        body = "".join(f"<{'PageRange' if valid else 'ClearRange'}><Start>{start}</Start><End>{stop - 1}</End>"
                       f"</{'PageRange' if valid else 'ClearRange'}>" for start, stop, valid in ranges)
        return Response(f'<?xml version="1.0" encoding="utf-8"?><PageList>{body}</PageList>', media_type="application/xml",
                        headers=headers(**{"x-ms-blob-content-length": str(size)}))
    common = {"x-ms-blob-type": "PageBlob", "Accept-Ranges": "bytes"}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers(**common, **{"Content-Length": str(size)}))
    span = parse_range(request, size)
    if span is None:
        offset, length, status = 0, size, 200
    else:
        offset, length = span
        if offset >= size and size > 0:
            raise DiskError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
        length = min(length, size - offset)
        status = 206
        common["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{size}"
    plan = blob.read_plan(offset, length, snapshot)  # made here, on the event loop that owns the maps
    answer_headers = headers(**common, **{"Content-Length": str(length)})
    if length <= WHOLE_READ:
        def read() -> bytes:
            return b"".join(blob.read_pieces(plan))

        # A small range (an incremental backup reads thousands of 64 KiB ones) is read at once: a hop to a thread
        # would cost more than the read. A larger one is read in a thread, several requests' at once, and sent as
        # one body: one hop to the thread and back, where streaming took two per piece plus a task watching for
        # the client leaving.
        body = read() if length <= SMALL_READ else await anyio.to_thread.run_sync(read)
        return Response(body, status_code=status, media_type="application/octet-stream", headers=answer_headers)
    # A longer range streams, so memory stays bounded whatever a client asks for.
    return StreamingResponse(blob.read_pieces(plan), status_code=status, media_type="application/octet-stream",
                             headers=answer_headers)


async def release_later(store: DiskStore, name: str, blob: Blob, extents: dict[int, int]) -> None:
    """Give a deleted snapshot's slots back, on the event loop, once the answer is on its way."""
    if store.blobs.get(name) is blob:  # not if the blob itself was deleted meanwhile (that released everything)
        blob.release(extents)


def delete(request: Request, store: DiskStore, name: str) -> Response:
    snapshot = snapshot_param(request)
    blob = store.get(name)
    if snapshot is not None:
        extents = blob.detach_snapshot(snapshot)
        return Response(status_code=202, headers=headers(),
                        background=BackgroundTask(release_later, store, name, blob, extents))
    if blob.snapshots and request.headers.get("x-ms-delete-snapshots") != "include":
        raise DiskError(409, "SnapshotsPresent", "This operation is not permitted because the blob has snapshots.")
    store.delete(name)
    return Response(status_code=202, headers=headers())
