"""What every route shares: finding what the user may see (another subscription's ids answer 404) and the 202
answer of an operation that started a job."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Status

from api import present
from jobs.models import Job
from vaults.models import ProtectedItem, Vault


def visible_vault(request: HttpRequest, pk: int) -> Vault:
    """The pages' ``vault_or_404``: a vault of a subscription the user belongs to, or 404."""
    return get_object_or_404(Vault.objects.visible_to(request.user).select_related("subscription"), pk=pk)


def protected_items_of(vault: Vault) -> QuerySet[ProtectedItem]:
    return vault.protected_items.select_related("item__vm", "vault__subscription", "policy")


def started(response: HttpResponse, job: Job, item: int | None = None) -> Status:
    """202 Accepted with the job, and its resource in Location, for the client to poll."""
    response["Location"] = present.job_url(job.pk)
    return Status(202, present.accepted(job, item))
