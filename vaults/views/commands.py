"""The Protected Items command bar: BACKUP NOW, STOP PROTECTION, DELETE, UNDELETE and VERIFY (RESTORE is
``restore.py``).

Every view finds the vault through ``vault_or_404`` (others get a 404) and the
item within that vault, then calls the command's operation, whose checks say
who may: operators back up, stop protection keeping the data and undelete;
administrators delete backup data.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.access import can_administer
from vaults.models import ProtectedItem, Vault
from vaults.operations.backup import Backup
from vaults.operations.maintenance import DeleteBackupData, StopProtection, Verify
from vaults.operations.undelete import Undelete
from vaults.services.refusals import Refusal
from vaults.views.common import ids_from, notice, started_notice, vault_or_404


def item_notice(text: str, state: str = "failed") -> HttpResponse:
    """Every answer here also reloads the item lists, whose state the command may have changed."""
    return notice(text, state, "portal:item")


def _ids(request: HttpRequest) -> list[int]:
    return ids_from(request.POST.getlist("items") or request.GET.getlist("items"))


def one_item(request: HttpRequest, vault: Vault) -> ProtectedItem:
    ids = _ids(request) or [int(request.POST.get("item") or request.GET.get("item") or 0)]
    return get_object_or_404(vault.protected_items.select_related("item__vm", "policy"), pk=ids[0])


# --- BACKUP NOW --------------------------------------------------------------------

@require_POST
def backup_now(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    items = list(vault.protected_items.select_related("item__vm", "vault__subscription").filter(pk__in=_ids(request)))
    if not items:
        return item_notice(_("Select a protected item to back up."))
    jobs, refusals = [], []
    for item in items:
        try:
            jobs.append(Backup.start(request.user, item))
        except Refusal as refusal:
            refusals.append(f"{item.item.vm.display_name}: {refusal}")
    if refusals:
        started = " " + _("(%(count)s backup job(s) started.)") % {"count": len(jobs)} if jobs else ""
        return item_notice(" ".join(refusals) + started)
    text = started_notice(jobs, _("Backup started for %(count)s item(s). Follow it on the Jobs tab.") % {
        "count": len(jobs)}, _("the backup"))
    return item_notice(text, state="succeeded")


# --- VERIFY ------------------------------------------------------------------------

@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    try:
        Verify.start_for(request.user, vault)
    except Refusal as refusal:
        return item_notice(_sentence(refusal))
    return item_notice(_("Verify started. Follow it on the Jobs tab."), state="succeeded")


# --- STOP PROTECTION and DELETE ----------------------------------------------------

def stop_dialog(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = one_item(request, vault)
    return render(request, "vaults/stop_protection.html", {"vault": vault, "item": item,
                                                           "can_administer": can_administer(request.user)})


@require_POST
def stop(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = one_item(request, vault)
    delete_data = request.POST.get("delete_data") == "on"
    try:
        StopProtection.start(request.user, item, delete_data=delete_data, reason=request.POST.get("reason", "")[:100],
                             comment=request.POST.get("comment", "")[:1000])
    except Refusal as refusal:
        return item_notice(_sentence(refusal))
    names = {"name": item.item.vm.display_name}
    return item_notice((_("Delete Backup Data started for '%(name)s'.") if delete_data else
                        _("Stop Protection started for '%(name)s'.")) % names, state="succeeded")


@require_POST
def delete_data(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = one_item(request, vault)
    try:
        DeleteBackupData.start(request.user, item)
    except Refusal as refusal:
        return item_notice(_sentence(refusal))
    return item_notice(_("Delete Backup Data started for '%(name)s'.") % {"name": item.item.vm.display_name},
                       state="succeeded")


# --- UNDELETE ----------------------------------------------------------------------

@require_POST
def undelete(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    item = one_item(request, vault)
    try:
        job = Undelete.start(request.user, item)
    except Refusal as refusal:
        return item_notice(_sentence(refusal))
    text = started_notice([job], _("Undelete started for '%(name)s'.") % {"name": item.item.vm.display_name},
                          _("the undelete"))
    return item_notice(text, state="succeeded")


def _sentence(refusal: Refusal) -> str:
    """A refusal as the notice reads it: a sentence ends with a full stop."""
    text = str(refusal)
    return text if text.endswith(".") else f"{text}."
