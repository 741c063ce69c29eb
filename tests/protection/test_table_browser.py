"""What a person clicks on the Policies and Protected Items tables: sort by a header, search as they type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from .helpers import default_policy, failed_backup, make_policy, point, protected

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def first_cells(page, table: str):
    return page.locator(f"#{table} tbody tr td:first-child")


def mark_the_document(page) -> None:
    """A flag on the window that a full page load would lose: the table must re-render in place."""
    page.evaluate("window.noReload = true")


def still_the_same_document(page) -> bool:
    return page.evaluate("window.noReload === true")


def test_policies_sort_by_header_and_filter_as_the_user_types(page, sign_in, owner, member, vault, portal_server,
                                                               screenshot_dir):
    default, archive = default_policy(vault), make_policy(owner, vault, "Archive-Monthly")
    make_policy(owner, vault, "Weekly-Long")
    for name in ("vm01", "vm02"):
        protected(member, vault, archive, name)
    protected(member, vault, default, "vm03")
    page.set_viewport_size({"width": 1400, "height": 800})
    sign_in(page, owner)
    page.goto(f"{portal_server}/vaults/{vault.pk}/policies/")
    page.wait_for_selector("body[data-live='1']")
    expect(page.locator("#policy-table thead th").first).to_have_attribute("aria-sort", "ascending")
    expect(first_cells(page, "policy-table")).to_have_text(["Archive-Monthly", "DefaultPolicy", "Weekly-Long"])
    mark_the_document(page)

    # NAME again: descending, with the arrow turned; then VIRTUAL MACHINES, fewest first.
    page.locator("#policy-table th a[data-sort=name]").click()
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/policies/?sort=-name")
    expect(page.locator("#policy-table th a[data-sort=name]")).to_have_class("sorted desc")
    expect(first_cells(page, "policy-table")).to_have_text(["Weekly-Long", "DefaultPolicy", "Archive-Monthly"])
    page.locator("#policy-table th a[data-sort=vms]").click()
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/policies/?sort=vms")
    expect(page.locator("#policy-table th a[data-sort=vms]")).to_have_class("sorted")
    expect(first_cells(page, "policy-table")).to_have_text(["Weekly-Long", "DefaultPolicy", "Archive-Monthly"])

    # The selection drives the command bar, and survives a search that keeps its row.
    page.locator("#policy-table tbody tr", has_text="DefaultPolicy").click()
    expect(page.locator("#cmd-edit-policy")).to_be_enabled()
    page.locator("#policy-search input[name=q]").press_sequentially("pol", delay=40)
    expect(page.locator("#policy-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/policies/?q=pol&sort=vms")
    expect(page.locator("#policy-table tbody tr[aria-selected=true]")).to_have_attribute("data-name", "DefaultPolicy")
    expect(page.locator("#cmd-edit-policy")).to_be_enabled()
    expect(page.locator("#selection-ids")).to_have_value(str(default.pk))
    page.locator("#policy-search input[name=q]").fill("ly")
    expect(page.locator("#policy-table tbody tr")).to_have_count(2)
    expect(page.locator("#cmd-edit-policy")).to_be_disabled()  # its row is gone
    page.screenshot(path=screenshot_dir / "policies-search.png")
    page.locator("#policy-search input[name=q]").fill("nightly")
    expect(page.locator("#policy-no-match")).to_have_text("No policies match 'nightly'.")
    expect(page.locator("#cmd-edit-policy")).to_be_disabled()
    assert still_the_same_document(page)

    # Reload and back keep the state the address bar holds.
    page.reload()
    expect(page.locator("#policy-search input[name=q]")).to_have_value("nightly")
    expect(page.locator("#policy-no-match")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/policies/?sort=-name")
    expect(page.locator("#policy-table tbody tr")).to_have_count(3)
    expect(first_cells(page, "policy-table")).to_have_text(["Weekly-Long", "DefaultPolicy", "Archive-Monthly"])
    expect(page.locator("#policy-search input[name=q]")).to_have_value("")


def test_protected_items_sort_by_header_and_filter_as_the_user_types(page, sign_in, member, vault, portal_server,
                                                                      screenshot_dir):
    policy = default_policy(vault)
    items = {name: protected(member, vault, policy, name, service)
             for name, service in (("web01", "contoso-web"), ("web02", "contoso-web"), ("vm01", "scale-0000"))}
    for name, days in (("web01", [1, 2]), ("vm01", [1, 2, 3])):
        for day in days:
            point(items[name], datetime(2026, 3, day, 3, tzinfo=UTC))
    page.set_viewport_size({"width": 1400, "height": 800})
    sign_in(page, member)
    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    expect(first_cells(page, "protected-table")).to_have_text(["vm01", "web01", "web02"])
    mark_the_document(page)

    # RECOVERY POINTS twice: most first.
    header = page.locator("#protected-table th a[data-sort=points]")
    header.click()
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/protected-items/?sort=points")
    page.locator("#protected-table th a[data-sort=points]").click()
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/protected-items/?sort=-points")
    expect(page.locator("#protected-table th a[data-sort=points]")).to_have_class("sorted desc")
    expect(first_cells(page, "protected-table")).to_have_text(["vm01", "web01", "web02"])

    # Select two rows, then search: the one left stays selected and the commands follow it.
    page.locator("#protected-table tbody tr", has_text="web01").locator("td").nth(1).click()
    page.locator("#protected-table tbody tr", has_text="vm01").locator("td").nth(1).click(modifiers=["Control"])
    expect(page.locator("#cmd-restore")).to_be_disabled()  # RESTORE takes one item
    page.locator("#protected-search input[name=q]").press_sequentially("web", delay=40)
    expect(page.locator("#protected-table tbody tr")).to_have_count(2)
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/protected-items/?q=web&sort=-points")
    expect(first_cells(page, "protected-table")).to_have_text(["web01", "web02"])
    expect(page.locator("#protected-table tbody tr[aria-selected=true]")).to_have_count(1)
    expect(page.locator("#selection-ids")).to_have_value(str(items["web01"].pk))
    expect(page.locator("#cmd-restore")).to_be_enabled()
    expect(page.locator("#cmd-backup-now")).to_be_enabled()
    page.screenshot(path=screenshot_dir / "protected-items-search.png")

    page.locator("#protected-search input[name=q]").fill("exchange")
    expect(page.locator("#protected-no-match")).to_have_text("No protected items match 'exchange'.")
    expect(page.locator("#cmd-backup-now")).to_be_disabled()
    assert still_the_same_document(page)
    page.reload()
    expect(page.locator("#protected-search input[name=q]")).to_have_value("exchange")
    expect(page.locator("#protected-no-match")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{portal_server}/vaults/{vault.pk}/protected-items/?sort=points")
    expect(first_cells(page, "protected-table")).to_have_text(["web02", "web01", "vm01"])


def test_an_item_in_protection_error_says_so_in_the_list_and_on_its_page(page, sign_in, member, vault, vm_lab,
                                                                           portal_server, screenshot_dir):
    item = protected(member, vault, default_policy(vault), "web01", "contoso-web")
    failed_backup(vm_lab, member, item)
    sign_in(page, member)
    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    expect(page.locator("#protected-table tbody tr", has_text="web01")).to_contain_text("Protection Error")
    page.locator("#protected-table a", has_text="web01").click()
    expect(page.locator("#protection-status .status.error")).to_have_text("Protection Error")
    expect(page.locator("#protection-status")).to_contain_text("Snapshot VM sub task timed out.")
    page.screenshot(path=screenshot_dir / "protected-item-error.png")
