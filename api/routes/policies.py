"""Policies: list, read, create, update (re-configuring the VMs under it through jobs) and delete.

A policy is given in its stored form, the schedule's times in UTC; the same rules as the policy wizard apply
(``vaults.policy.rules``), and each broken rule comes back in the problem's ``errors`` with its field and code.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from api import present, schemas
from api.paging import PageQuery, keyset
from api.problems import LIST, READ, WRITE
from api.routes.common import visible_vault
from api.schemas import Id
from vaults.models import Policy
from vaults.operations.protection import ConfigureProtection
from vaults.policy import rules, stored
from vaults.services.policies import create_policy, delete_policy, policies_with_usage
from vaults.services.refusals import InvalidRequest

router = Router(tags=["policies"])


def _candidate(body: schemas.PolicyIn) -> rules.Policy:
    """The request as the rules' Policy; what cannot even be read as one is refused with the field it concerns."""
    data = {"version": stored.FORMAT_VERSION, **body.model_dump(exclude_none=True)}
    data["schedule"].setdefault("weekdays", [])
    try:
        return stored.policy_from_dict(data)
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidRequest(f"The policy could not be read: {error}. Give each retention range the fields its kind "
                             "takes (weekly: weekdays; monthly: on; yearly: months and on).", field="retention") from None


def _policy(request: HttpRequest, pk: int, policy_pk: int) -> Policy:
    return get_object_or_404(policies_with_usage(visible_vault(request, pk)), pk=policy_pk)


@router.get("/vaults/{pk}/policies", response={200: schemas.page_of(schemas.Policy), **LIST, 404: READ[404]})
def list_policies(request: HttpRequest, pk: Id, page: Query[PageQuery]) -> dict:
    return keyset(request, policies_with_usage(visible_vault(request, pk)), page, present.policy)


@router.get("/vaults/{pk}/policies/{policy_pk}", response={200: schemas.Policy, **READ})
def get_policy(request: HttpRequest, pk: Id, policy_pk: Id) -> dict:
    return present.policy(_policy(request, pk, policy_pk))


@router.post("/vaults/{pk}/policies", response={201: schemas.Policy, **WRITE})
def add_policy(request: HttpRequest, response: HttpResponse, pk: Id, body: schemas.PolicyIn) -> Status:
    vault = visible_vault(request, pk)
    row = create_policy(request.user, vault, _candidate(body))
    response["Location"] = f"{present.API}/vaults/{vault.pk}/policies/{row.pk}"
    return Status(201, present.policy(row))


@router.put("/vaults/{pk}/policies/{policy_pk}", response={200: schemas.PolicySaved, **WRITE})
def update_policy(request: HttpRequest, pk: Id, policy_pk: Id, body: schemas.PolicyIn) -> dict:
    """Save new rules; each VM under the policy is re-configured by a Configure Protection job."""
    row = _policy(request, pk, policy_pk)
    saved = ConfigureProtection.update_policy(request.user, row, _candidate(body))
    return {"policy": present.policy(_policy(request, pk, policy_pk)), "reconfiguring": saved.jobs,
            "notes": saved.refusals}


@router.delete("/vaults/{pk}/policies/{policy_pk}", response={204: None, **WRITE})
def remove_policy(request: HttpRequest, pk: Id, policy_pk: Id) -> Status:
    """DELETE: refused while VMs use the policy."""
    delete_policy(request.user, _policy(request, pk, policy_pk))
    return Status(204, None)
