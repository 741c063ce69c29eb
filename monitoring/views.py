"""/metrics (Prometheus, for a scraper with the token or at an allowed address) and /healthz (anyone)."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from monitoring import health
from monitoring.access import scraper_allowed
from monitoring.metrics import PortalCollector

OK, FAIL = "ok", "fail"


@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not scraper_allowed(request):
        return HttpResponseForbidden()
    # A registry of its own: the portal's figures only, none of this process's own (they differ per process).
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)


@login_not_required
@never_cache
@require_safe
async def healthz(request: HttpRequest) -> HttpResponse:
    # Async, with the slow parts in threads: a fabric that does not answer holds up no other request meanwhile.
    database, endpoints = await sync_to_async(health.database_and_endpoints)()
    if endpoints is None:  # no database, no list of endpoints: the fabric cannot be vouched for
        (broker, workers), fabric = await asyncio.to_thread(health.broker_and_workers), False
    else:
        (broker, workers), fabric = await asyncio.gather(asyncio.to_thread(health.broker_and_workers),
                                                         asyncio.to_thread(health.fabric_cache.answers, endpoints))
    checks = {"web": True, "database": database, "redis": broker, "workers": workers, "fabric": fabric}
    healthy = all(checks.values())
    body = {"status": OK if healthy else FAIL, "checks": {name: OK if good else FAIL for name, good in checks.items()}}
    return HttpResponse(json.dumps(body), content_type="application/json", status=200 if healthy else 503)
