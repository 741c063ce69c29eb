"""Shell-level views: home and the live event stream."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from portal import events


def home(request: HttpRequest) -> HttpResponse:
    return redirect("vaults:list")


@require_GET
async def event_stream(request: HttpRequest) -> StreamingHttpResponse:
    """Server-sent events for the signed-in user, plus the objects the page asks for.

    ``?vault=<id>&job=<id>`` add those objects' channels; each is checked
    against what the user may see, and an object they may not see answers 404
    before any stream is opened.
    """
    user = await request.auser()
    if not user.is_authenticated:  # LoginRequiredMiddleware redirects first; belt and braces
        raise Http404
    channels = [f"user:{user.pk}"]
    for kind, values in request.GET.lists():
        for value in values:
            channel = await sync_to_async(events.authorize_channel)(user, kind, value)
            if channel is None:
                raise Http404(f"No {kind} {value!r} here.")
            channels.append(channel)
    response = StreamingHttpResponse(events.stream(channels), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
