"""Sign-in throttling: what a person reads when too many wrong passwords locked a user name on their address.

django-axes counts the failures and refuses the sign-in (see ``AXES_*`` in settings); this module only words the
refusal, on the login page itself, so the person knows how long to wait and who can lift it sooner.
"""

from __future__ import annotations

from datetime import timedelta

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def lockout_response(request: HttpRequest, original_response: object = None, credentials: object = None) -> HttpResponse:
    """The login page, saying the sign-in is locked (HTTP 429).

    django-axes calls this with ``(request, response, credentials)`` from a sync request and with
    ``(request, credentials)`` from an ASGI one, so neither is relied on: the user name comes from the posted form.
    """
    username = get_client_username(request, None) or ""
    sentence = lockout_sentence(username, get_failure_limit(request, None), get_cool_off(request))
    # An unbound form: a bound one would authenticate again while the page renders, and count one more failure.
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "lockout": sentence, "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


def lockout_sentence(username: str, failures: int, cool_off: timedelta | None) -> str:
    name = f"'{username}'" if username else _("this user name")
    if cool_off is None:
        wait = _("It stays locked until an administrator unlocks it")
    else:
        wait = _("Wait %(duration)s before you try again (each attempt meanwhile starts the wait over), "
                 "or ask an administrator to unlock it sooner") % {"duration": duration_words(cool_off)}
    return _("Sign-in as %(name)s from this address is locked after %(failures)d failed attempts. %(wait)s "
             "with: manage.py axes_reset_username %(username)s") % {
        "name": name, "failures": failures, "wait": wait, "username": username or "NAME"}


def duration_words(delta: timedelta) -> str:
    """'15 minutes', '1 hour', '30 seconds'.

    Written here because Django's ``timesince`` rounds anything under a minute to "0 minutes".
    """
    seconds = int(delta.total_seconds())
    if seconds >= 3600 and seconds % 3600 == 0:
        return ngettext("%(count)d hour", "%(count)d hours", seconds // 3600) % {"count": seconds // 3600}
    if seconds >= 60 and seconds % 60 == 0:
        return ngettext("%(count)d minute", "%(count)d minutes", seconds // 60) % {"count": seconds // 60}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
