"""Subscriptions, from the vault list: an administrator connects another endpoint and tests a connection."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vaults.forms.vaults import SubscriptionForm
from vaults.models import Subscription
from vaults.services import subscriptions as services
from vaults.services.refusals import NotAllowed, Refusal


def _subscriptions(request: HttpRequest) -> QuerySet[Subscription]:
    return Subscription.objects.visible_to(request.user)


def subscription_list(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.add_subscription(request.user, name=data["name"], subscription_id=data["subscription_id"],
                                      host=data["host"], protocol=data["protocol"],
                                      certificate_pem=data["certificate"], ca_pem=data["ca_certificate"])
        except NotAllowed:
            raise Http404 from None  # the form is not offered to operators and readers
        except Refusal as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, _("Added subscription '%(name)s'.") % {"name": data["name"]})
            return redirect("vaults:subscriptions")
    return render(request, "vaults/subscriptions.html", {
        "page_title": "subscriptions", "subscriptions": _subscriptions(request), "form": form,
    })


@require_POST
def subscription_test(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(_subscriptions(request), pk=pk)
    status = 200
    try:
        ok, message = services.test_connection(request.user, subscription)
    except NotAllowed as refusal:
        ok, message, status = False, str(refusal), 403
    if request.htmx:
        return render(request, "vaults/subscriptions.html#test-result", {"ok": ok, "message": message, "s": subscription},
                      status=status)
    (messages.success if ok else messages.error)(request, message)
    return redirect(reverse("vaults:subscriptions"))
