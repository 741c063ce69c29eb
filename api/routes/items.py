"""Registered items: DISCOVER (a job), the discovered VMs that may be registered, REGISTER and UNREGISTER."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from api import present, schemas
from api.paging import PageQuery, keyset
from api.problems import LIST, READ, WRITE
from api.routes.common import started, visible_vault
from api.schemas import Id
from jobs.errors import OperationInProgress, Refusal
from jobs.models import Job, Operation
from vaults.models import VirtualMachine
from vaults.operations.discovery import IN_PROGRESS, Discovery
from vaults.operations.registration import Register, Unregister
from vaults.services.refusals import InvalidRequest, NotNow, require_operator
from vaults.services.registration import registrable, registration_refusal, unregistration_refusal

router = Router(tags=["registered items"])


@router.post("/vaults/{pk}/discover", response={202: schemas.JobAccepted, **WRITE})
def discover(request: HttpRequest, response: HttpResponse, pk: Id) -> Status:
    """DISCOVER: a Discovery job reads the VMs of the vault's region; one at a time per vault."""
    vault = visible_vault(request, pk)
    try:
        job = Discovery.start(request.user, vault)
    except OperationInProgress:  # the page's sentence for a second discovery, with the refusal's code
        raise Refusal(IN_PROGRESS, code=OperationInProgress.code) from None
    return started(response, job)


@router.get("/vaults/{pk}/discovered-vms", response={200: schemas.page_of(schemas.VirtualMachine), **LIST, 404: READ[404]})
def discovered_vms(request: HttpRequest, pk: Id, page: Query[PageQuery]) -> dict:
    """The REGISTER dialog's list: discovered VMs of the vault's region that no vault holds."""
    return keyset(request, registrable(visible_vault(request, pk)), page, present.vm)


@router.get("/vaults/{pk}/registered-items", response={200: schemas.page_of(schemas.RegisteredItem), **LIST,
                                                             404: READ[404]})
def list_registered(request: HttpRequest, pk: Id, page: Query[PageQuery]) -> dict:
    items = visible_vault(request, pk).registered_items.select_related("vm", "protection")
    return keyset(request, items, page, present.registered_item)


@router.get("/vaults/{pk}/registered-items/{item_pk}", response={200: schemas.RegisteredItem, **READ})
def get_registered(request: HttpRequest, pk: Id, item_pk: Id) -> dict:
    vault = visible_vault(request, pk)
    return present.registered_item(get_object_or_404(vault.registered_items.select_related("vm", "protection"),
                                                     pk=item_pk))


@router.post("/vaults/{pk}/registered-items", response={202: schemas.JobAccepted, **WRITE})
def register(request: HttpRequest, response: HttpResponse, pk: Id, body: schemas.Register) -> Status:
    """REGISTER one discovered VM: a Register job installs the backup extension."""
    vault = visible_vault(request, pk)
    require_operator(request.user, "register virtual machines")
    vm = get_object_or_404(VirtualMachine.objects.filter(subscription=vault.subscription).select_related("registration"),
                           pk=body.vm)
    if refusal := registration_refusal(vault, vm):
        raise (InvalidRequest if vm.region != vault.region else NotNow)(refusal, field="vm")
    [outcome] = Register.start_many(request.user, vault, [vm.pk])
    if outcome.item is None:  # another request registered it, or started a job on it, meanwhile
        raise Refusal(outcome.refusal, field="vm",
                      code=OperationInProgress.code if "in progress" in outcome.refusal else NotNow.code)
    job = Job.objects.filter(item_key=outcome.item.item_key, operation=Operation.REGISTER).latest("pk")
    return started(response, job, outcome.item.pk)


@router.delete("/vaults/{pk}/registered-items/{item_pk}", response={202: schemas.JobAccepted, **WRITE})
def unregister(request: HttpRequest, response: HttpResponse, pk: Id, item_pk: Id) -> Status:
    """UNREGISTER: an Unregister job removes the backup extension; a protected item is refused."""
    vault = visible_vault(request, pk)
    item = get_object_or_404(vault.registered_items.select_related("vm"), pk=item_pk)
    require_operator(request.user, "unregister virtual machines")
    if refusal := unregistration_refusal(item):
        raise NotNow(refusal)
    if refusals := Unregister.start_many(request.user, vault, [item.pk]):
        raise Refusal(refusals[0], code=OperationInProgress.code if "in progress" in refusals[0] else NotNow.code)
    job = Job.objects.filter(item_key=item.item_key, operation=Operation.UNREGISTER).latest("pk")
    return started(response, job, item.pk)

