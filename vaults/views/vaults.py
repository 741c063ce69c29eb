"""Recovery Services pages: the vault list, quick create, and the tabs of a vault that are its own (Quick Start,
Dashboard, Jobs, Configure) and DELETE.

CONFIGURE has one section per setting, each its own form posted to its own URL: storage replication, soft delete,
immutability. A section's view renders the whole page again with its own form's errors."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jobs.models import Job
from jobs.views import render_job_list
from vaults.forms.vaults import DeleteVaultForm, ImmutabilityForm, QuickCreateForm, ReplicationForm, SoftDeleteForm
from vaults.models import Subscription, Vault
from vaults.operations.vaults import CreateVault
from vaults.services import keys, soft_delete
from vaults.services import vaults as services
from vaults.services.refusals import Refusal
from vaults.views.charts import dashboard_charts
from vaults.views.common import LAST_TAB, VAULT_TABS, vault_or_404, vault_page


def vault_list(request: HttpRequest) -> HttpResponse:
    vaults = Vault.objects.visible_to(request.user).select_related("subscription")
    template = "vaults/list.html#vault-table" if request.htmx else "vaults/list.html"
    return render(request, template, {"page_title": "recovery services", "vaults": vaults})


def vault_open(request: HttpRequest, pk: int) -> HttpResponse:
    """A vault's link: its Quick Start the first time, then the tab last used."""
    vault = vault_or_404(request, pk)
    tab = request.session.get(LAST_TAB.format(vault.pk), "quickstart")
    url_name = dict((key, name) for key, _label, name in VAULT_TABS).get(tab, "vaults:quickstart")
    return redirect(url_name, vault.pk)


def quickstart(request: HttpRequest, pk: int) -> HttpResponse:
    return vault_page(request, vault_or_404(request, pk), "quickstart", "vaults/quickstart.html")


def dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    context = {"summary": services.dashboard_summary(vault), **dashboard_charts(vault)}
    if request.htmx:
        return render(request, "vaults/dashboard.html#summary", {"vault": vault, **context})
    return vault_page(request, vault, "dashboard", "vaults/dashboard.html",
                       {**context, "delete_form": DeleteVaultForm()})


def jobs(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    request.session[LAST_TAB.format(vault.pk)] = "jobs"
    return render_job_list(request, Job.objects.visible_to(request.user).filter(vault=vault),
                           {"vault": vault, "tab": "jobs", "tabs": VAULT_TABS, "page_title": vault.name},
                           template="vaults/jobs.html")


def configure(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    form = ReplicationForm(request.POST or None, initial={"replication": vault.replication})
    if request.method == "POST" and form.is_valid():
        try:
            services.set_replication(request.user, vault, form.cleaned_data["replication"])
        except Refusal as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Storage replication saved."))
            return redirect("vaults:configure", vault.pk)
    return _configure_page(request, vault, form=form)


def _configure_page(request: HttpRequest, vault: Vault, **forms: object) -> HttpResponse:
    """The CONFIGURE tab with every section's form: the one just posted (in ``forms``) keeps what was entered."""
    context = {"form": ReplicationForm(initial={"replication": vault.replication}),
               "soft_delete_form": SoftDeleteForm.of(vault),
               "immutability_form": ImmutabilityForm(initial={"immutability": vault.immutability}),
               "encryption": keys.encryption_summary(vault), **forms}
    return vault_page(request, vault, "configure", "vaults/configure.html", context)


def _refused(form: forms.Form, error: Refusal) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error))


@require_POST
def configure_soft_delete(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    form = SoftDeleteForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            soft_delete.set_soft_delete(request.user, vault, enabled=data["soft_delete_enabled"],
                                        days=data["soft_delete_days"], always_on=data["soft_delete_always_on"])
        except Refusal as error:
            _refused(form, error)
        else:
            messages.success(request, _("Soft delete settings saved."))
            return redirect("vaults:configure", vault.pk)
    return _configure_page(request, vault, soft_delete_form=form)


@require_POST
def configure_immutability(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    form = ImmutabilityForm(request.POST)
    if form.is_valid():
        try:
            soft_delete.set_immutability(request.user, vault, form.cleaned_data["immutability"],
                                         confirm_lock=form.cleaned_data["confirm_lock"])
        except Refusal as error:
            _refused(form, error)
        else:
            messages.success(request, _("Immutability saved: %(state)s.") % {"state": vault.get_immutability_display()})
            return redirect("vaults:configure", vault.pk)
    return _configure_page(request, vault, immutability_form=form)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    form = DeleteVaultForm(request.POST)
    try:
        if not form.is_valid():
            raise Refusal(form.errors["reason"][0], field="reason")
        services.delete_vault(request.user, vault, form.cleaned_data["reason"])
    except Refusal as error:
        messages.error(request, str(error))
        return redirect("vaults:dashboard", vault.pk)
    messages.success(request, _("Deleted backup vault '%(name)s'.") % {"name": vault.name})
    return redirect("vaults:list")


def quick_create(request: HttpRequest) -> HttpResponse:
    """The quick-create form in the NEW drawer: GET renders it with the subscription's regions, POST creates."""
    subscriptions = Subscription.objects.visible_to(request.user)
    chosen = subscriptions.filter(pk=request.POST.get("subscription") or request.GET.get("subscription")).first()
    chosen = chosen or subscriptions.first()
    if chosen is None:
        return render(request, "vaults/quick_create.html", {"no_subscription": True})
    regions, region_error = [], ""
    try:
        regions = services.regions_of(chosen)
    except Refusal as error:
        region_error = str(error)
    form = QuickCreateForm(request.POST or None, subscriptions=subscriptions, regions=regions,
                           initial={"subscription": chosen})
    created = None
    if request.method == "POST" and not region_error and form.is_valid():
        data = form.cleaned_data
        try:
            # A Create Vault job: the vault lists as Creating, the strip follows the job, View Job opens it.
            created = CreateVault.start(request.user, data["subscription"], data["name"], data["region"])
        except Refusal as error:
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


