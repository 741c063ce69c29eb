"""Policies tab: the list, the create/edit wizard with its live preview, and DELETE."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.access import can_administer
from portal.tables import Column, Grid, Table
from portal.zone import user_zone
from vaults.forms import policy as forms
from vaults.models import Policy, Vault
from vaults.operations.protection import ConfigureProtection
from vaults.policy import rules
from vaults.policy.retention import describe
from vaults.policy.schedule import describe_schedule, policy_in_zone
from vaults.services.policies import check_policy, create_policy, delete_policy, policies_with_usage, taken_names
from vaults.services.refusals import NotAllowed, Refusal, require_administrator
from vaults.views.common import notice, vault_or_404, vault_page

PAGES = 2

# Schedule and retention are read in the user's zone from the stored rules, so they do not sort in the query.
POLICY_TABLE = Table((Column("name", gettext_lazy("Name"), "name"), Column("schedule", gettext_lazy("Schedule")),
                      Column("retention", gettext_lazy("Retention")),
                      Column("vms", gettext_lazy("Virtual machines"), "vm_count")), default_sort="name",
                     search_field="name")


def policy_rows(vault: Vault, tz: ZoneInfo, grid: Grid) -> list[dict]:
    rows = []
    for row in grid.apply(policies_with_usage(vault), "name"):
        stored = row.rules
        _local, seen = policy_in_zone(stored, tz)
        rows.append({"policy": row, "schedule": describe_schedule(stored, tz),
                     "retention": [describe(r) for r in seen.retention], "vms": row.vm_count})
    return rows


def policy_list(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    grid = POLICY_TABLE.read(request.GET)
    context = {"rows": policy_rows(vault, user_zone(request), grid), "grid": grid,
               "can_administer": can_administer(request.user)}
    if request.htmx and request.htmx.target == "policies":
        return render(request, "vaults/policies.html#policy-table", {"vault": vault, **context})
    return vault_page(request, vault, "policies", "vaults/policies.html", context)


def _policy_of(vault: Vault, policy_pk: int | str | None) -> Policy | None:
    if not policy_pk:
        return None
    return get_object_or_404(vault.policies, pk=policy_pk)


def _editor(request: HttpRequest, vault: Vault, fields: forms.Fields, editing: Policy | None, *, page: int = 1,
            errors: dict | None = None, status: int = 200) -> HttpResponse:
    tz = user_zone(request)
    context = {"vault": vault, "f": fields, "editing": editing, "page": page, "pages": range(1, PAGES + 1),
               "vm_count": editing.protected_items.count() if editing else 0,
               "errors": errors or {}, **forms.editor_choices(tz, fields), **_live(vault, fields, editing, tz)}
    template = "vaults/policy_wizard.html#form" if request.method == "POST" else "vaults/policy_wizard.html"
    return render(request, template, context, status=status)


def _live(vault: Vault, fields: forms.Fields, editing: Policy | None, tz: ZoneInfo, *, name_touched: bool = True) -> dict:
    """Every refusal for the fields, and the preview when the schedule and retention are valid.

    A name the user has not typed in yet gets no message: a new policy's empty name is not a mistake until the user
    has edited it or moves on (NEXT and FINISH check it whatever happened)."""
    candidate = forms.to_policy(fields, tz)
    found = rules.validate(candidate, taken_names(vault, editing))
    summary = None
    if not [e for e in found if e.field != "name"]:
        summary = forms.summarise(candidate, tz)
    live_errors = forms.errors_by_field([e for e in found if name_touched or e.field != "name"])
    return {"live_errors": live_errors, "error_slots": forms.error_slots(live_errors), "summary": summary}


def _require_admin(request: HttpRequest) -> None:
    try:
        require_administrator(request.user, "edit policies")
    except NotAllowed:
        raise Http404 from None  # the editor is not offered to operators and readers


def policy_new(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    _require_admin(request)
    return _editor(request, vault, forms.new_fields(user_zone(request)), None)


def _selected(request: HttpRequest) -> str:
    """The policy the command bar's selection names (``policies=<id>``)."""
    data = request.POST if request.method == "POST" else request.GET
    value = data.get("policies", "").split(",")[0].strip()
    if not value.isdigit():
        raise Http404
    return value


def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    _require_admin(request)
    row = _policy_of(vault, _selected(request))
    return _editor(request, vault, forms.from_policy(row.rules, user_zone(request)), row)


PAGE_ONE_FIELDS = ("name", "schedule_time", "schedule_weekdays")


@require_POST
def policy_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the editor (preview and every field's message) as the user edits."""
    vault = vault_or_404(request, pk)
    _require_admin(request)
    editing = _policy_of(vault, request.POST.get("policy"))
    tz = user_zone(request)
    touched = bool(request.POST.get("name_touched")) or editing is not None
    context = {"vault": vault, "oob": True, **_live(vault, forms.read(request.POST), editing, tz, name_touched=touched)}
    return render(request, "vaults/policy_wizard.html#live", context)


@require_POST
def policy_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Next, back and finish of the wizard; finish creates or updates the policy."""
    vault = vault_or_404(request, pk)
    _require_admin(request)
    editing = _policy_of(vault, request.POST.get("policy"))
    fields, tz, nav = forms.read(request.POST), user_zone(request), request.POST.get("nav", "finish")
    candidate = forms.to_policy(fields, tz)
    try:
        check_policy(vault, candidate, editing)
        errors = {}
    except rules.PolicyInvalid as invalid:
        errors = forms.errors_by_field(invalid.errors)
    first_page_errors = {k: v for k, v in errors.items() if k in PAGE_ONE_FIELDS}
    if nav == "back":
        return _editor(request, vault, fields, editing, page=1)
    if nav == "next":
        return _editor(request, vault, fields, editing, page=1 if first_page_errors else 2, errors=first_page_errors)
    if errors:
        return _editor(request, vault, fields, editing, page=1 if first_page_errors else 2, errors=errors)
    try:
        if editing is None:
            row = create_policy(request.user, vault, candidate)
            text = _("Created policy '%(name)s'.") % {"name": row.name}
        else:
            saved = ConfigureProtection.update_policy(request.user, editing, candidate)
            text = _("Saved policy '%(name)s'.") % {"name": saved.policy.name}
            if saved.jobs:
                text += f" Re-configuring protection of {saved.jobs} virtual machine(s)."
            text += "".join(f" {r}" for r in saved.refusals)
    except rules.PolicyInvalid as invalid:  # a name taken meanwhile
        return _editor(request, vault, fields, editing, page=1, errors=forms.errors_by_field(invalid.errors))
    except Refusal as refusal:
        return notice(str(refusal))
    return notice(text, "succeeded", "portal:policy")


@require_POST
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    row = _policy_of(vault, _selected(request))
    try:
        delete_policy(request.user, row)
    except Refusal as refusal:
        return notice(str(refusal))
    return notice(_("Deleted policy '%(name)s'.") % {"name": row.name}, "succeeded", "portal:policy")


def policy_detail_rows(row: Policy, tz: ZoneInfo) -> dict:
    """The policy as the Backup Policy drill-down shows it."""
    stored = row.rules
    _local, seen = policy_in_zone(stored, tz)
    return {"policy": row, "schedule": describe_schedule(stored, tz), "retention": [describe(r) for r in seen.retention]}
