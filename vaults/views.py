"""Recovery Services pages: the vault list and each vault's tabs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from vaults.models import Vault

VAULT_TABS = (
    ("dashboard", "DASHBOARD", "vaults:dashboard"),
)


def vault_list(request: HttpRequest) -> HttpResponse:
    vaults = Vault.objects.visible_to(request.user).select_related("subscription")
    return render(request, "vaults/list.html", {"page_title": "Recovery Services", "vaults": vaults})


def _vault_page(request: HttpRequest, pk: int, tab: str, template: str, context: dict | None = None) -> HttpResponse:
    vault = get_object_or_404(Vault.objects.visible_to(request.user).select_related("subscription"), pk=pk)
    context = {"vault": vault, "page_title": vault.name, "tab": tab, "tabs": VAULT_TABS,
               "sse_query": f"vault={vault.pk}", **(context or {})}
    return render(request, template, context)


def dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    return _vault_page(request, pk, "dashboard", "vaults/dashboard.html")
