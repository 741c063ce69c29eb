"""The Protect wizard: registered VMs, then a policy (existing or new), then its retention."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.access import can_administer
from portal.zone import user_zone
from vaults.forms import policy as forms
from vaults.models import Vault
from vaults.operations.protection import ConfigureProtection
from vaults.policy import rules
from vaults.policy.defaults import DEFAULT_POLICY_NAME
from vaults.services.policies import check_policy, create_policy
from vaults.services.protection import protectable
from vaults.services.refusals import Refusal, require_operator
from vaults.views.common import ids_from, notice, vault_or_404
from vaults.views.policies import PAGE_ONE_FIELDS, policy_detail_rows

PAGES = 3


def _render(request: HttpRequest, vault: Vault, *, page: int, chosen: set[int], choice: str, policy_pk: str,
            fields: forms.Fields, errors: dict) -> HttpResponse:
    tz = user_zone(request)
    policies = list(vault.policies.all())
    existing = next((p for p in policies if str(p.pk) == policy_pk), policies[0] if policies else None)
    context = {"vault": vault, "page": page, "pages": range(1, PAGES + 1), "vms": protectable(vault),
               "chosen": chosen, "choice": choice, "policies": policies, "existing": existing,
               "existing_rows": policy_detail_rows(existing, tz) if existing else None, "f": fields, "errors": errors,
               "can_administer": can_administer(request.user),
               **forms.editor_choices(tz, fields)}
    template = "vaults/protect_wizard.html#form" if request.method == "POST" else "vaults/protect_wizard.html"
    return render(request, template, context)


def protect_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    chosen = set(ids_from(request.GET.getlist("items")))
    default = vault.policies.filter(name=DEFAULT_POLICY_NAME).first() or vault.policies.first()
    return _render(request, vault, page=1, chosen=chosen, choice="existing" if default else "new",
                   policy_pk=str(default.pk) if default else "", fields=forms.new_fields(user_zone(request)),
                   errors={})


@require_POST
def protect(request: HttpRequest, pk: int) -> HttpResponse:
    """Next, back and finish; finish makes the new policy if asked, then one Configure Protection job per VM."""
    vault = vault_or_404(request, pk)
    try:
        require_operator(request.user, "protect virtual machines")
    except Refusal as refusal:
        return notice(str(refusal), "failed", "portal:item")
    post, tz = request.POST, user_zone(request)
    chosen, choice, policy_pk = set(ids_from(post.getlist("vm"))), post.get("choice", "existing"), post.get("existing", "")
    fields, page, nav = forms.read(post), int(post.get("page", "1") or 1), post.get("nav", "finish")
    errors: dict[str, list[str]] = {}
    candidate = forms.to_policy(fields, tz) if choice == "new" else None
    if candidate is not None:
        try:
            check_policy(vault, candidate)
        except rules.PolicyInvalid as invalid:
            errors = forms.errors_by_field(invalid.errors)
    if not chosen:
        errors["vms"] = [_("Select at least one virtual machine to protect.")]
    if choice == "existing" and not vault.policies.filter(pk=policy_pk if policy_pk.isdigit() else 0).exists():
        errors["existing"] = [_("Choose a policy, or define a new one.")]
    pages = {1: {"vms"}, 2: {"existing", *PAGE_ONE_FIELDS}}
    first_bad = next((n for n in (1, 2) if errors.keys() & pages[n]), 3 if errors else None)
    if nav == "back":
        return _render(request, vault, page=max(1, page - 1), chosen=chosen, choice=choice, policy_pk=policy_pk,
                       fields=fields, errors={})
    if nav == "next":
        bad = first_bad is not None and first_bad <= page
        shown = {k: v for k, v in errors.items() if k in pages.get(page, set())}
        return _render(request, vault, page=page if bad else page + 1, chosen=chosen, choice=choice,
                       policy_pk=policy_pk, fields=fields, errors=shown)
    if errors:
        return _render(request, vault, page=first_bad or 3, chosen=chosen, choice=choice, policy_pk=policy_pk,
                       fields=fields, errors=errors)
    try:
        row = create_policy(request.user, vault, candidate) if candidate else vault.policies.get(pk=policy_pk)
        started, refusals = ConfigureProtection.protect(request.user, vault, sorted(chosen), row)
    except Refusal as refusal:
        return notice(str(refusal), "failed", "portal:item")
    if refusals:
        return notice(" ".join(refusals), "failed", "portal:item")
    return notice(_("Configuring protection of %(count)s virtual machine(s) with policy '%(name)s'.") % {
        "count": started, "name": row.name}, "succeeded",
                  "portal:item")
