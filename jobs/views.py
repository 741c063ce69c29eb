"""The Jobs page, its live partials, the Details dialog and CANCEL.

Other apps show the same list elsewhere (a vault's JOBS tab) with
``render_job_list``::

    from jobs.views import render_job_list

    def vault_jobs(request, pk):
        vault = get_object_or_404(Vault.objects.visible_to(request.user), pk=pk)
        return render_job_list(request, Job.objects.visible_to(request.user).filter(vault=vault),
                               {"vault": vault, "tab": "jobs", "sse_query": f"vault={vault.pk}"},
                               template="vaults/jobs.html")

where ``vaults/jobs.html`` includes ``jobs/_panel.html`` in its content,
``jobs/_commands.html`` in its commands block and ``jobs/_dialog.html`` in its
dialogs block (as ``jobs/list.html`` does).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jobs import live, services
from jobs.errors import Refusal
from jobs.filters import filter_jobs
from jobs.models import ACTIVE, Job, JobQuerySet
from portal.access import can_operate


def render_job_list(request: HttpRequest, jobs: JobQuerySet, template_context: dict | None = None, *,
                    template: str = "jobs/list.html") -> HttpResponse:
    """The filtered, sorted, paged list of ``jobs`` (already scoped to the user), as a page or its rows partial."""
    page = filter_jobs(jobs, request.GET)
    context = {"page_title": _("Jobs"), "job_page": page, "can_cancel": can_operate(request.user),
               **(template_context or {})}
    if request.htmx and request.htmx.target == "job-rows":
        return render(request, "jobs/_panel.html#rows", context)
    context.setdefault("sse_query", _live_channels(request.user, page.jobs))
    return render(request, template, context)


def _live_channels(user: AbstractBaseUser | AnonymousUser, shown: list[Job]) -> str:
    """The page follows every vault the user sees (new jobs appear) and the shown running jobs without a vault."""
    vaults = Job.vault.field.related_model.objects.filter(subscription__members=user).values_list("pk", flat=True)
    query = [("vault", pk) for pk in vaults[:100]]
    query += [("job", job.pk) for job in shown if job.is_active and job.vault_id is None]
    return urlencode(query)


def job_list(request: HttpRequest) -> HttpResponse:
    return render_job_list(request, Job.objects.visible_to(request.user))


def _visible_job(request: HttpRequest, pk: int) -> Job:
    return get_object_or_404(Job.objects.visible_to(request.user).select_related("requested_by"), pk=pk)


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _visible_job(request, pk)
    context = {"job": job, "subtasks": job.subtasks.all(), "can_cancel": can_operate(request.user)}
    if request.htmx:
        return render(request, "jobs/_details.html", context)
    return render(request, "jobs/detail.html", {**context, "page_title": _("Job details"), "sse_query": f"job={job.pk}"})


@require_GET
def job_row(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "jobs/_panel.html#row", {"job": _visible_job(request, pk)})


@require_POST
def job_cancel(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("job", "")
    if not raw.isdigit():
        raise Http404("No job selected.")
    job = _visible_job(request, int(raw))
    if not can_operate(request.user):
        return _answer(request, job, _("You may view jobs but not cancel them: ask a Backup Operator."), "failed", 403)
    try:
        services.request_cancel(job, request.user)
    except Refusal as refusal:
        return _answer(request, job, _("Cannot cancel the job on '%(item)s': %(refusal)s") % {
            "item": job.item_name, "refusal": refusal}, "failed", 409)
    if job.requested_by_id == request.user.pk:
        # The requester's own note of the job: its next events carry it on to "was cancelled".
        return _answer(request, job, live.sentence(job), "running", 200, note_id=f"job-{job.pk}")
    return _answer(request, job, _("Cancellation of the job on '%(item)s' was requested.") % {"item": job.item_name},
                   "succeeded", 200)


def _answer(request: HttpRequest, job: Job, text: str, state: str, status: int, note_id: str = "") -> HttpResponse:
    """HTMX gets the sentence as a note for the strip; a plain form post gets a message and the details page."""
    if request.htmx:
        note = {"id": note_id or f"cancel-{job.pk}", "text": text, "state": state, "url": job.get_absolute_url()}
        # 204 even for a refusal: htmx swaps nothing, and reads the trigger header on success answers only.
        return HttpResponse(status=204, headers={"HX-Trigger": json.dumps({"portal:message": note})})
    (messages.error if status >= 400 else messages.info)(request, text)
    return redirect(job)


@require_GET
def notes(request: HttpRequest) -> JsonResponse:
    """The strip's notes of the user's jobs, for a page that reconnects: running ones and those just ended."""
    asked = [int(part[4:]) for part in request.GET.get("ids", "").split(",") if part.startswith("job-") and part[4:].isdigit()]
    jobs = Job.objects.visible_to(request.user).filter(requested_by=request.user).defer("params", "log")
    shown = list(jobs.active().order_by()[:20]) + list(jobs.filter(pk__in=asked[:50]).exclude(status__in=ACTIVE))
    return JsonResponse({"notes": [live.payload(job) for job in shown]})
