"""Subscriptions and vaults: list and read them; quick create, CONFIGURE and DELETE a vault."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from api import present, schemas
from api.paging import PageQuery, keyset
from api.problems import LIST, READ, REMOTE, WRITE
from api.routes.common import visible_vault
from api.schemas import Id
from vaults.models import Subscription, Vault
from vaults.services import soft_delete
from vaults.services import vaults as services
from vaults.services.refusals import InvalidRequest, require_administrator

router = Router(tags=["subscriptions and vaults"])


@router.get("/subscriptions", response={200: schemas.page_of(schemas.Subscription), **LIST})
def list_subscriptions(request: HttpRequest, page: Query[PageQuery]) -> dict:
    return keyset(request, Subscription.objects.visible_to(request.user), page, present.subscription)


@router.get("/subscriptions/{pk}", response={200: schemas.Subscription, **READ})
def get_subscription(request: HttpRequest, pk: Id) -> dict:
    return present.subscription(get_object_or_404(Subscription.objects.visible_to(request.user), pk=pk))


class VaultFilter(PageQuery):
    subscription: int | None = Field(None, ge=1, le=schemas.MAX_ID)


@router.get("/vaults", response={200: schemas.page_of(schemas.Vault), **LIST})
def list_vaults(request: HttpRequest, page: Query[VaultFilter]) -> dict:
    vaults = Vault.objects.visible_to(request.user)
    if page.subscription:
        vaults = vaults.filter(subscription_id=page.subscription)
    return keyset(request, vaults, page, present.vault)


@router.post("/vaults", response={201: schemas.Vault, **REMOTE})
def create_vault(request: HttpRequest, response: HttpResponse, body: schemas.VaultCreate) -> Status:
    """QUICK CREATE: name, region, subscription (may be left out by a member of one), storage replication."""
    subscriptions = Subscription.objects.visible_to(request.user)
    if body.subscription is not None:
        subscription = get_object_or_404(subscriptions, pk=body.subscription)
    elif subscriptions.count() == 1:
        subscription = subscriptions.get()
    else:
        raise InvalidRequest("Choose a subscription you belong to.", field="subscription")
    if body.replication != Vault.Replication.GRS:  # an administrator's choice: refused before anything is made
        require_administrator(request.user, "change storage replication")
    vault = services.create_vault(request.user, subscription, body.name, body.region)
    if body.replication != vault.replication:
        services.set_replication(request.user, vault, body.replication)
    response["Location"] = f"{present.API}/vaults/{vault.pk}"
    return Status(201, present.vault(vault))


@router.get("/vaults/{pk}", response={200: schemas.Vault, **READ})
def get_vault(request: HttpRequest, pk: Id) -> dict:
    return present.vault(visible_vault(request, pk))


@router.patch("/vaults/{pk}", response={200: schemas.Vault, **WRITE})
def configure_vault(request: HttpRequest, pk: Id, body: schemas.VaultConfigure) -> dict:
    """CONFIGURE: storage replication, soft delete, immutability; all the sections given are saved, or none."""
    vault = visible_vault(request, pk)
    with transaction.atomic():
        if body.replication is not None:
            services.set_replication(request.user, vault, body.replication)
        if body.soft_delete is not None:
            settings = body.soft_delete
            soft_delete.set_soft_delete(request.user, vault, enabled=settings.enabled, days=settings.days,
                                        always_on=settings.always_on)
        if body.immutability is not None:
            soft_delete.set_immutability(request.user, vault, body.immutability.state,
                                         confirm_lock=body.immutability.confirm_lock)
    vault.refresh_from_db()
    return present.vault(vault)


class DeleteVault(Schema):
    reason: str = Field(..., min_length=1, max_length=500, description="why the vault is deleted (logged)")


@router.delete("/vaults/{pk}", response={204: None, **WRITE})
def delete_vault(request: HttpRequest, pk: Id, query: Query[DeleteVault]) -> Status:
    """DELETE: an administrator, an empty vault, and a reason."""
    services.delete_vault(request.user, visible_vault(request, pk), query.reason)
    return Status(204, None)
