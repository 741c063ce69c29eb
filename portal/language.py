"""Which language a page is in: the top bar's switch (kept on the user and in the language cookie) over the
browser's Accept-Language, which LocaleMiddleware reads."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.models import UserPreference

_CODES = {code for code, _name in settings.LANGUAGES}


def saved_language(user: AbstractBaseUser | AnonymousUser) -> str:
    if not user.is_authenticated:
        return ""
    preference = UserPreference.objects.filter(user=user).only("language").first()
    return preference.language if preference and preference.language in _CODES else ""


class UserLanguageMiddleware:
    """After authentication: a signed-in user's saved language replaces what LocaleMiddleware chose."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = saved_language(request.user)
        if language and language != translation.get_language():
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            # Signed in from another browser: its sign-in page, after signing out, speaks the same language.
            remember(response, language)
        return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The top bar's switch: saves the choice on the user and in the cookie (so the sign-in page keeps it after
    signing out), then goes back to the page it was on."""
    language = request.POST.get("language", "")
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    if language not in _CODES:
        return response
    UserPreference.objects.update_or_create(user=request.user, defaults={"language": language})
    remember(response, language)
    return response


def remember(response: HttpResponse, language: str) -> None:
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, path="/",
                        samesite="Lax", secure=settings.SESSION_COOKIE_SECURE, httponly=True)
