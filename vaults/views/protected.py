"""Protected Items tab: the list with live refresh, and each item's Backup Details and Backup Policy.

BACKUP NOW, RESTORE, STOP PROTECTION, DELETE and UNDELETE join this page's
command bar with the backup and restore jobs. A soft-deleted item shows the
days left before its data is purged, and when.
"""

from __future__ import annotations

from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy

from jobs.models import ACTIVE, Job, Operation
from portal.tables import Column, Table, label_of
from portal.zone import user_zone
from vaults.models import ProtectedItem
from vaults.policy.schedule import local_label
from vaults.views.common import vault_or_404, vault_page
from vaults.views.policies import policy_detail_rows

PROTECTED_TABLE = Table((Column("name", gettext_lazy("Name"), "item__vm__name"),
                         Column("service", gettext_lazy("Cloud service"), "item__vm__cloud_service"),
                         Column("status", gettext_lazy("Protection status"), "status_label"),
                         Column("points", gettext_lazy("Recovery points"), "point_count"),
                         Column("newest", gettext_lazy("Newest recovery point"), "newest_point"),
                         Column("last", gettext_lazy("Last backup status"), "last_backup_status")),
                        default_sort="name", search_field="item__vm__name")


def protected_items(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    grid = PROTECTED_TABLE.read(request.GET)
    items = (vault.protected_items.select_related("item__vm", "policy")
             .annotate(point_count=Count("recovery_points"), newest_point=Max("recovery_points__created"),
                       status_label=label_of("status", ProtectedItem.Status.choices)))
    tz, items = user_zone(request), list(grid.apply(items, "item__vm__name"))
    running = {job.item_key: job for job in Job.objects.filter(vault=vault, operation=Operation.BACKUP,
                                                               status__in=ACTIVE).only("pk", "item_key", "progress")}
    for item in items:  # times read in the user's zone, with the offset, like the schedules
        item.backup_job = running.get(item.item.item_key)  # shown in the row, with its percent, while it runs
        item.newest_label = local_label(item.newest_point, tz) if item.newest_point else ""
        item.purge_label = local_label(item.purge_after, tz) if item.purge_after else ""
    context = {"items": items, "grid": grid}
    if request.htmx and request.htmx.target == "protected-items":
        return render(request, "vaults/protected_items.html#protected-table", {"vault": vault, **context})
    return vault_page(request, vault, "protected", "vaults/protected_items.html", context)


def protected_item(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """The drill-down: Backup Details (last backup, size, duration, status) and Backup Policy."""
    vault = vault_or_404(request, pk)
    item = get_object_or_404(vault.protected_items.select_related("item__vm", "policy"), pk=item_pk)
    newest = item.recovery_points.order_by("-created").first()
    last_job = (Job.objects.filter(vault=vault, item_key=item.item.item_key, operation=Operation.BACKUP)
                .order_by("-created").first())
    tz = user_zone(request)
    context = {"item": item, "newest": newest, "last_job": last_job, "point_count": item.recovery_points.count(),
               "policy": policy_detail_rows(item.policy, tz) if item.policy else None,
               "last_backup_label": local_label(item.last_backup_time, tz) if item.last_backup_time else "",
               "purge_label": local_label(item.purge_after, tz) if item.purge_after else "",
               "newest_label": local_label(newest.created, tz) if newest else ""}
    if request.htmx and request.htmx.target == "protected-item":
        return render(request, "vaults/protected_item.html#details", {"vault": vault, **context})
    return vault_page(request, vault, "protected", "vaults/protected_item.html", context)
