"""VIRTUAL MACHINES in the left navigation: the VMs of the user's subscriptions, read-only.

Each row says where the VM runs (region, cloud service), its status, and the
vault that protects it, so a user knows which region to create a vault in.
Only the subscriptions the user is a member of are listed.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from vaults.models import Subscription
from vaults.services.machines import machines_of


def machine_list(request: HttpRequest) -> HttpResponse:
    subscriptions = Subscription.objects.visible_to(request.user).order_by("name")
    listed = [machines_of(subscription) for subscription in subscriptions]
    return render(request, "vaults/machines.html", {"page_title": _("virtual machines"), "listed": listed})
