"""What every vault page shares: the tabs, finding a vault the user may see, the page frame, notices and ids.

A view finds its vault through ``vault_or_404`` (another subscription's vault answers 404), calls one service
or operation, and turns a ``Refusal`` into a notice in the notification strip.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy

from jobs.models import Job
from vaults.models import Vault

# (key, label, url name): the vault's tabs, in the classic order.
VAULT_TABS = (
    ("quickstart", gettext_lazy("QUICK START"), "vaults:quickstart"),
    ("dashboard", gettext_lazy("DASHBOARD"), "vaults:dashboard"),
    ("registered", gettext_lazy("REGISTERED ITEMS"), "vaults:registered"),
    ("protected", gettext_lazy("PROTECTED ITEMS"), "vaults:protected"),
    ("policies", gettext_lazy("POLICIES"), "vaults:policies"),
    ("jobs", gettext_lazy("JOBS"), "vaults:jobs"),
    ("configure", gettext_lazy("CONFIGURE"), "vaults:configure"),
)
LAST_TAB = "vault-tab-{}"


def notice(text: str, state: str = "failed", *refresh: str) -> HttpResponse:
    """An empty answer that says ``text`` in the notification strip (shell.js listens for portal:notice).

    ``refresh`` names further events to fire on the page (e.g. "portal:item"), so its lists reload.
    """
    response = HttpResponse(status=204)
    response["HX-Trigger"] = json.dumps({"portal:notice": {"text": str(text), "state": state},
                                         **{event: {} for event in refresh}})
    return response


def ids_from(values: list[str]) -> list[int]:
    """Ids from form values that may each hold one id or a comma-separated list of them."""
    return [int(v) for value in values for v in value.split(",") if v.strip().isdigit()]


def vault_or_404(request: HttpRequest, pk: int) -> Vault:
    return get_object_or_404(Vault.objects.visible_to(request.user).select_related("subscription"), pk=pk)


def vault_page(request: HttpRequest, vault: Vault, tab: str, template: str,
               context: dict | None = None) -> HttpResponse:
    request.session[LAST_TAB.format(vault.pk)] = tab
    context = {"vault": vault, "page_title": vault.name, "tab": tab, "tabs": VAULT_TABS,
               "sse_query": f"vault={vault.pk}", **(context or {})}
    return render(request, template, context)


def started_notice(jobs: list[Job], started: str, what: str) -> str:
    """What a user reads after starting jobs: ``started``, or that they wait for the job service (the broker) to
    answer again when their tasks could not be sent."""
    return str(Job.UNSENT) % {"what": what} if any(job.is_queued_unsent for job in jobs) else started
