"""The Protected Items command bar: BACKUP NOW, RESTORE (the wizard), STOP PROTECTION, DELETE, VERIFY.

Every view finds the vault through ``Vault.objects.visible_to`` (others get a
404) and the item within that vault; operators back up, restore and stop
protection keeping the data; administrators delete backup data.
"""

from __future__ import annotations

import calendar
import contextlib
from datetime import date, datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from jobs.errors import OperationInProgress
from portal.access import can_administer, can_operate
from vaults import maintenance
from vaults.backup import BackupRefused, start_backup
from vaults.compute import FabricError, VirtualNetwork
from vaults.models import ProtectedItem, RecoveryPoint
from vaults.policy_forms import user_zone
from vaults.restore import (
    RestoreRefused,
    RestoreRequest,
    cloud_services,
    start_restore,
    storage_accounts,
    virtual_networks,
)
from vaults.views import ids_from, notice, vault_or_404


def _notice(text: str, state: str = "failed") -> HttpResponse:
    """Every answer here also reloads the item lists, whose state the command may have changed."""
    return notice(text, state, "portal:item")


def _ids(request: HttpRequest) -> list[int]:
    return ids_from(request.POST.getlist("items") or request.GET.getlist("items"))


def _one_item(request: HttpRequest, vault) -> ProtectedItem:
    ids = _ids(request) or [int(request.POST.get("item") or request.GET.get("item") or 0)]
    return get_object_or_404(vault.protected_items.select_related("item__vm", "policy"), pk=ids[0])


# --- BACKUP NOW --------------------------------------------------------------------

@require_POST
def backup_now(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    if not can_operate(request.user):
        return _notice("Only Backup Operators and Administrators can back up virtual machines.")
    items = list(vault.protected_items.select_related("item__vm", "vault__subscription").filter(pk__in=_ids(request)))
    if not items:
        return _notice("Select a protected item to back up.")
    started, refusals = 0, []
    for item in items:
        try:
            start_backup(request.user, item)
            started += 1
        except (BackupRefused, OperationInProgress) as refusal:
            refusals.append(f"{item.item.vm.name}: {refusal}")
    if refusals:
        return _notice(" ".join(refusals) + (f" ({started} backup job(s) started.)" if started else ""))
    return _notice(f"Backup started for {started} item(s). Follow it on the Jobs tab.", state="succeeded")


# --- VERIFY ------------------------------------------------------------------------

@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    if not can_operate(request.user):
        return _notice("Only Backup Operators and Administrators can verify backup data.")
    try:
        maintenance.start_verify(vault, request.user)
    except OperationInProgress as refusal:
        return _notice(f"{refusal}.")
    return _notice("Verify started. Follow it on the Jobs tab.", state="succeeded")


# --- STOP PROTECTION and DELETE ----------------------------------------------------

def stop_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = _one_item(request, vault)
    return render(request, "vaults/stop_protection.html", {"vault": vault, "item": item,
                                                           "can_administer": can_administer(request.user)})


@require_POST
def stop(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = _one_item(request, vault)
    delete_data = request.POST.get("delete_data") == "on"
    if not can_operate(request.user) or (delete_data and not can_administer(request.user)):
        return _notice("Only Administrators can delete backup data." if delete_data
                       else "Only Backup Operators and Administrators can stop protection.")
    if not delete_data and item.status == ProtectedItem.Status.STOPPED:
        return _notice(f"Protection of '{item.item.vm.name}' is already stopped.")
    try:
        maintenance.stop_protection(request.user, item, delete_data=delete_data,
                                    reason=request.POST.get("reason", "")[:100],
                                    comment=request.POST.get("comment", "")[:1000])
    except OperationInProgress as refusal:
        return _notice(f"{refusal}.")
    return _notice(f"{'Delete Backup Data' if delete_data else 'Stop Protection'} started for "
                   f"'{item.item.vm.name}'.", state="succeeded")


@require_POST
def delete_data(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = _one_item(request, vault)
    if not can_administer(request.user):
        return _notice("Only Administrators can delete backup data.")
    if item.status != ProtectedItem.Status.STOPPED:
        return _notice("DELETE is for items whose protection is stopped. Use STOP PROTECTION first.")
    try:
        maintenance.delete_backup_data(request.user, item)
    except OperationInProgress as refusal:
        return _notice(f"{refusal}.")
    return _notice(f"Delete Backup Data started for '{item.item.vm.name}'.", state="succeeded")


# --- RESTORE wizard -------------------------------------------------------------------

def _calendar(points: list[RecoveryPoint], month: date, zone) -> list[list[dict | None]]:
    days_with_points = {p.created.astimezone(zone).date() for p in points}
    weeks = []
    for week in calendar.Calendar(firstweekday=6).monthdatescalendar(month.year, month.month):
        weeks.append([{"date": day, "in_month": day.month == month.month, "has_points": day in days_with_points}
                      for day in week])
    return weeks


def _restore_context(request: HttpRequest, vault, item: ProtectedItem, values: dict, errors: dict) -> dict:
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
    accounts = {name: region for name, region in storage_accounts(vault.subscription).items()}
    page = int(values.get("page") or 1)
    networks: dict[str, VirtualNetwork] = {}
    if page == 2:  # page 1 does not wait for the fabric
        try:
            networks = virtual_networks(vault.subscription, vault.region)
        except FabricError as failure:
            errors.setdefault("virtual_network", [f"The virtual networks could not be listed. {failure}"])
    return {"vault": vault, "item": item, "points": points, "chosen": chosen, "day": day, "month": month,
            "prev_month": prev_month, "next_month": next_month, "weeks": _calendar(points, month, zone),
            "day_points": [(p, p.created.astimezone(zone)) for p in day_points], "values": values, "errors": errors,
            "page": page, "services": cloud_services(vault.subscription, vault.region),
            "accounts": accounts, "zone": zone, "networks": networks,
            "subnets": networks[values["virtual_network"]].subnets if values.get("virtual_network") in networks else ()}


def restore_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = _one_item(request, vault)
    values = {"page": "1", "service_choice": "existing"}
    return render(request, "vaults/restore_wizard.html", _restore_context(request, vault, item, values, {}))


@require_POST
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Wizard navigation (a calendar day or month, next, back, a virtual network chosen) and finish, which starts the
    Restore job."""
    vault = vault_or_404(request, pk)
    item = _one_item(request, vault)
    if not can_operate(request.user):
        return _notice("Only Backup Operators and Administrators can restore virtual machines.")
    values = {key: request.POST.get(key, "").strip() for key in
              ("page", "point", "day", "month", "vm_name", "service_choice", "existing_service", "new_service",
               "storage_account", "virtual_network", "subnet")}
    nav = request.POST.get("nav", "")
    errors: dict[str, list[str]] = {}
    if nav in ("day", "month"):
        if nav == "day":
            values["point"] = ""
            values["month"] = ""
        values["page"] = "1"
    elif nav == "next":
        if not item.recovery_points.filter(pk=values.get("point") or 0).exists():
            errors["point"] = ["Select a recovery point."]
        else:
            values["page"] = "2"
    elif nav == "back":
        values["page"] = "1"
    elif nav == "network":  # page 2 again, with the subnets of the chosen network
        values["subnet"] = ""
    elif nav == "finish":
        point = item.recovery_points.filter(pk=values.get("point") or 0).first()
        new = values["service_choice"] == "new"
        request_ = RestoreRequest(values["vm_name"], values["new_service"] if new else values["existing_service"], new,
                                  values["storage_account"], values["virtual_network"], values["subnet"])
        if point is None:
            errors["point"] = ["Select a recovery point."]
            values["page"] = "1"
        else:
            try:
                start_restore(request.user, point, request_)
            except RestoreRefused as refusal:
                errors[refusal.field or "form"] = [str(refusal)]
            except OperationInProgress as refusal:
                errors["form"] = [f"{refusal}."]
            except FabricError as failure:
                errors["form"] = [f"The restore target could not be checked. {failure}"]
            else:
                return _notice(f"Restore of '{item.item.vm.name}' as '{values['vm_name']}' started. Follow it on the "
                               "Jobs tab.", state="succeeded")
            values["page"] = "2"
    context = _restore_context(request, vault, item, values, errors)
    return render(request, "vaults/restore_wizard.html#form", context)


def point_label(point: RecoveryPoint) -> str:
    return f"{point.created:%Y-%m-%d %H:%M} {point.get_consistency_display()}"
