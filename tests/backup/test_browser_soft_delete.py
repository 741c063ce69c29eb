"""What a person clicks: STOP PROTECTION deleting the data, the item Soft deleted with its days left, UNDELETE, and
the CONFIGURE tab's Soft delete and Immutability sections."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from vaults.models import ProtectedItem

from .helpers import back_up, lab_vault, protect, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_stop_protection_deleting_the_data_then_undelete(page, sign_in, member, owner, lab_subscription,
                                                         celery_worker_process, portal_server, screenshot_dir):
    vault = lab_vault(owner, lab_subscription, name="contoso-east")
    item = protect(member, vault, "contoso-web", "web02", runner=wait_for)
    assert back_up(member, item, runner=wait_for).status == "completed"
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, owner)
    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    row = page.locator(f"#protected-table tr[data-id='{item.pk}']")
    expect(row).to_contain_text("Protected")
    expect(page.locator("#cmd-undelete")).to_be_disabled()
    row.locator("td").nth(1).click()
    expect(page.locator("#cmd-undelete")).to_be_disabled()  # a protected item is not soft deleted

    # STOP PROTECTION with "Delete associated backup data": the dialog says the data is kept 14 days.
    page.locator("#cmd-stop-protection").click()
    stop = page.locator("#stop-dialog")
    expect(stop).to_contain_text("Stop protection of 'web02 (contoso-web)'")
    expect(stop.locator("#stop-soft-delete-note")).to_contain_text("kept 14 days")
    stop.locator("#stop-delete-data").check()
    stop.locator("#stop-reason").select_option("Decommissioned")
    page.screenshot(path=screenshot_dir / "soft-delete-stop-dialog.png")
    stop.locator("#stop-confirm").click()
    expect(stop).to_be_hidden()

    # The row refreshes live: Soft deleted, 14 days left and the date of the purge; its point is still there.
    expect(row).to_contain_text("Soft deleted", timeout=20_000)
    expect(row.locator(".soft-delete-left")).to_contain_text("14 days left · purged after")
    expect(row.locator("td").nth(3)).to_have_text("1")
    expect(row).to_have_attribute("aria-selected", "true")
    expect(page.locator("#cmd-undelete")).to_be_enabled()
    expect(page.locator("#cmd-restore")).to_be_enabled()  # its points can still be restored
    expect(page.locator("#cmd-backup-now")).to_be_disabled()
    expect(page.locator("#cmd-delete-data")).to_be_disabled()
    page.screenshot(path=screenshot_dir / "soft-delete-protected-items.png")

    # UNDELETE: Protection Stopped, with its point.
    page.locator("#cmd-undelete").click()
    expect(page.locator("#notes")).to_contain_text("Undelete started for 'web02 (contoso-web)'")
    expect(row).to_contain_text("Protection Stopped", timeout=20_000)
    expect(row.locator("td").nth(3)).to_have_text("1")
    expect(row.locator(".soft-delete-left")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "soft-delete-undeleted.png")
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.STOPPED and item.recovery_points.count() == 1

    # CONFIGURE: the Soft delete and Immutability sections, each saved on its own.
    page.goto(f"{portal_server}/vaults/{vault.pk}/configure/")
    section = page.locator("#soft-delete-section")
    expect(section.locator("#soft-delete-days")).to_have_value("14")
    section.locator("#soft-delete-days").fill("30")
    section.locator("#soft-delete-save").click()
    expect(page.locator(".messages")).to_contain_text("Soft delete settings saved.")
    expect(page.locator("#soft-delete-days")).to_have_value("30")
    page.locator("#immutability-enabled").check()
    page.locator("#immutability-save").click()
    expect(page.locator(".messages")).to_contain_text("Immutability saved: Enabled.")
    expect(page.locator("#immutability-enabled")).to_be_checked()
    page.locator("#soft-delete-section").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "soft-delete-configure.png")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the section clear of the command bar
    page.screenshot(path=screenshot_dir / "soft-delete-configure-immutability.png")
