"""The NinjaAPI of ``/api/v1/``: its routers, authentication, problem responses, schema and local docs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase

from api import problems
from api.auth import SessionAuth, TokenAuth
from api.routes import items, jobs, policies, protection, vaults

DESCRIPTION = """Recovery Services: vaults, registered and protected items, policies, recovery points, jobs.

Authenticate with a personal access token from the **Access tokens** page (`Authorization: Bearer <token>`), or
with the signed-in session (send the CSRF token in `X-CSRFToken` for unsafe methods). Lists are paged by cursor:
follow `next`. Refusals are problem responses (`application/problem+json`) with `code`, `detail` and, where there
is one, `recommendation`. Operations that start a job answer 202 with the job and its URL in `Location`."""


class LocalSwagger(DocsBase):
    """Swagger UI from the portal's own static files (``static/api/swagger-ui``): the docs page asks no CDN."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        return render(request, "api/docs.html", {"api": api, "openapi_url": reverse(f"{api.urls_namespace}:openapi-json")})


class PortalAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> dict:
        """Problem responses are declared as ``application/problem+json``, as they are sent."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if str(status).startswith(("4", "5")) and "application/json" in content:
                        answer["content"] = {problems.CONTENT_TYPE: content["application/json"]}
        return schema


api = PortalAPI(title="Recovery Services portal API", version="1", description=DESCRIPTION,
                auth=[TokenAuth(), SessionAuth()], docs=LocalSwagger(), urls_namespace="api")
problems.install(api)
for module in (vaults, items, protection, policies, jobs):
    api.add_router("", module.router)
