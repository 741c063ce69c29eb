"""What a person sees while a real backup runs: the strip and the job's details give its bytes per second and the
time left, live; once done the details keep the average rate. Afterwards the dashboard charts the backup."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation
from tests.backup.helpers import lab_vault, protect, wait_for, write
from tests.conftest import wait_for as wait

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RATE = re.compile(r"^\d+(\.\d)? (bytes|KB|MB|GB|TB)/s$")
TIME_LEFT = re.compile(r"(a few seconds|less than a minute|about \d+ (min|h)( \d+ min)?) left$")


def test_the_strip_shows_rate_and_time_left_while_a_backup_transfers(
        page, context, sign_in, member, owner, lab_subscription, celery_worker_process, portal_server, screenshot_dir,
        fabric_faults):
    vault = lab_vault(owner, lab_subscription, name="throughput")
    item = protect(member, vault, "contoso-web", "web01", runner=wait_for)
    os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
    write(lab_subscription, os_disk["media_link"], 64 << 20, os.urandom(96 << 20))
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, member)
    jobs_tab = context.new_page()
    jobs_tab.set_viewport_size({"width": 1400, "height": 1000})
    jobs_tab.goto(f"{portal_server}/vaults/{vault.pk}/jobs/")
    jobs_tab.wait_for_selector("body[data-live='1']")

    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    page.locator(f"#protected-table tr[data-id='{item.pk}'] td").nth(1).click()
    fabric_faults(latency_ms=1000)  # a distant storage account: the transfer takes several seconds
    page.locator("#cmd-backup-now").click()
    wait(lambda: Job.objects.filter(operation=Operation.BACKUP).exists(), what="the backup job", timeout=15)
    job = Job.objects.get(operation=Operation.BACKUP)

    note = page.locator(f"#notes .note[data-id=job-{job.pk}]")
    expect(note).to_contain_text("Backing up 'web01 (contoso-web)'", timeout=20_000)
    rate, eta = note.locator(".note-rate"), note.locator(".note-eta")
    expect(rate).to_have_text(RATE, timeout=30_000)
    expect(eta).to_have_text(TIME_LEFT)
    expect(note.locator(".note-phase")).to_have_text("Transferring data to the vault")
    page.screenshot(path=screenshot_dir / "throughput-strip-running.png")
    # The rate follows the transfer: a later event brings a new figure, and the bar moves on.
    first = rate.text_content()
    progress = note.locator(".note-progress")
    before = int(progress.get_attribute("aria-valuenow"))
    page.wait_for_function(f"Number(document.querySelector('#notes .note[data-id=job-{job.pk}] .note-progress')"
                           f".getAttribute('aria-valuenow')) > {before}", timeout=30_000)

    # The job's details follow it live too.
    jobs_tab.locator(f"#job-row-{job.pk} a.job-open").click()
    dialog = jobs_tab.locator("#job-details-dialog")
    expect(dialog.locator("#job-details-rate")).to_have_text(RATE, timeout=20_000)
    expect(dialog.locator("#job-details-eta")).to_have_text(TIME_LEFT)
    expect(dialog.locator("#job-details-phase")).to_have_text("Transferring data to the vault")
    jobs_tab.screenshot(path=screenshot_dir / "throughput-details-running.png")
    fabric_faults(latency_ms=0)

    expect(note).to_have_attribute("data-state", "succeeded", timeout=60_000)
    # Once done, the strip shows no rate nor time left (nothing is left), the details the average rate.
    expect(note.locator(".note-meta")).to_be_hidden()
    expect(dialog.locator("#job-details-status")).to_have_text("Completed", timeout=20_000)
    expect(dialog.locator("#job-details-rate")).to_have_text(RATE)
    expect(dialog.locator("#job-details-eta")).to_have_count(0)
    expect(dialog.locator(".job-properties")).not_to_contain_text("_throughput")
    jobs_tab.screenshot(path=screenshot_dir / "throughput-details-completed.png")
    assert first

    # The dashboard draws the backup: one completed bar today, one point of storage, the item's backup.
    page.goto(f"{portal_server}/vaults/{vault.pk}/dashboard/")
    expect(page.locator("#chart-backups rect.bar")).to_have_count(1)
    expect(page.locator("#chart-storage circle.point")).to_have_count(1)
    expect(page.locator("#item-charts")).to_contain_text("web01")
    expect(page.locator("#chart-item-0-bytes rect.bar")).to_have_count(1)
    page.locator("#dashboard-charts").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "throughput-dashboard-charts.png", full_page=True)
