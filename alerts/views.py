"""The vault's ALERTS tab: active and resolved alerts and the delivery log for everyone who may see the vault; the
rules, the channels and the test message for Backup Administrators (the POSTs answer 403 to anyone else)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts import services
from alerts.evaluation import rules_of
from alerts.forms import ChannelForm, RuleForm
from alerts.models import CONDITIONS, Alert, Channel, DeliveryAttempt, Rule
from vaults.models import Vault
from vaults.services.refusals import NotAllowed, Refusal
from vaults.views.common import VAULT_TABS, vault_or_404

LISTED = 50  # resolved alerts and delivery log rows shown


def alerts_tab(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    editing = None
    if request.GET.get("edit", "").isdigit():
        editing = get_object_or_404(Channel, vault=vault, pk=int(request.GET["edit"]))
    return _page(request, vault, channel_form=ChannelForm.of(editing) if editing else None, editing=editing)


def _page(request: HttpRequest, vault: Vault, *, status: int = 200, rule_errors: dict | None = None,
          channel_form: ChannelForm | None = None, editing: Channel | None = None) -> HttpResponse:
    # The tab is not remembered as the vault's last one: vault_open only knows the vaults app's own tabs.
    alerts = Alert.objects.filter(vault=vault)
    log = (DeliveryAttempt.objects.filter(message__channel__vault=vault)
           .select_related("message__alert", "message__channel")[:LISTED])
    rules = [(rule, CONDITIONS[rule.condition], (rule_errors or {}).get(rule.pk)) for rule in rules_of(vault)]
    context = {
        "vault": vault, "page_title": vault.name, "tab": "alerts", "tabs": VAULT_TABS,
        "sse_query": f"vault={vault.pk}",
        "active_alerts": alerts.filter(status=Alert.Status.ACTIVE),
        "resolved_alerts": alerts.filter(status=Alert.Status.RESOLVED).order_by("-resolved")[:LISTED],
        "rules": rules, "channels": Channel.objects.filter(vault=vault), "delivery_log": log,
        "channel_form": channel_form or ChannelForm(), "editing": editing,
    }
    return render(request, "alerts/alerts.html", context, status=status)


@require_POST
def rule_save(request: HttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    rule = get_object_or_404(Rule, vault=vault, pk=rule_pk)
    form = RuleForm(request.POST)
    try:
        if not form.is_valid():
            raise Refusal(" ".join(e for errors in form.errors.values() for e in errors), field="threshold")
        services.update_rule(request.user, rule, enabled=form.cleaned_data["enabled"],
                             threshold=form.cleaned_data["threshold"])
    except NotAllowed as refusal:
        return HttpResponseForbidden(str(refusal))
    except Refusal as refusal:
        return _page(request, vault, status=400, rule_errors={rule.pk: str(refusal)})
    messages.success(request, _("Alert rule '%(condition)s' saved.") % {"condition": rule.get_condition_display()})
    return redirect("alerts:alerts", vault.pk)


@require_POST
def channel_save(request: HttpRequest, pk: int, channel_pk: int | None = None) -> HttpResponse:
    vault = vault_or_404(request, pk)
    channel = get_object_or_404(Channel, vault=vault, pk=channel_pk) if channel_pk else None
    form = ChannelForm(request.POST)
    try:
        if not form.is_valid():
            raise Refusal(_("Check the channel's fields."))
        data = services.ChannelInput(**form.cleaned_data)
        saved = services.save_channel(request.user, vault, data, channel)
    except NotAllowed as refusal:
        return HttpResponseForbidden(str(refusal))
    except Refusal as refusal:
        if not form.errors:
            form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        return _page(request, vault, status=400, channel_form=form, editing=channel)
    messages.success(request, _("Alert channel '%(name)s' saved.") % {"name": saved.name})
    return redirect("alerts:alerts", vault.pk)


@require_POST
def channel_delete(request: HttpRequest, pk: int, channel_pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    channel = get_object_or_404(Channel, vault=vault, pk=channel_pk)
    try:
        services.delete_channel(request.user, channel)
    except NotAllowed as refusal:
        return HttpResponseForbidden(str(refusal))
    messages.success(request, _("Alert channel '%(name)s' deleted.") % {"name": channel.name})
    return redirect("alerts:alerts", vault.pk)


@require_POST
def channel_test(request: HttpRequest, pk: int, channel_pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    channel = get_object_or_404(Channel, vault=vault, pk=channel_pk)
    try:
        ok, text = services.send_test(request.user, channel)
    except NotAllowed as refusal:
        return HttpResponseForbidden(str(refusal))
    if request.htmx:
        return render(request, "alerts/alerts.html#test-result", {"ok": ok, "message": text, "channel": channel})
    (messages.success if ok else messages.error)(request, text)
    return redirect("alerts:alerts", vault.pk)
