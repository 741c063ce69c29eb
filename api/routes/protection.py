"""Protected items: PROTECT, the list and each item, BACKUP NOW, STOP PROTECTION (keep or delete the data), DELETE
backup data, UNDELETE, RESTORE, and an item's recovery points. Each command starts one job, answered 202."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from api import present, schemas
from api.paging import PageQuery, keyset
from api.problems import LIST, READ, REMOTE, WRITE
from api.routes.common import protected_items_of, started, visible_vault
from api.schemas import Id
from jobs.errors import OperationInProgress, Refusal
from jobs.models import Job, Operation
from vaults.models import Policy, ProtectedItem, Vault
from vaults.operations.backup import Backup
from vaults.operations.maintenance import DeleteBackupData, StopProtection
from vaults.operations.protection import ConfigureProtection
from vaults.operations.restore import Restore
from vaults.operations.undelete import Undelete
from vaults.services.restore import RestoreRequest

router = Router(tags=["protected items"])


def _item(request: HttpRequest, pk: int, item_pk: int) -> ProtectedItem:
    return get_object_or_404(protected_items_of(visible_vault(request, pk)), pk=item_pk)


@router.post("/vaults/{pk}/protected-items", response={202: schemas.JobAccepted, **WRITE})
def protect(request: HttpRequest, response: HttpResponse, pk: Id, body: schemas.Protect) -> Status:
    """PROTECT a registered VM with a policy: a Configure Protection job."""
    vault = visible_vault(request, pk)
    registered = get_object_or_404(vault.registered_items, pk=body.registered_item)
    # A policy of any vault the user sees: the service refuses another vault's, as the wizard's check does.
    policy = get_object_or_404(Policy.objects.filter(vault__in=Vault.objects.visible_to(request.user)), pk=body.policy)
    count, refusals = ConfigureProtection.protect(request.user, vault, [registered.pk], policy)
    if not count:
        text = refusals[0] if refusals else "The virtual machine cannot be protected now."
        raise Refusal(text, field="registered_item", code=OperationInProgress.code if "in progress" in text else "InvalidState")
    item = vault.protected_items.get(item=registered)
    job = Job.objects.filter(item_key=registered.item_key, operation=Operation.CONFIGURE_PROTECTION).latest("pk")
    return started(response, job, item.pk)


@router.get("/vaults/{pk}/protected-items", response={200: schemas.page_of(schemas.ProtectedItem), **LIST,
                                                            404: READ[404]})
def list_protected(request: HttpRequest, pk: Id, page: Query[PageQuery]) -> dict:
    items = protected_items_of(visible_vault(request, pk)).annotate(point_count=Count("recovery_points"))
    return keyset(request, items, page, present.protected_item)


@router.get("/vaults/{pk}/protected-items/{item_pk}", response={200: schemas.ProtectedItem, **READ})
def get_protected(request: HttpRequest, pk: Id, item_pk: Id) -> dict:
    return present.protected_item(_item(request, pk, item_pk))


@router.get("/vaults/{pk}/protected-items/{item_pk}/recovery-points",
            response={200: schemas.page_of(schemas.RecoveryPoint), **LIST, 404: READ[404]})
def list_points(request: HttpRequest, pk: Id, item_pk: Id, page: Query[PageQuery]) -> dict:
    return keyset(request, _item(request, pk, item_pk).recovery_points.all(), page, present.recovery_point)


@router.post("/vaults/{pk}/protected-items/{item_pk}/backup", response={202: schemas.JobAccepted, **WRITE})
def backup_now(request: HttpRequest, response: HttpResponse, pk: Id, item_pk: Id) -> Status:
    """BACKUP NOW: a Backup job; the first is full, later ones incremental."""
    item = _item(request, pk, item_pk)
    return started(response, Backup.start(request.user, item), item.pk)


@router.post("/vaults/{pk}/protected-items/{item_pk}/stop-protection",
             response={202: schemas.JobAccepted, **WRITE})
def stop_protection(request: HttpRequest, response: HttpResponse, pk: Id, item_pk: Id,
                    body: schemas.StopProtection) -> Status:
    """STOP PROTECTION, keeping the recovery points, or deleting them (an administrator's)."""
    item = _item(request, pk, item_pk)
    job = StopProtection.start(request.user, item, delete_data=body.delete_data, reason=body.reason,
                               comment=body.comment)
    return started(response, job, item.pk)


@router.post("/vaults/{pk}/protected-items/{item_pk}/delete-data", response={202: schemas.JobAccepted, **WRITE})
def delete_data(request: HttpRequest, response: HttpResponse, pk: Id, item_pk: Id) -> Status:
    """DELETE the backup data of an item whose protection is stopped (kept soft deleted when the vault says so)."""
    item = _item(request, pk, item_pk)
    return started(response, DeleteBackupData.start(request.user, item), item.pk)


@router.post("/vaults/{pk}/protected-items/{item_pk}/undelete", response={202: schemas.JobAccepted, **WRITE})
def undelete(request: HttpRequest, response: HttpResponse, pk: Id, item_pk: Id) -> Status:
    """UNDELETE: bring back a soft-deleted item's backup data."""
    item = _item(request, pk, item_pk)
    return started(response, Undelete.start(request.user, item), item.pk)


@router.post("/vaults/{pk}/protected-items/{item_pk}/restore", response={202: schemas.JobAccepted, **REMOTE})
def restore(request: HttpRequest, response: HttpResponse, pk: Id, item_pk: Id,
            body: schemas.Restore) -> Status:
    """RESTORE a recovery point (the newest unless one is named) as a new VM."""
    item = _item(request, pk, item_pk)
    points = item.recovery_points.select_related("protected_item__item__vm", "protected_item__vault__subscription")
    if body.recovery_point is None:
        point = points.order_by("-created").first()
        if point is None:
            raise Refusal(f"'{item.item.vm.name}' has no recovery point to restore yet. Back it up first.",
                          field="recovery_point", code="InvalidState")
    else:
        point = get_object_or_404(points, pk=body.recovery_point)
    target = RestoreRequest(body.vm_name, body.cloud_service, body.new_cloud_service, body.storage_account,
                            body.virtual_network, body.subnet)
    return started(response, Restore.start(request.user, point, target), item.pk)
