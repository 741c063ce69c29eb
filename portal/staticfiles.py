"""Static files under ASGI: WhiteNoise's file response with an asynchronous body.

WhiteNoise answers with a ``FileResponse`` whose body is the open file, a
synchronous iterator. Under ASGI (uvicorn, as ``make run`` serves the portal)
Django then warns "StreamingHttpResponse must consume synchronous iterators"
on every stylesheet and script. This middleware keeps WhiteNoise for finding,
caching and compressing the files and only swaps the body for an
asynchronous one that reads the same file off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import IO, Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware

CHUNK = 64 * 1024


async def _read(file: IO[bytes] | None) -> AsyncIterator[bytes]:
    if file is None:  # HEAD, 304 Not Modified: no body
        return
    while chunk := await asyncio.to_thread(file.read, CHUNK):
        yield chunk


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, with an asynchronous body for the requests that came in over ASGI."""

    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> HttpResponseBase:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        if isinstance(request, ASGIRequest):
            file = response.file_to_stream  # closed by the response (it is among its resource closers)
            response.streaming_content = _read(file)
        return response
