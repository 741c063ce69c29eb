"""What a person clicks: quick create through the NEW drawer, the vault's tabs, discover and register."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import open_quick_create
from vaults.models import Vault

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_quick_create_a_vault_through_the_drawer_and_visit_every_tab(
    page, sign_in, member, lab_subscription, celery_worker_process, portal_server, screenshot_dir
):
    sign_in(page, member)
    page.wait_for_selector("body[data-live='1']")
    form = open_quick_create(page)
    drawer = page.locator("#new-drawer")
    expect(form.get_by_label("Region")).to_contain_text("East US")
    # One subscription: no picker, but the field is there, read-only, as the tutorial's step names it.
    subscription = form.get_by_label("Subscription")
    expect(subscription).to_have_value("Lab subscription")
    expect(subscription).to_have_attribute("readonly", "")
    form.get_by_label("Name").fill("1bad")
    form.locator("button.create-vault").click()
    expect(drawer.locator(".errorlist")).to_contain_text("The vault name must start with a letter.")
    form = drawer.locator("form.quick-create")
    form.get_by_label("Name").fill("contoso-east")
    form.get_by_label("Region").select_option("East US")
    page.screenshot(path=screenshot_dir / "quick-create-drawer.png")
    form.locator("button.create-vault").click()

    # A Create Vault job: the strip follows it to its end.
    note = page.locator("#notes .note", has_text="Creation of backup vault 'contoso-east' completed.")
    expect(note).to_have_attribute("data-state", "succeeded")
    page.click("#cmd-new")  # close the drawer
    row = page.locator("#vault-table tbody tr", has_text="contoso-east")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("East US")
    expect(row).to_contain_text("Lab subscription")
    page.screenshot(path=screenshot_dir / "vault-list.png")
    assert Vault.objects.get(name="contoso-east").store_path.is_dir()

    row.get_by_role("link", name="contoso-east").click()
    expect(page).to_have_url(re.compile(r"/vaults/\d+/quick-start/$"))
    for tab in ("DASHBOARD", "REGISTERED ITEMS", "JOBS", "CONFIGURE", "QUICK START"):
        page.locator(".tabs").get_by_role("link", name=tab, exact=True).click()
        expect(page.locator(".tabs a[aria-current=page]")).to_have_text(tab)
        if tab == "DASHBOARD":
            expect(page.locator("#storage-used")).to_be_visible()
            page.screenshot(path=screenshot_dir / "vault-dashboard.png")
    # A vault opened before opens on the last tab used.
    page.goto(portal_server + "/vaults/")
    page.locator("#vault-table").get_by_role("link", name="contoso-east").click()
    expect(page.locator(".tabs a[aria-current=page]")).to_have_text("QUICK START")


def test_discover_then_register_two_same_named_vms(
    page, sign_in, member, vault, celery_worker_process, portal_server, screenshot_dir
):
    sign_in(page, member)
    page.goto(f"{portal_server}/vaults/{vault.pk}/registered-items/")
    page.wait_for_selector("body[data-live='1']")
    expect(page.locator("#items-empty")).to_be_visible()

    page.click("#cmd-discover")
    note = page.locator("#notes .note", has_text=re.compile("Discover", re.I))
    expect(note).to_have_attribute("data-state", "succeeded", timeout=30_000)

    page.click("#cmd-register")
    dialog = page.locator("#register-dialog")
    expect(dialog).to_be_visible()
    rows = dialog.locator("#register-table tbody tr", has_text="web01")
    expect(rows).to_have_count(2)
    expect(dialog).to_contain_text("contoso-web")
    expect(dialog).to_contain_text("tailspin-web")
    page.screenshot(path=screenshot_dir / "register-dialog.png")
    for row in rows.all():
        row.locator("input[type=checkbox]").check()
    dialog.locator("#register-finish").click()
    expect(dialog).to_be_hidden()

    table = page.locator("#item-table")
    expect(table.locator("tbody tr", has_text="web01")).to_have_count(2)
    expect(table.locator(".status.ok")).to_have_count(2, timeout=30_000)
    expect(table).to_contain_text("contoso-web")
    expect(table).to_contain_text("tailspin-web")
    page.screenshot(path=screenshot_dir / "registered-items.png")

    page.locator(".tabs").get_by_role("link", name="JOBS", exact=True).click()
    register_rows = page.locator("#job-rows tr", has_text="Register")
    expect(register_rows).to_have_count(2)
    expect(register_rows.filter(has_text="Completed")).to_have_count(2)
    page.screenshot(path=screenshot_dir / "vault-jobs.png")
