"""Who is calling: a personal access token (``Authorization: Bearer <token>``) or the signed-in session.

A token acts with its user's roles and subscriptions, exactly as the user would on the pages. The session works
too (the docs page uses it), with Django's CSRF check on unsafe methods: a page of another site cannot make a
signed-in browser change anything.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from api.tokens import token_user


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user, why = token_user(token)
        if user is None:
            request.api_auth_failure = why  # the 401's sentence says what is wrong with the token
            return None
        request.user = user  # the services read request.user, as for a page
        return user


class SessionAuth(APIKeyCookie):
    """The session cookie, with the CSRF check for unsafe methods once the session is known to be signed in (an
    anonymous request is answered 401, not a CSRF failure)."""

    param_name = "sessionid"

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        if self.csrf and check_csrf(request):
            raise HttpError(403, "CSRF check failed")
        return request.user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # __call__ does the work
        return request.user if request.user.is_authenticated else None
