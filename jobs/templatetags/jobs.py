"""Template helpers of the jobs app: durations, and the strip's notes for the user's running jobs."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.template import Context
from django.utils.html import json_script
from django.utils.translation import gettext

from jobs import live, throughput
from jobs.models import Job
from portal.units import human_bytes

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """``0:01:05`` like the classic portal's DURATION column; empty when unknown."""
    if value is None:
        return ""
    seconds = max(0, int(value.total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@register.filter
def throughput_figures(job: Job) -> dict[str, str]:
    """The job's rate, time left and phase as the Details dialog shows them (``jobs.throughput.figures``)."""
    return throughput.figures(job.properties, active=job.is_active)


@register.filter
def public_properties(properties: dict) -> dict:
    """The properties a person reads: without the private ones (``jobs.throughput.KEY``). A value stored as an
    English word the catalogue knows ("Application consistent", "Incremental") reads in the page's language."""
    return {name: gettext(value) if isinstance(value, str) and value else value  # gettext("") is the header
            for name, value in throughput.public(properties or {}).items()}


@register.filter(name="human_bytes")
def human_bytes_filter(value: int | None) -> str:
    """Sizes as every page writes them (portal/units.py), not Django's ``filesizeformat``."""
    return "—" if value is None else human_bytes(int(value))


@register.filter
def is_list(value: object) -> bool:
    return isinstance(value, list | tuple)


@register.simple_tag(takes_context=True)
def running_job_notes(context: Context) -> str:
    """The user's running jobs as notes for the strip, so a page (re)loaded mid-job shows them at once."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    # No ORDER BY in SQL: it would tempt SQLite onto the (subscription, created) index and a scan of
    # every job of the user; the few active ones are found by (requested_by, status) and sorted here.
    jobs = Job.objects.visible_to(user).filter(requested_by=user).active().defer("params", "log").order_by()[:20]
    return json_script([live.payload(job) for job in sorted(jobs, key=lambda job: job.created, reverse=True)],
                       "initial-notes")
