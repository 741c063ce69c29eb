"""``/api/v1/``: the API's own authentication answers 401 in JSON, so the portal's sign-in redirect stays off it;
the root itself leads to the docs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, re_path
from django.views.generic import RedirectView

from api import views
from api.main import api
from api.problems import problem


def _problem_for_wrong_method(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """django-ninja answers a method a path lacks with a plain-text 405; say it as a problem, keeping Allow."""
    if inspect.iscoroutinefunction(view):  # every operation here is sync; an async one would need its own wrapper
        raise TypeError(f"{view!r} is async: wrap it with an async wrapper")

    @functools.wraps(view)  # keeps csrf_exempt and the other marks the view carries
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
            allowed = response.get("Allow", "")
            return problem(405, "MethodNotAllowed", f"This path answers {allowed or 'no method'}, not "
                                                    f"{request.method}.", headers={"Allow": allowed})
        return response

    return wrapped


def _without_sign_in_redirect(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            if pattern.name != "api-root":  # the root is for people: they sign in first
                pattern.callback = login_not_required(_problem_for_wrong_method(pattern.callback))
        else:
            _without_sign_in_redirect(pattern.url_patterns)
    return patterns


@login_not_required
def no_such_path(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other path under /api/v1/ is a problem too, not the portal's HTML 404 page."""
    return problem(404, "NoSuchPath", f"There is no /api/v1/{rest} in this API: see /api/v1/openapi.json.")


_patterns, _app, _namespace = api.urls
# The API reverses its root by this name; a person who opens it is shown the docs.
_patterns = [path("", RedirectView.as_view(pattern_name=f"{_namespace}:openapi-view"), name="api-root")
             if getattr(pattern, "name", None) == "api-root" else pattern for pattern in _patterns]
api_urls = ([*_without_sign_in_redirect(_patterns), re_path(r"^(?P<rest>.*)$", no_such_path, name="no-such-path")],
            _namespace)  # included under the namespace the API reverses by

token_urls = ([
    path("", views.token_list, name="list"),
    path("<int:pk>/revoke/", views.token_revoke, name="revoke"),
], "tokens")
