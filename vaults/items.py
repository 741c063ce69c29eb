"""Registered Items tab: the list, DISCOVER, the REGISTER dialog and UNREGISTER."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from jobs.errors import OperationInProgress
from jobs.models import Operation
from jobs.services import start_job
from portal.access import can_operate
from vaults.models import RegisteredItem, Vault, VirtualMachine
from vaults.registration import RegistrationRefused, register_vms, unregister_items
from vaults.views import ids_from, notice, vault_or_404, vault_page

DISCOVERY_IN_PROGRESS = "Another Discovery operation is already in progress"



def registered_items(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    items = vault.registered_items.select_related("vm", "protection")
    context = {"items": items}
    if request.htmx and request.htmx.target == "registered-items":  # the live refresh of the table
        return render(request, "vaults/registered_items.html#item-table", {"vault": vault, **context})
    return vault_page(request, vault, "registered", "vaults/registered_items.html", context)


def start_discovery(user, vault: Vault):
    return start_job(operation=Operation.DISCOVERY, user=user, subscription=vault.subscription, vault=vault,
                     item_type="vault", item_key=f"vault:{vault.pk}:discovery", item_name=vault.name,
                     task_name="vaults.discover", params={"vault": vault.pk})


@require_POST
def discover(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    if not can_operate(request.user):
        return notice("Only Backup Operators and Administrators can discover VMs.")
    try:
        start_discovery(request.user, vault)
    except OperationInProgress:
        return notice(DISCOVERY_IN_PROGRESS + ".")
    return HttpResponse(status=204)


def registrable(vault: Vault):
    """Discovered VMs of the vault's region that no vault holds (a failed registration here may be retried)."""
    return (VirtualMachine.objects.filter(subscription=vault.subscription, region=vault.region, gone=False)
            .exclude(registration__status__in=[s for s in RegisteredItem.Status.values if s != "error"])
            .exclude(registration__vault__in=Vault.objects.exclude(pk=vault.pk)))


def register_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    return render(request, "vaults/register_dialog.html", {"vault": vault, "vms": registrable(vault)})


@require_POST
def register(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    try:
        outcomes = register_vms(request.user, vault, ids_from(request.POST.getlist("vm") or request.POST.getlist("vms")))
    except RegistrationRefused as refusal:
        return notice(str(refusal))
    refusals = [o.refusal for o in outcomes if o.refusal]
    if refusals:
        return notice(" ".join(refusals))
    if not any(o.item is not None for o in outcomes):
        return notice("Select at least one virtual machine to register.")
    return HttpResponse(status=204)


@require_POST
def unregister(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    try:
        refusals = unregister_items(request.user, vault, ids_from(request.POST.getlist("item") or request.POST.getlist("items")))
    except RegistrationRefused as refusal:
        return notice(str(refusal))
    return notice(" ".join(refusals)) if refusals else HttpResponse(status=204)
