"""The vault dashboard's charts: the figures of ``vaults.services.history`` drawn by ``portal.charts``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from portal import charts
from portal.units import human_bytes, human_duration
from vaults.models import Vault
from vaults.services import history

OUTCOME_CSS = {"Completed": "series-ok", "Completed with warnings": "series-warning", "Failed": "series-error"}


def dashboard_charts(vault: Vault) -> dict[str, Any]:
    days = history.window()
    labels = [f"{day:%b} {day.day}" for day in days]
    used = history.storage_per_day(vault, days)
    known = [value for value in used if value is not None]
    storage = charts.line_chart(
        "chart-storage", _("Storage used, last 30 days"), labels, used, fmt=lambda v: human_bytes(int(v)),
        name=_("Storage used"),
        summary=(_("From %(first)s to %(last)s; the most was %(most)s.") % {
            "first": human_bytes(known[0]), "last": human_bytes(known[-1]), "most": human_bytes(max(known))}
                 if known else _("No storage figure recorded yet.")))
    outcomes = history.backups_per_day(vault, days)
    # The outcome names are English keys (vaults.services.history.OUTCOMES); they are translated as they are drawn.
    counts = {_(name): sum(values) for name, values in outcomes.items()}
    backups = charts.bar_chart(
        "chart-backups", _("Backups per day, last 30 days"), labels,
        [charts.Series(_(name), values, OUTCOME_CSS[name]) for name, values in outcomes.items()],
        fmt=lambda v: f"{v:g}", counts=True,
        summary=_("%(counts)s in 30 days.") % {"counts": "; ".join(f"{name}: {count}" for name, count in counts.items())})
    return {"storage_chart": storage, "backups_chart": backups, "item_charts": _item_charts(vault)}


def _item_charts(vault: Vault) -> list[dict[str, SafeString | str]]:
    shown = []
    for number, item in enumerate(history.latest_backups(vault)):
        labels = [_when(backup.created) for backup in item.backups]
        seconds = [backup.seconds for backup in item.backups]
        moved = [backup.bytes for backup in item.backups]
        shown.append({
            "name": item.name,
            "duration": charts.bar_chart(
                f"chart-item-{number}-duration", _("Backup duration of %(name)s") % {"name": item.name}, labels,
                [charts.Series(_("Duration"), seconds, "series-duration")], fmt=human_duration,
                summary=_("The latest %(count)s backups took from %(least)s to %(most)s.") % {
                    "count": len(seconds), "least": human_duration(min(seconds)), "most": human_duration(max(seconds))}),
            "transferred": charts.bar_chart(
                f"chart-item-{number}-bytes", _("Data transferred by the backups of %(name)s") % {"name": item.name},
                labels, [charts.Series(_("Data transferred"), moved, "series-bytes")], fmt=lambda v: human_bytes(int(v)),
                summary=_moved_summary(moved)),
        })
    return shown


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%b} {local.day} {local:%H:%M}"


def _moved_summary(moved: list[int | None]) -> str:
    known = [value for value in moved if value is not None]
    if not known:
        return _("These backups recorded no transfer figure.")
    return _("The latest backups moved from %(least)s to %(most)s.") % {"least": human_bytes(min(known)),
                                                                        "most": human_bytes(max(known))}
