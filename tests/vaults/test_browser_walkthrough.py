"""The tutorial's first steps as a newcomer clicks them: quick create follows a Create Vault job in the strip, and
View Job opens the job's details in the dialog (as the Jobs tab does); BACKUP NOW shows in the Protected Items
row (spinner, percent, outcome); two web01 VMs are told apart by their cloud service."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation
from tests.backup.helpers import lab_vault, protect, wait_for, write
from tests.fixtures.browser import open_quick_create
from vaults.models import Vault

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_quick_create_is_a_job_whose_view_job_opens_the_dialog(
    page, sign_in, member, lab_subscription, celery_worker_process, portal_server, screenshot_dir
):
    sign_in(page, member)
    page.wait_for_selector("body[data-live='1']")
    form = open_quick_create(page)
    form.get_by_label("Name").fill("walk-east")
    form.get_by_label("Region").select_option("East US")
    form.locator("button.create-vault").click()

    note = page.locator("#notes .note", has_text="backup vault 'walk-east'")
    expect(note).to_have_attribute("data-state", "succeeded", timeout=20_000)
    expect(note).to_contain_text("Creation of backup vault 'walk-east' completed.")
    job = Job.objects.get(operation=Operation.CREATE_VAULT, item_name="walk-east")
    assert Vault.objects.get(name="walk-east").status == Vault.Status.ACTIVE
    page.click("#cmd-new")  # close the drawer
    expect(page.locator("#vault-table tbody tr", has_text="walk-east")).to_contain_text("Active")

    # View Job in the strip: the job's details, in the dialog, on the page the user is on.
    where = page.url
    link = note.locator(".note-link")
    expect(link).to_have_attribute("href", f"/jobs/{job.pk}/")
    link.click()
    dialog = page.locator("#job-details-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(f"#job-details-{job.pk}")).to_contain_text("walk-east")
    expect(dialog.locator("#job-details-status")).to_have_text("Completed")
    assert page.url == where
    page.screenshot(path=screenshot_dir / "walkthrough-create-vault-job-dialog.png")
    dialog.locator("[data-close-dialog]").first.click()
    expect(dialog).to_be_hidden()

    # The Jobs page opens the same dialog; the details page stays for a direct link.
    page.goto(f"{portal_server}/jobs/")
    page.locator(f"#job-row-{job.pk} a.job-open").click()
    expect(dialog.locator(f"#job-details-{job.pk}")).to_be_visible()
    assert page.url.endswith("/jobs/")
    page.goto(f"{portal_server}/jobs/{job.pk}/")
    expect(page.locator(f"#job-details-{job.pk}")).to_contain_text("walk-east")


def test_backup_now_shows_in_the_row_and_names_the_vm_with_its_cloud_service(
    page, sign_in, member, owner, lab_subscription, celery_worker_process, portal_server, screenshot_dir,
    fabric_faults
):
    vault = lab_vault(owner, lab_subscription, name="walk-west")
    items = [protect(member, vault, service, "web01", runner=wait_for) for service in ("contoso-web", "tailspin-web")]
    item = items[0]
    os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
    write(lab_subscription, os_disk["media_link"], 64 << 20, os.urandom(32 << 20))
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, member)
    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    row = page.locator(f"#protected-table tr[data-id='{item.pk}']")
    row.locator("td").nth(1).click()
    fabric_faults(latency_ms=150)  # slow enough to watch the transfer
    page.locator("#cmd-backup-now").click()

    running = row.locator(".backup-running")
    expect(running).to_be_visible(timeout=15_000)
    expect(running).to_contain_text("Backing up")
    percent = running.locator(".job-percent")
    expect(percent).to_have_text(re.compile(r"^([1-9]\d?)%$"), timeout=30_000)  # moved by the job's events
    page.screenshot(path=screenshot_dir / "walkthrough-protected-row-backing-up.png")
    # The strip names the VM with its cloud service: there is another web01.
    expect(page.locator("#notes")).to_contain_text("web01 (contoso-web)")
    fabric_faults(latency_ms=0)
    expect(running).to_be_hidden(timeout=60_000)
    expect(row.locator("td").nth(5)).to_have_text("Completed", timeout=15_000)
    page.screenshot(path=screenshot_dir / "walkthrough-protected-row-completed.png")

    job = Job.objects.get(operation=Operation.BACKUP)
    assert job.item_name == "web01 (contoso-web)"
    # The Jobs tab: the row says which web01, and the details dialog too.
    page.goto(f"{portal_server}/vaults/{vault.pk}/jobs/?item=web01")
    job_row = page.locator(f"#job-row-{job.pk}")
    expect(job_row).to_contain_text("web01 (contoso-web)")
    job_row.locator("a.job-open").click()
    expect(page.locator("#job-details-dialog")).to_contain_text("web01 (contoso-web)")
    expect(page.locator("#job-details-dialog .job-properties")).to_contain_text("Data backed up")
    page.screenshot(path=screenshot_dir / "walkthrough-jobs-tab-same-named.png")
