"""The Jobs page's filters, sort and paging, read from the query string.

Everything lives in the URL (``/jobs/?status=failed&operation=backup``) so a
dashboard link opens the page filtered. Paging is "limit + 1": the page asks
for one row more than it shows to know whether there is a next page, and never
counts the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy

from jobs.models import ACTIVE, SUCCEEDED, Job, JobQuerySet, Operation, Status
from portal.tables import Column, Table, query_string

PAGE_SIZE = 50
DEFAULT_WINDOW = timedelta(hours=24)

# START TIME sorts on when the job was requested, which every job has.
JOB_TABLE = Table((Column("item", gettext_lazy("Item"), "item_name"),
                   Column("operation", gettext_lazy("Operation"), "operation"),
                   Column("status", gettext_lazy("Status"), "status"),
                   Column("start", gettext_lazy("Start time"), "created"),
                   Column("duration", gettext_lazy("Duration"), "duration")), default_sort="-start")


# Groups a link may ask for (a dashboard's "successful" count includes Completed With Warnings).
STATUS_GROUPS = {"succeeded": (gettext_lazy("Successful (all)"), SUCCEEDED),
                 "active": (gettext_lazy("Running (all)"), ACTIVE)}


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", gettext_lazy("All"))] + list(Status.choices)
                               + [(key, label) for key, (label, _) in STATUS_GROUPS.items()])
    operation = forms.ChoiceField(required=False, choices=[("", gettext_lazy("All"))] + list(Operation.choices))
    item = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"}))
    start = forms.DateTimeField(required=False, label=gettext_lazy("From"),
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
    end = forms.DateTimeField(required=False, label=gettext_lazy("To"),
                              widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                              input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
    vault = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_sort(self) -> str:
        return JOB_TABLE.clean_sort(self.cleaned_data.get("sort"))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if "start" in self.errors or "end" in self.errors:
            return data
        if (start is None) != (end is None):
            raise forms.ValidationError(gettext_lazy("Give both FROM and TO, or neither (the last 24 hours are shown "
                                                     "then)."))
        if start and end and start >= end:
            raise forms.ValidationError(gettext_lazy("FROM must be before TO."))
        return data


@dataclass
class JobPage:
    form: JobFilterForm
    jobs: list[Job]
    sort: str
    page: int
    has_next: bool
    window: tuple[datetime, datetime | None]

    def url(self, **changes: object) -> str:
        """This page's query string with ``changes`` (None removes a key)."""
        return query_string(dict(self.form.data.items()), **changes)

    @property
    def next_url(self) -> str:
        return self.url(page=self.page + 1) if self.has_next else ""

    @property
    def previous_url(self) -> str:
        return self.url(page=self.page - 1 if self.page > 2 else None) if self.page > 1 else ""

    @property
    def columns(self) -> list[dict]:
        return JOB_TABLE.headers(self.sort, lambda sort: self.url(sort=sort, page=None))


def filter_jobs(queryset: JobQuerySet, params: QueryDict) -> JobPage:
    form = JobFilterForm(params)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    now = timezone.now()
    start, end = data.get("start"), data.get("end")
    if not start:
        start, end = now - DEFAULT_WINDOW, None
    jobs = narrow(queryset, {**data, "start": start, "end": end})
    sort = data.get("sort") or JOB_TABLE.default_sort
    field, order = JOB_TABLE.field_of(sort), JOB_TABLE.order(sort)
    page = data.get("page") or 1
    offset = (page - 1) * PAGE_SIZE
    rows = list(jobs.order_by(order, "-created" if field != "created" else "-id", "-id")
                .defer("params", "log")[offset:offset + PAGE_SIZE + 1])
    return JobPage(form=form, jobs=rows[:PAGE_SIZE], sort=sort, page=page, has_next=len(rows) > PAGE_SIZE,
                   window=(start, end))


def narrow(queryset: JobQuerySet, data: dict) -> JobQuerySet:
    """``queryset`` filtered by a valid form's ``cleaned_data`` (FROM and TO only when given): the page and the
    API's job list filter the same way."""
    jobs = queryset
    if data.get("start"):
        jobs = jobs.filter(created__gte=data["start"])
    if data.get("end"):
        jobs = jobs.filter(created__lt=data["end"])
    if data.get("status") in STATUS_GROUPS:
        jobs = jobs.filter(status__in=STATUS_GROUPS[data["status"]][1])
    elif data.get("status"):
        jobs = jobs.filter(status=data["status"])
    if data.get("operation"):
        jobs = jobs.filter(operation=data["operation"])
    if data.get("item"):
        jobs = jobs.filter(item_name__icontains=data["item"])
    if data.get("vault"):
        jobs = jobs.filter(vault_id=data["vault"])
    return jobs
