"""Jobs (the Jobs page's filters, each job with its sub-tasks, CANCEL) and the operations log."""

from __future__ import annotations

from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router
from ninja import Status as Answer

from api import present, schemas
from api.paging import PageQuery, keyset
from api.problems import LIST, READ, WRITE
from api.schemas import Id
from jobs import services
from jobs.filters import STATUS_GROUPS, JobFilterForm, narrow
from jobs.models import Job, Operation, OperationLogEntry, Status
from vaults.models import Subscription
from vaults.services.refusals import InvalidRequest, require_operator

router = Router(tags=["jobs and the operations log"])


# The Jobs page's choices, as the schema's enums.
JobStatus = Literal[tuple(Status.values) + tuple(STATUS_GROUPS)]
JobOperation = Literal[tuple(Operation.values)]


class JobQuery(PageQuery):
    status: JobStatus | None = Field(None, description="a status, or `succeeded` / `active` for their group")
    operation: JobOperation | None = None
    item: str | None = Field(None, max_length=200, description="part of the item's name")
    start: str | None = Field(None, max_length=40, description="from (ISO time, UTC); with `end`")
    end: str | None = Field(None, max_length=40, description="to (ISO time, UTC); with `start`")
    vault: int | None = Field(None, ge=1, le=schemas.MAX_ID)


@router.get("/jobs", response={200: schemas.page_of(schemas.Job), **LIST})
def list_jobs(request: HttpRequest, query: Query[JobQuery]) -> dict:
    """The Jobs page's filters: status (a status, or the groups `succeeded` and `active`), operation, item (part of
    its name), start and end (both or neither; ISO times), vault. Unlike the page, no window is applied unless
    start and end are given: every job the user may see, newest first."""
    given = {name: value for name, value in query.dict().items()
             if name in JobFilterForm.base_fields and value not in (None, "")}
    form = JobFilterForm(given)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise InvalidRequest(" ".join(errors), field=None if field == "__all__" else field)
    return keyset(request, _job_lists(request, form.cleaned_data), query, present.job)


MAX_MERGED = 24  # beyond this many index walks, one query that sorts is cheaper


def _job_lists(request: HttpRequest, data: dict) -> list[QuerySet[Job]]:
    """The user's jobs matching ``data`` as one list per subscription (and per status of a status group): each is
    read along its own index in id order and ``keyset`` merges the pages. One ``IN (...)`` query would sort every
    job of the user's subscriptions for each page."""
    jobs = Job.objects.select_related("requested_by").defer("params", "log")
    subscriptions = list(Subscription.objects.visible_to(request.user).values_list("pk", flat=True))
    statuses = STATUS_GROUPS[data["status"]][1] if data.get("status") in STATUS_GROUPS else [data.get("status")]
    if len(subscriptions) * len(statuses) > MAX_MERGED:
        return [narrow(jobs.filter(subscription_id__in=subscriptions), data)]
    return [narrow(jobs.filter(subscription_id=pk), {**data, "status": status})
            for pk in subscriptions for status in statuses]


def _job(request: HttpRequest, pk: int) -> Job:
    return get_object_or_404(Job.objects.visible_to(request.user).select_related("requested_by"), pk=pk)


@router.get("/jobs/{pk}", response={200: schemas.Job, **READ})
def get_job(request: HttpRequest, pk: Id) -> dict:
    return present.job(_job(request, pk), subtasks=True)


@router.post("/jobs/{pk}/cancel", response={202: schemas.Job, **WRITE})
def cancel_job(request: HttpRequest, response: HttpResponse, pk: Id) -> Answer:
    """CANCEL: Not Started ends Cancelled at once; In Progress becomes Cancelling and the job undoes its work."""
    job = _job(request, pk)
    require_operator(request.user, "cancel jobs")
    services.request_cancel(job, request.user)
    response["Location"] = present.job_url(job.pk)
    return Answer(202, present.job(job, subtasks=True))


@router.get("/operations-log", response={200: schemas.page_of(schemas.LogEntry), **LIST})
def operations_log(request: HttpRequest, page: Query[PageQuery]) -> dict:
    """Who did what, on which item, when, and the job it made: the entries of the subscriptions you belong to."""
    subscriptions = list(Subscription.objects.visible_to(request.user).values_list("pk", flat=True))
    if len(subscriptions) > MAX_MERGED:
        return keyset(request, OperationLogEntry.objects.filter(subscription_id__in=subscriptions), page,
                      present.log_entry)
    entries = [OperationLogEntry.objects.filter(subscription_id=pk) for pk in subscriptions]  # merged, as jobs are
    return keyset(request, entries, page, present.log_entry)
