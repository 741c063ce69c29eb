"""Registered Items tab: the list, DISCOVER, the REGISTER dialog and UNREGISTER."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jobs.errors import OperationInProgress
from vaults.operations.discovery import IN_PROGRESS, Discovery
from vaults.operations.registration import Register, Unregister
from vaults.services.refusals import Refusal
from vaults.services.registration import registrable
from vaults.views.common import ids_from, notice, vault_or_404, vault_page


def registered_items(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    items = vault.registered_items.select_related("vm", "protection")
    context = {"items": items}
    if request.htmx and request.htmx.target == "registered-items":  # the live refresh of the table
        return render(request, "vaults/registered_items.html#item-table", {"vault": vault, **context})
    return vault_page(request, vault, "registered", "vaults/registered_items.html", context)


@require_POST
def discover(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    try:
        Discovery.start(request.user, vault)
    except OperationInProgress:
        return notice(IN_PROGRESS)
    except Refusal as refusal:
        return notice(str(refusal))
    return HttpResponse(status=204)


def register_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    return render(request, "vaults/register_dialog.html", {"vault": vault, "vms": registrable(vault)})


@require_POST
def register(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    try:
        outcomes = Register.start_many(request.user, vault,
                                       ids_from(request.POST.getlist("vm") or request.POST.getlist("vms")))
    except Refusal as refusal:
        return notice(str(refusal))
    refusals = [o.refusal for o in outcomes if o.refusal]
    if refusals:
        return notice(" ".join(refusals))
    if not any(o.item is not None for o in outcomes):
        return notice(_("Select at least one virtual machine to register."))
    return HttpResponse(status=204)


@require_POST
def unregister(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    try:
        refusals = Unregister.start_many(request.user, vault,
                                         ids_from(request.POST.getlist("item") or request.POST.getlist("items")))
    except Refusal as refusal:
        return notice(str(refusal))
    return notice(" ".join(refusals)) if refusals else HttpResponse(status=204)
