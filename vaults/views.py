"""Recovery Services pages: the vault list, quick create, and each vault's tabs."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jobs.models import Job
from jobs.views import render_job_list
from portal.access import can_administer
from vaults import services
from vaults.forms import DeleteVaultForm, QuickCreateForm, ReplicationForm, SubscriptionForm
from vaults.models import Subscription, Vault
from vaults.services import VaultError

# (key, label, url name): the vault's tabs, in the classic order.
VAULT_TABS = (
    ("quickstart", "QUICK START", "vaults:quickstart"),
    ("dashboard", "DASHBOARD", "vaults:dashboard"),
    ("registered", "REGISTERED ITEMS", "vaults:registered"),
    ("protected", "PROTECTED ITEMS", "vaults:protected"),
    ("policies", "POLICIES", "vaults:policies"),
    ("jobs", "JOBS", "vaults:jobs"),
    ("configure", "CONFIGURE", "vaults:configure"),
)
_LAST_TAB = "vault-tab-{}"


def notice(text: str, state: str = "failed", *refresh: str) -> HttpResponse:
    """An empty answer that says ``text`` in the notification strip (shell.js listens for portal:notice).

    ``refresh`` names further events to fire on the page (e.g. "portal:item"), so its lists reload.
    """
    response = HttpResponse(status=204)
    response["HX-Trigger"] = json.dumps({"portal:notice": {"text": text, "state": state},
                                         **{event: {} for event in refresh}})
    return response


def ids_from(values: list[str]) -> list[int]:
    """Ids from form values that may each hold one id or a comma-separated list of them."""
    return [int(v) for value in values for v in value.split(",") if v.strip().isdigit()]


def vault_list(request: HttpRequest) -> HttpResponse:
    vaults = Vault.objects.visible_to(request.user).select_related("subscription")
    template = "vaults/list.html#vault-table" if request.htmx else "vaults/list.html"
    return render(request, template, {"page_title": "recovery services", "vaults": vaults})


def vault_or_404(request: HttpRequest, pk: int) -> Vault:
    return get_object_or_404(Vault.objects.visible_to(request.user).select_related("subscription"), pk=pk)


def vault_page(request: HttpRequest, vault: Vault, tab: str, template: str, context: dict | None = None):
    request.session[_LAST_TAB.format(vault.pk)] = tab
    context = {"vault": vault, "page_title": vault.name, "tab": tab, "tabs": VAULT_TABS,
               "sse_query": f"vault={vault.pk}", **(context or {})}
    return render(request, template, context)


def vault_open(request: HttpRequest, pk: int) -> HttpResponse:
    """A vault's link: its Quick Start the first time, then the tab last used."""
    vault = vault_or_404(request, pk)
    tab = request.session.get(_LAST_TAB.format(vault.pk), "quickstart")
    url_name = dict((key, name) for key, _label, name in VAULT_TABS).get(tab, "vaults:quickstart")
    return redirect(url_name, vault.pk)


def quickstart(request: HttpRequest, pk: int) -> HttpResponse:
    return vault_page(request, vault_or_404(request, pk), "quickstart", "vaults/quickstart.html")


def dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    context = {"summary": services.dashboard_summary(vault)}
    if request.htmx:
        return render(request, "vaults/dashboard.html#summary", {"vault": vault, **context})
    return vault_page(request, vault, "dashboard", "vaults/dashboard.html",
                       {**context, "delete_form": DeleteVaultForm()})


def jobs(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    request.session[_LAST_TAB.format(vault.pk)] = "jobs"
    return render_job_list(request, Job.objects.visible_to(request.user).filter(vault=vault),
                           {"vault": vault, "tab": "jobs", "tabs": VAULT_TABS, "page_title": vault.name},
                           template="vaults/jobs.html")


def configure(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    form = ReplicationForm(request.POST or None, initial={"replication": vault.replication})
    if request.method == "POST" and form.is_valid():
        try:
            services.set_replication(request.user, vault, form.cleaned_data["replication"])
        except VaultError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Storage replication saved.")
            return redirect("vaults:configure", vault.pk)
    return vault_page(request, vault, "configure", "vaults/configure.html", {"form": form})


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    form = DeleteVaultForm(request.POST)
    try:
        if not form.is_valid():
            raise VaultError(form.errors["reason"][0], field="reason")
        services.delete_vault(request.user, vault, form.cleaned_data["reason"])
    except VaultError as error:
        messages.error(request, str(error))
        return redirect("vaults:dashboard", vault.pk)
    messages.success(request, f"Deleted backup vault '{vault.name}'.")
    return redirect("vaults:list")


def _subscriptions(request: HttpRequest):
    return Subscription.objects.visible_to(request.user)


def quick_create(request: HttpRequest) -> HttpResponse:
    """The quick-create form in the NEW drawer: GET renders it with the subscription's regions, POST creates."""
    subscriptions = _subscriptions(request)
    chosen = subscriptions.filter(pk=request.POST.get("subscription") or request.GET.get("subscription")).first()
    chosen = chosen or subscriptions.first()
    if chosen is None:
        return render(request, "vaults/quick_create.html", {"no_subscription": True})
    regions, region_error = [], ""
    try:
        regions = services.regions_of(chosen)
    except VaultError as error:
        region_error = str(error)
    form = QuickCreateForm(request.POST or None, subscriptions=subscriptions, regions=regions,
                           initial={"subscription": chosen})
    created = None
    if request.method == "POST" and not region_error and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.create_vault(request.user, data["subscription"], data["name"], data["region"])
        except VaultError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            form = QuickCreateForm(subscriptions=subscriptions, regions=regions, initial={"subscription": chosen})
    context = {"qc_form": form, "region_error": region_error, "created": created,
               "several_subscriptions": subscriptions.count() > 1}
    response = render(request, "vaults/quick_create.html", context)
    if created is not None:
        if not request.htmx:
            return redirect("vaults:list")
        response["HX-Trigger"] = "vaultCreated"
    elif request.method == "POST" and not request.htmx:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors) or region_error)
        return redirect("vaults:list")
    return response


def subscription_list(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST":
        if not can_administer(request.user):
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.add_subscription(request.user, name=data["name"], subscription_id=data["subscription_id"],
                                          host=data["host"], protocol=data["protocol"],
                                          certificate_pem=data["certificate"], ca_pem=data["ca_certificate"])
            except VaultError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                messages.success(request, f"Added subscription '{data['name']}'.")
                return redirect("vaults:subscriptions")
    return render(request, "vaults/subscriptions.html", {
        "page_title": "subscriptions", "subscriptions": _subscriptions(request), "form": form,
    })


@require_POST
def subscription_test(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(_subscriptions(request), pk=pk)
    ok, message = services.test_connection(subscription)
    if request.htmx:
        return render(request, "vaults/subscriptions.html#test-result", {"ok": ok, "message": message, "s": subscription})
    (messages.success if ok else messages.error)(request, message)
    return redirect(reverse("vaults:subscriptions"))
