"""The vault dashboard's charts after real backups: storage used per day, backups per day by outcome, and each
protected item's latest backups, drawn as inline SVG with the figures in a hidden table."""

from __future__ import annotations

import os
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.throughput import KEY, figures
from portal.units import human_bytes, human_duration
from tests.backup.helpers import back_up, lab_vault, protect, run, write
from vaults.history import StorageSample
from vaults.operations.maintenance import GarbageCollection, Verify
from vaults.services.history import latest_backups, window

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def remove_new_vault_stores(vault_stores_removed):
    """Every test here leaves no store behind for the vaults it made."""


def figure(html: str, chart_id: str) -> ElementTree.Element:
    """The chart's <figure>, parsed (the SVG namespace declared so the HTML fragment reads as XML)."""
    start = html.index(f'<figure class="chart" id="{chart_id}">')
    end = html.index("</figure>", start) + len("</figure>")
    return ElementTree.fromstring(  # noqa: S314 - the portal's own markup
        html[start:end].replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def figures_table(chart: ElementTree.Element) -> list[list[str]]:
    return [[cell.text or "" for cell in row] for row in chart.find("table").find("tbody")]


def test_the_dashboard_charts_the_vaults_backups_and_storage(client, lab_subscription, owner, member, outsider,
                                                             fabric_faults, settings):
    vault = lab_vault(owner, lab_subscription, name="charts")
    web = protect(member, vault, "contoso-web", "web01")
    sql = protect(member, vault, "contoso-web", "web02")
    os_disk = next(d for d in web.item.vm.disks if d["lun"] is None)
    write(lab_subscription, os_disk["media_link"], 64 << 20, os.urandom(8 << 20))
    first = back_up(member, web)
    write(lab_subscription, os_disk["media_link"], 80 << 20, os.urandom(1 << 20))
    second = back_up(member, web)
    other = back_up(member, sql)
    assert [job.status for job in (first, second, other)] == ["completed"] * 3
    # One backup fails: the VM's agent does not answer before the snapshot's time is up.
    settings.BACKUP_SNAPSHOT_TIMEOUT_SECONDS = 2
    fabric_faults(agent_unresponsive=["contoso-web/web02"])
    failed = back_up(member, sql)
    assert failed.status == "failed"
    fabric_faults(agent_unresponsive=[])
    vault.refresh_from_db()

    client.force_login(member)
    html = client.get(reverse("vaults:dashboard", args=[vault.pk])).content.decode()

    # Storage used: one sample today (each backup upserted it), the figure the dashboard tile shows.
    assert StorageSample.objects.filter(vault=vault).count() == 1
    storage = figure(html, "chart-storage")
    svg = storage.find(f"{SVG}svg")
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "Storage used, last 30 days"
    [point] = svg.findall(f"{SVG}circle")
    assert int(point.get("data-value")) == vault.storage_used > 0
    rows = figures_table(storage)
    assert len(rows) == 30 and rows[-1][1] == human_bytes(vault.storage_used) and rows[0][1] == ""

    # Backups per day: today holds 3 completed and 1 failed, stacked; the other 29 days no bar.
    backups = figure(html, "chart-backups")
    today = window()[-1]
    label = f"{today:%b} {today.day}"
    bars = [(bar.get("data-label"), bar.get("data-series"), bar.get("data-value"))
            for bar in backups.find(f"{SVG}svg").findall(f"{SVG}rect")]
    assert bars == [(label, "Completed", "3"), (label, "Failed", "1")]
    assert figures_table(backups)[-1] == [label, "3", "0", "1"]
    assert "Completed: 3; Completed with warnings: 0; Failed: 1 in 30 days." in html

    # Each item's latest successful backups: how long each took, and what it moved.
    durations = figure(html, "chart-item-0-duration")
    moved = figure(html, "chart-item-1-bytes")
    assert len(durations.find(f"{SVG}svg").findall(f"{SVG}rect")) == 2  # web01: two backups
    assert len(figure(html, "chart-item-1-duration").find(f"{SVG}svg").findall(f"{SVG}rect")) == 1  # web02: one
    web_bytes = [int(bar.get("data-value")) for bar in figure(html, "chart-item-0-bytes").find(f"{SVG}svg")
                 .findall(f"{SVG}rect")]
    assert web_bytes == [first.properties[KEY]["done"], second.properties[KEY]["done"]]
    assert web_bytes[0] > web_bytes[1] > 0  # the full backup read more than the incremental
    assert figures_table(moved)[0][1] == human_bytes(other.properties[KEY]["done"])
    assert [row[1] for row in figures_table(durations)] == [human_duration(job.duration.total_seconds())
                                                             for job in (first, second)]

    # Only each item's latest backups are drawn: with room for one, web01 shows its incremental.
    # Items are named as everywhere, with their cloud service: "web01 (contoso-web)".
    latest = {entry.name.split(" (")[0]: entry.backups for entry in latest_backups(vault, per_item=1)}
    assert [backup.bytes for backup in latest["web01"]] == [second.properties[KEY]["done"]]
    assert [backup.bytes for backup in latest["web02"]] == [other.properties[KEY]["done"]]

    # Verify reads every chunk back and keeps what it read and how fast.
    verify = run(Verify.start_for(member, vault))
    assert verify.status == "completed", verify.error_message
    assert verify.properties[KEY]["finished"] and verify.properties[KEY]["done"] > 0
    assert figures(verify.properties, active=False)["rate"].endswith("/s")

    # Garbage collection changes storage too: it upserts the same day's sample.
    job = run(GarbageCollection.start(vault, member, grace=0))
    assert job.status == "completed", job.error_message
    vault.refresh_from_db()
    assert StorageSample.objects.get(vault=vault, day=timezone.localdate()).bytes_used == vault.storage_used

    # Another subscription's user sees no chart of this vault.
    client.force_login(outsider)
    assert client.get(reverse("vaults:dashboard", args=[vault.pk])).status_code == 404
