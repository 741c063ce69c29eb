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

Errors are the storage service's ``<Error><Code/><Message/></Error>`` with ``x-ms-error-code``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

import anyio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from fabric.disks import Blob, Body, DiskError, DiskStore

RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
SMALL_READ = 64 * 1024  # read on the event loop; 256 KiB direct reads blocked it long enough to slow a restore
WHOLE_READ = 4 * 1024 * 1024


def storage_error(error: DiskError) -> Response:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    request_id = uuid.uuid4()
    extra = f"<HeaderName>{error.header[0]}</HeaderName><HeaderValue>{error.header[1]}</HeaderValue>" if error.header else ""
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{error.code}</Code><Message>{error.message}\n'
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
        raise DiskError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                        (name, value))
    start = int(match.group(1))
    if match.group(2):
        end = int(match.group(2))
    elif size is not None:
        end = size - 1
    else:
        raise DiskError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                        (name, value))
    return start, end - start + 1


async def handle(request: Request, store: DiskStore, name: str) -> Response:
    try:
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
        length = request.headers.get("x-ms-blob-content-length", "")
        if not length.isdigit():
            raise DiskError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.",
                            ("x-ms-blob-content-length", length))
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
            # The body stays in the pieces it arrived in: the thread that lands it copies each byte once.
            body = Body([piece async for piece in request.stream()])
            if len(body) != length:
                raise DiskError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct "
                                "format.", ("Content-Length", str(len(body))))
            # The maps change here, on the event loop; a thread gives the disk the bytes, so the loop goes on
            # receiving other requests meanwhile (direct writes block for as long as the device takes).
            runs = blob.stage_write(offset, body)
            await anyio.to_thread.run_sync(blob.land, runs, body)
        else:
            raise DiskError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                            ("x-ms-page-write", action))
        return Response(status_code=201, headers=headers())
    if comp == "snapshot":
        from fabric.agent import snapshot_id

        sid = snapshot_id()
        blob.snapshot(sid)
        return Response(status_code=201, headers=headers(**{"x-ms-snapshot": sid}))
    raise DiskError(400, "InvalidQueryParameterValue", f"Value for one of the query parameters specified in the request URI "
                    f"is invalid: comp={comp}.")


async def get(request: Request, store: DiskStore, name: str) -> Response:
    blob = store.get(name)
    snapshot = request.query_params.get("snapshot")
    size, _ = blob.version(snapshot)
    if request.query_params.get("comp") == "pagelist":
        ranges = blob.page_ranges(snapshot, request.query_params.get("prevsnapshot"))
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
    snapshot = request.query_params.get("snapshot")
    blob = store.get(name)
    if snapshot is not None:
        extents = blob.detach_snapshot(snapshot)
        return Response(status_code=202, headers=headers(),
                        background=BackgroundTask(release_later, store, name, blob, extents))
    if blob.snapshots and request.headers.get("x-ms-delete-snapshots") != "include":
        raise DiskError(409, "SnapshotsPresent", "This operation is not permitted because the blob has snapshots.")
    store.delete(name)
    return Response(status_code=202, headers=headers())
