"""What a newcomer clicks: a double click on REGISTER and BACKUP NOW, the policy wizard's first look, the restore
wizard's storage accounts, VIRTUAL MACHINES from the left navigation. Screenshots go to VAR_DIR/screenshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation, Status
from tests.fixtures.vaults import protect_vm, quick_vault, wait_for_job
from vaults.models import RecoveryPoint, Vault, VirtualMachine
from vaults.operations.discovery import Discovery

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def no_failure_shown(page) -> None:
    """Give a second request time to answer, then check the strip holds no red line."""
    page.wait_for_timeout(1500)
    expect(page.locator("#notes .note[data-state='failed']")).to_have_count(0)


def test_a_double_click_on_register_and_backup_now_starts_one_job_and_shows_no_error(
        page, sign_in, member, vault, portal_server, screenshot_dir, celery_worker_process):
    # The suite's worker runs the jobs (a test before this one may have started it): wait for it, never race it.
    assert wait_for_job(Discovery.start(member, vault)).status == Status.COMPLETED
    item = protect_vm(member, vault, "contoso-web", "web01", runner=wait_for_job)
    web02 = VirtualMachine.objects.get(subscription=vault.subscription, cloud_service="contoso-web", name="web02")
    sign_in(page, member)

    page.goto(f"{portal_server}/vaults/{vault.pk}/registered-items/")
    page.wait_for_selector("body[data-live='1']")
    page.click("#cmd-register")
    dialog = page.locator("#register-dialog")
    dialog.locator(f"input[name=vm][value='{web02.pk}']").check()
    dialog.locator("#register-finish").dblclick()
    expect(dialog).to_be_hidden()
    no_failure_shown(page)
    page.screenshot(path=screenshot_dir / "newcomer-register-double-click.png")
    assert Job.objects.filter(operation=Operation.REGISTER, item_key=f"vm:{web02.pk}").count() == 1

    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    page.locator(f"#protected-table tr[data-id='{item.pk}'] td").nth(1).click()
    backup_now = page.locator("#cmd-backup-now")
    expect(backup_now).to_be_enabled()
    backup_now.dblclick()
    expect(page.locator("#notes")).to_contain_text("Backup started")
    no_failure_shown(page)
    expect(backup_now).to_be_enabled()  # given back once the answer came (the row is still selected)
    page.screenshot(path=screenshot_dir / "newcomer-backup-now-double-click.png")
    assert Job.objects.filter(operation=Operation.BACKUP).count() == 1


def test_policy_wizard_says_nothing_about_the_name_until_it_is_typed(page, sign_in, owner, vault, portal_server,
                                                                     screenshot_dir):
    sign_in(page, owner)
    page.goto(f"{portal_server}/vaults/{vault.pk}/policies/")
    page.wait_for_selector("body[data-live='1']")
    page.click("#cmd-create-policy")
    wizard = page.locator("#policy-dialog")
    expect(wizard).to_be_visible()
    name_error = wizard.locator("#err-name")
    with page.expect_response(lambda r: "/policies/preview/" in r.url):
        wizard.locator("#policy-time").select_option(index=3)  # the schedule first: the preview is asked for
    expect(name_error).to_have_text("")
    page.screenshot(path=screenshot_dir / "newcomer-policy-wizard-opened.png")
    with page.expect_response(lambda r: "/policies/preview/" in r.url):
        wizard.locator("#policy-name").fill("ab")
    expect(name_error).to_contain_text("policy name must be 3 to 150 characters long; it has 2")
    page.screenshot(path=screenshot_dir / "newcomer-policy-wizard-typed.png")
    with page.expect_response(lambda r: "/policies/preview/" in r.url):
        wizard.locator("#policy-name").fill("Nightly")
    expect(name_error).to_have_text("")


def test_restore_wizard_lists_the_vaults_region_accounts_and_vms_page_says_where_each_vm_runs(
        page, sign_in, member, owner, vault, portal_server, screenshot_dir, vault_stores_removed, celery_worker_process):
    # A second vault in West US has discovered its region: the portal knows the disks of both regions.
    west = quick_vault(owner, vault.subscription, "fabrikam-west", "West US", Vault.Replication.LRS)
    assert wait_for_job(Discovery.start(member, west)).status == Status.COMPLETED
    item = protect_vm(member, vault, "contoso-web", "web01", runner=wait_for_job)
    RecoveryPoint.objects.create(protected_item=item, created=datetime(2026, 3, 9, 3, 0, tzinfo=UTC),
                                 consistency="application", store_point_id="p0903", disks=[])
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, member)
    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    page.locator(f"#protected-table tr[data-id='{item.pk}'] td").nth(1).click()
    page.click("#cmd-restore")
    wizard = page.locator("#restore-dialog")
    expect(wizard).to_be_visible()
    wizard.locator("#restore-next").click()
    expect(wizard.locator(".wizard-step", has_text="Step 2 of 2")).to_be_visible()
    options = wizard.locator("#restore-storage option")
    expect(options).to_have_text(["labpremiumeastus (East US)", "labstoreeastus (East US)"])  # never West US
    page.screenshot(path=screenshot_dir / "newcomer-restore-storage.png")
    wizard.locator(".wizard-close").click()

    page.locator(".leftnav").get_by_role("link", name="VIRTUAL MACHINES").click()
    expect(page).to_have_url(f"{portal_server}/vaults/virtual-machines/")
    table = page.locator(".machine-table")
    row = table.locator("tbody tr", has_text="contoso-web").filter(has_text="web01")
    expect(row).to_contain_text("East US")
    expect(row.get_by_role("link", name="contoso-east")).to_have_attribute("href", f"/vaults/{vault.pk}/protected-items/")
    expect(table.locator("tbody tr", has_text="northwind-eu").first).to_contain_text("North Europe")
    expect(table.locator("tbody tr", has_text="Not protected").first).to_be_visible()
    expect(page.locator(".leftnav li.selected")).to_contain_text("VIRTUAL MACHINES")
    page.screenshot(path=screenshot_dir / "newcomer-virtual-machines.png", full_page=False)
