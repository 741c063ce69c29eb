"""The Access tokens page (``/account/tokens/``): a user makes and revokes their own personal access tokens.

A new token's secret is in the answer to the POST that made it and nowhere else: not in a redirect, a message,
the session or a later page. The page is never cached. Each form carries a one-time id, so a reload that sends the
POST again makes no second token and shows no secret.
"""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from api import tokens
from jobs.errors import Refusal

USED_FORMS = "api-token-forms-used"


class TokenForm(forms.Form):
    once = forms.CharField(widget=forms.HiddenInput, max_length=64)
    name = forms.CharField(max_length=tokens.NAME_MAX, strip=True, label=gettext_lazy("Name"),
                           error_messages={"required": gettext_lazy("Give the token a name saying what will use it.")})
    days = forms.IntegerField(required=False, min_value=1, max_value=tokens.MAX_DAYS,
                              label=gettext_lazy("Expires after (days)"),
                              help_text=format_lazy(gettext_lazy("1 to {days}; empty: it never expires."),
                                                    days=tokens.MAX_DAYS))


def _first_use(request: HttpRequest, once: str) -> bool:
    used = request.session.get(USED_FORMS, [])
    if once in used:
        return False
    request.session[USED_FORMS] = [*used[-19:], once]
    return True


@never_cache
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None, initial={"once": secrets.token_urlsafe(16)})
    created = secret = None
    if request.method == "POST" and form.is_valid():
        if not _first_use(request, form.cleaned_data["once"]):
            messages.info(request, _("That form was sent already: its token exists (below) and its secret is not shown "
                                     "again. Revoke it and create another if you did not copy it."))
            return redirect("tokens:list")
        try:
            created, secret = tokens.create_token(request.user, form.cleaned_data["name"], form.cleaned_data["days"])
        except Refusal as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        else:
            form = TokenForm(initial={"once": secrets.token_urlsafe(16)})
    context = {"page_title": _("access tokens"), "form": form, "tokens": tokens.tokens_of(request.user),
               "created": created, "secret": secret}
    return render(request, "api/tokens.html", context, status=400 if form.errors else 200)


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(tokens.tokens_of(request.user), pk=pk)  # another user's token answers 404
    if tokens.revoke_token(request.user, token):
        messages.success(request, _("Revoked token '%(name)s' (%(prefix)s…): it no longer works.")
                         % {"name": token.name, "prefix": token.prefix})
    return redirect("tokens:list")
