"""``/api/v1/``: the API's own authentication answers 401 in JSON, so the portal's sign-in redirect stays off it;
the root itself leads to the docs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, path
from django.views.generic import RedirectView

from api import views
from api.main import api


def _without_sign_in_redirect(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            if pattern.name != "api-root":  # the root is for people: they sign in first
                login_not_required(pattern.callback)
        else:
            _without_sign_in_redirect(pattern.url_patterns)
    return patterns


_patterns, _app, _namespace = api.urls
# The API reverses its root by this name; a person who opens it is shown the docs.
_patterns = [path("", RedirectView.as_view(pattern_name=f"{_namespace}:openapi-view"), name="api-root")
             if getattr(pattern, "name", None) == "api-root" else pattern for pattern in _patterns]
api_urls = (_without_sign_in_redirect(_patterns), _namespace)  # included under the namespace the API reverses by

token_urls = ([
    path("", views.token_list, name="list"),
    path("<int:pk>/revoke/", views.token_revoke, name="revoke"),
], "tokens")
