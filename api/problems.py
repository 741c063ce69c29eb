"""Problem responses (RFC 9457): every refusal, validation error and access failure as ``application/problem+json``.

A ``Refusal`` keeps the sentence the page shows (``detail``) and its code; its class gives the status:
NotAllowed 403, InvalidRequest 400, NotNow and OperationInProgress 409. An id the user may not see is 404, never
403, so an outsider learns nothing of another subscription.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from jobs.errors import Refusal
from vaults.cloud.errors import FabricError
from vaults.policy.rules import PolicyInvalid
from vaults.services.refusals import InvalidRequest, NotAllowed

CONTENT_TYPE = "application/problem+json"

TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Not allowed", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 422: "Invalid input",
          502: "The subscription's endpoint did not answer"}

# What to do next, for the refusals whose sentence does not already carry it in a form a program can show apart.
NEXT_STEP = {
    "OperationInProgress": "Wait until the item's running job ends (GET /api/v1/jobs?status=active), then send the "
                           "request again.",
    "NotAllowed": "Ask an administrator for a role that allows this, or use a token of a user who has one.",
    "NotAuthenticated": "Send 'Authorization: Bearer <token>' with a token made on the Access tokens page "
                        "(/account/tokens/), or sign in.",
    "CsrfFailed": "Send the csrftoken cookie's value in the X-CSRFToken header, or use a token instead of the session.",
    "EndpointUnreachable": "Check that the subscription's endpoint is reachable, then send the request again.",
}


class Problem(Schema):
    """RFC 9457 problem details, with the refusal's stable ``code`` and, where there is one, the next step."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    recommendation: str | None = None
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem(status: int, code: str, detail: str, *, field: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> HttpResponse:
    body: dict[str, Any] = {"type": f"urn:recovery-portal:problem:{code}", "title": TITLES.get(status, "Refused"),
                            "status": status, "detail": detail, "code": code}
    if code in NEXT_STEP:
        body["recommendation"] = NEXT_STEP[code]
    if field:
        body["field"] = field
    if errors is not None:
        body["errors"] = errors
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE, headers=headers)


def status_of(refusal: Refusal) -> int:
    if isinstance(refusal, NotAllowed) or refusal.code == "NotAllowed":
        return 403
    if isinstance(refusal, InvalidRequest) or refusal.code == "InvalidRequest":
        return 400
    if refusal.code == "EndpointUnreachable":
        return 502
    return 409  # NotNow, OperationInProgress, CancelRefused and the rest: the state of things refuses it now


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else f"{text}."


def install(api: NinjaAPI) -> None:
    """Make every error ``api`` answers a problem response."""

    @api.exception_handler(Refusal)
    def refused(request: HttpRequest, exc: Refusal) -> HttpResponse:
        return problem(status_of(exc), exc.code, _sentence(str(exc)), field=exc.field)

    @api.exception_handler(PolicyInvalid)
    def policy_invalid(request: HttpRequest, exc: PolicyInvalid) -> HttpResponse:
        errors = [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors]
        return problem(400, "InvalidPolicy", " ".join(_sentence(e.message) for e in exc.errors), errors=errors,
                       field=exc.errors[0].field if exc.errors else None)

    @api.exception_handler(FabricError)
    def fabric_failed(request: HttpRequest, exc: FabricError) -> HttpResponse:
        return problem(502, "EndpointUnreachable", _sentence(f"The subscription's endpoint could not be asked. {exc}"))

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [{"loc": [str(part) for part in e.get("loc", ())], "message": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors]
        where = ", ".join(".".join(e["loc"][1:] or e["loc"]) + f": {e['message']}" for e in errors[:5])
        return problem(422, "ValidationError", _sentence(f"The request does not match the schema ({where})"),
                       errors=errors)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        detail = getattr(request, "api_auth_failure", "") or "Authentication is required."
        return problem(401, "NotAuthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(404, "NotFound", "No such object, or not one you may see.")

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 403 and "CSRF" in str(exc):
            return problem(403, "CsrfFailed", "The CSRF check failed: a request signed in by the session must "
                                              "carry the CSRF token.")
        return problem(exc.status_code, "BadRequest" if exc.status_code == 400 else f"Http{exc.status_code}",
                       _sentence(str(exc)))


# The problem responses an operation may answer, for its ``response=`` (and so for the schema).
READ = {401: Problem, 404: Problem, 422: Problem}
WRITE = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
LIST = {400: Problem, 401: Problem, 422: Problem}
REMOTE = {**WRITE, 502: Problem}  # operations that ask the subscription's endpoint first
