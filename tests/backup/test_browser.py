"""What a person clicks: BACKUP NOW, the job's sub-tasks live, the new recovery point, then restore it as a new VM."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation
from tests.conftest import wait_for as wait
from vaults.cloud.endpoint import compute_client

from .helpers import lab_vault, protect, wait_for, write

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def created(operation: str) -> Job:
    """The job the page just started (read from the database the portal process wrote)."""
    wait(lambda: Job.objects.filter(operation=operation).exists(), what=f"a {operation} job", timeout=15)
    return Job.objects.get(operation=operation)


def settled(wizard) -> None:
    """Wait until htmx has processed the wizard it just swapped in (its hx- attributes are bound only then, a
    moment after the new form shows): a change made sooner would send no request."""
    expect(wizard.locator("#restore-form.htmx-added")).to_have_count(0)


def test_backup_now_then_restore_as_a_new_vm(page, context, sign_in, member, owner, lab_subscription,
                                            celery_worker_process, portal_server, screenshot_dir, fabric_faults):
    vault = lab_vault(owner, lab_subscription, name="contoso-east")
    item = protect(member, vault, "contoso-web", "web01", runner=wait_for)
    os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
    write(lab_subscription, os_disk["media_link"], 64 << 20, os.urandom(32 << 20))
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, member)
    jobs_tab = context.new_page()
    jobs_tab.set_viewport_size({"width": 1400, "height": 1000})
    jobs_tab.goto(f"{portal_server}/vaults/{vault.pk}/jobs/")
    jobs_tab.wait_for_selector("body[data-live='1']")

    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    row = page.locator(f"#protected-table tr[data-id='{item.pk}']")
    expect(row).to_contain_text("Protected - (initial backup pending)")
    expect(page.locator("#cmd-backup-now")).to_be_disabled()
    row.locator("td").nth(1).click()
    fabric_faults(latency_ms=150)  # slow enough to watch the transfer
    page.locator("#cmd-backup-now").click()
    expect(page.locator("#notes")).to_contain_text("Backup started")
    job = created(Operation.BACKUP)

    job_row = jobs_tab.locator(f"#job-row-{job.pk}")
    expect(job_row).to_contain_text("Backup", timeout=10_000)
    job_row.locator("a.job-open").click()
    dialog = jobs_tab.locator("#job-details-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("tr[data-subtask='1']")).to_contain_text("Take Snapshot", timeout=20_000)
    expect(dialog.locator("tr[data-subtask='2']")).to_contain_text("Transfer data to vault", timeout=20_000)
    expect(dialog.locator("tr[data-subtask='2']")).to_contain_text("In Progress", timeout=20_000)
    jobs_tab.screenshot(path=screenshot_dir / "backup-now-transfer.png")
    fabric_faults(latency_ms=0)
    expect(dialog.locator("#job-details-status")).to_have_text("Completed", timeout=60_000)
    expect(dialog.locator(".job-properties")).to_contain_text("Data transferred")
    jobs_tab.screenshot(path=screenshot_dir / "backup-now-completed.png")

    # The Protected Items row refreshes live: one recovery point.
    expect(row).to_contain_text("Protected", timeout=15_000)
    expect(row.locator("td").nth(3)).to_have_text("1", timeout=15_000)
    page.screenshot(path=screenshot_dir / "protected-items-after-backup.png")

    # Restore it as a new VM through the wizard (the row stays selected across the live refresh).
    expect(row).to_have_attribute("aria-selected", "true")
    page.locator("#cmd-restore").click()
    wizard = page.locator("#restore-dialog")
    expect(wizard).to_be_visible()
    expect(wizard.locator("#restore-calendar td.has-points")).to_have_count(1)
    expect(wizard.locator("#restore-points")).to_contain_text("Application consistent")
    page.screenshot(path=screenshot_dir / "restore-wizard-calendar.png")
    wizard.locator("#restore-next").click()
    expect(wizard.locator("[data-page='2']")).to_be_visible()
    wizard.locator("#restore-vm-name").fill("web01")
    wizard.locator("#restore-existing-service").select_option("contoso-web")
    wizard.locator("#restore-storage").select_option("labstoreeastus")
    wizard.locator("#restore-finish").click()
    expect(wizard.locator("#err-vm_name")).to_contain_text("already exists")
    settled(wizard)
    wizard.locator("#restore-vm-name").fill("rsbrowser")
    # contoso-web is in contoso-vnet: choosing the network brings its subnets.
    expect(wizard.locator("#restore-subnet")).to_be_disabled()
    wizard.locator("#restore-vnet").select_option("contoso-vnet")
    expect(wizard.locator("#restore-subnet")).to_be_enabled()
    settled(wizard)
    expect(wizard.locator("#restore-vm-name")).to_have_value("rsbrowser")
    wizard.locator("#restore-subnet").select_option("backend")
    page.screenshot(path=screenshot_dir / "restore-wizard-target.png")
    wizard.locator("#restore-finish").click()
    expect(wizard).to_be_hidden()
    restore = created(Operation.RESTORE)
    expect(jobs_tab.locator(f"#job-row-{restore.pk}")).to_contain_text("Completed", timeout=60_000)
    jobs_tab.screenshot(path=screenshot_dir / "restore-completed.png")
    client = compute_client(lab_subscription.endpoint)
    detail = client.get_hosted_service_properties("contoso-web", embed_detail=True)
    role = next(role for dep in detail.deployments for role in dep.role_list if role.role_name == "rsbrowser")
    assert [name for config in role.configuration_sets for name in config.subnet_names] == ["backend"]

    # Stop protection, keeping the data: the row says so and keeps its point.
    page.locator("#cmd-stop-protection").click()
    stop = page.locator("#stop-dialog")
    expect(stop).to_contain_text("Stop protection of 'web01 (contoso-web)'")
    expect(stop.locator("#stop-delete-data")).not_to_be_checked()
    stop.locator("#stop-reason").select_option("Other")
    page.screenshot(path=screenshot_dir / "stop-protection-dialog.png")
    stop.locator("#stop-confirm").click()
    expect(stop).to_be_hidden()
    expect(row).to_contain_text("Protection Stopped", timeout=20_000)
    expect(row.locator("td").nth(3)).to_have_text("1")
