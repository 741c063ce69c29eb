"""The RESTORE wizard: page 1 picks a recovery point on a calendar, page 2 the target; finish starts the job."""

from __future__ import annotations

import calendar
import contextlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.zone import user_zone
from vaults.cloud.compute import VirtualNetwork
from vaults.cloud.errors import FabricError
from vaults.models import ProtectedItem, RecoveryPoint, Vault
from vaults.operations.restore import Restore
from vaults.services.refusals import Refusal, require_operator
from vaults.services.restore import RestoreRequest, cloud_services, storage_accounts, virtual_networks
from vaults.views.commands import item_notice, one_item
from vaults.views.common import vault_or_404


def _calendar(points: list[RecoveryPoint], month: date, zone: ZoneInfo) -> list[list[dict | None]]:
    days_with_points = {p.created.astimezone(zone).date() for p in points}
    weeks = []
    for week in calendar.Calendar(firstweekday=6).monthdatescalendar(month.year, month.month):
        weeks.append([{"date": day, "in_month": day.month == month.month, "has_points": day in days_with_points}
                      for day in week])
    return weeks


def _restore_context(request: HttpRequest, vault: Vault, item: ProtectedItem, values: dict, errors: dict) -> dict:
    zone = user_zone(request)
    points = list(item.recovery_points.order_by("-created"))
    chosen = next((p for p in points if str(p.pk) == str(values.get("point"))), points[0] if points else None)
    day = None
    if values.get("day"):
        try:
            day = date.fromisoformat(values["day"])
        except ValueError:
            day = None
    if day is None and chosen is not None:
        day = chosen.created.astimezone(zone).date()
    day = day or datetime.now(zone).date()
    month = day.replace(day=1)
    if values.get("month"):
        with contextlib.suppress(ValueError):
            month = date.fromisoformat(values["month"] + "-01")
    prev_month = (month.replace(day=1) - timedelta(days=1)).replace(day=1)
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    day_points = [p for p in points if p.created.astimezone(zone).date() == day]
    # Only the vault's region: an account elsewhere would be refused at finish (check_request still refuses a
    # forged one).
    accounts = {name: region for name, region in storage_accounts(vault.subscription).items() if region == vault.region}
    page = int(values.get("page") or 1)
    networks: dict[str, VirtualNetwork] = {}
    if page == 2:  # page 1 does not wait for the fabric
        try:
            networks = virtual_networks(vault.subscription, vault.region)
        except FabricError as failure:
            errors.setdefault("virtual_network",
                              [_("The virtual networks could not be listed. %(failure)s") % {"failure": failure}])
    return {"vault": vault, "item": item, "points": points, "chosen": chosen, "day": day, "month": month,
            "prev_month": prev_month, "next_month": next_month, "weeks": _calendar(points, month, zone),
            "day_points": [(p, p.created.astimezone(zone)) for p in day_points], "values": values, "errors": errors,
            "page": page, "services": cloud_services(vault.subscription, vault.region),
            "accounts": accounts, "zone": zone, "networks": networks,
            "subnets": networks[values["virtual_network"]].subnets if values.get("virtual_network") in networks else ()}


def restore_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = one_item(request, vault)
    values = {"page": "1", "service_choice": "existing"}
    return render(request, "vaults/restore_wizard.html", _restore_context(request, vault, item, values, {}))


FIELDS = ("page", "point", "day", "month", "vm_name", "service_choice", "existing_service", "new_service",
          "storage_account", "virtual_network", "subnet")


@require_POST
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Wizard navigation (a calendar day or month, next, back, a virtual network chosen) and finish, which starts the
    Restore job."""
    vault = vault_or_404(request, pk)
    item = one_item(request, vault)
    try:
        require_operator(request.user, "restore virtual machines")
    except Refusal as refusal:
        return item_notice(str(refusal))
    values = {key: request.POST.get(key, "").strip() for key in FIELDS}
    nav = request.POST.get("nav", "")
    errors: dict[str, list[str]] = {}
    if nav == "finish":
        started = _finish(request, item, values, errors)
        if started is not None:
            return started
    else:
        _navigate(nav, item, values, errors)
    context = _restore_context(request, vault, item, values, errors)
    return render(request, "vaults/restore_wizard.html#form", context)


def _navigate(nav: str, item: ProtectedItem, values: dict[str, str], errors: dict[str, list[str]]) -> None:
    """Move between the pages: the values and errors to render them with."""
    if nav in ("day", "month"):
        if nav == "day":
            values["point"] = ""
            values["month"] = ""
        values["page"] = "1"
    elif nav == "next":
        if not item.recovery_points.filter(pk=values.get("point") or 0).exists():
            errors["point"] = [_("Select a recovery point.")]
        else:
            values["page"] = "2"
    elif nav == "back":
        values["page"] = "1"
    elif nav == "network":  # page 2 again, with the subnets of the chosen network
        values["subnet"] = ""


def _finish(request: HttpRequest, item: ProtectedItem, values: dict[str, str],
            errors: dict[str, list[str]]) -> HttpResponse | None:
    """Start the Restore job; its notice, or None with the page and errors to show the wizard again with."""
    point = item.recovery_points.filter(pk=values.get("point") or 0).first()
    if point is None:
        errors["point"] = [_("Select a recovery point.")]
        values["page"] = "1"
        return None
    new = values["service_choice"] == "new"
    target = RestoreRequest(values["vm_name"], values["new_service"] if new else values["existing_service"], new,
                            values["storage_account"], values["virtual_network"], values["subnet"])
    try:
        Restore.start(request.user, point, target)
    except Refusal as refusal:
        text = str(refusal)
        errors[refusal.field or "form"] = [text if text.endswith(".") else f"{text}."]
    except FabricError as failure:
        errors["form"] = [_("The restore target could not be checked. %(failure)s") % {"failure": failure}]
    else:
        return item_notice(_("Restore of '%(vm)s' as '%(name)s' started. Follow it on the Jobs tab.") % {
            "vm": item.item.vm.name, "name": values["vm_name"]}, state="succeeded")
    values["page"] = "2"
    return None
