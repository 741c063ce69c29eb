"""The grid keys on their own: moving, extending and trimming a multi-selection, the command bar following it, Enter
opening a row, and a dialog keeping the keyboard inside until Escape gives it back to the row it came from."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation
from tests.fixtures.vaults import wait_for_job
from vaults.models import VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.registration import Register

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def register(user, vault, names: tuple[str, ...]) -> None:
    # The suite's worker runs the jobs (the tests ask for it): wait for it, never race it.
    assert wait_for_job(Discovery.start(user, vault)).status == "completed"
    vms = VirtualMachine.objects.filter(subscription=vault.subscription, cloud_service="scale-0000", name__in=names)
    for outcome in Register.start_many(user, vault, [vm.pk for vm in vms]):
        job = Job.objects.filter(item_key=outcome.item.item_key, operation=Operation.REGISTER).latest("pk")
        assert wait_for_job(job).status == "completed"


def focused_id(page) -> str | None:
    return page.evaluate("() => document.activeElement.dataset.id || null")


def test_selection_by_keyboard_drives_the_command_bar(page, sign_in, owner, vault, portal_server, screenshot_dir,
                                                      celery_worker_process):
    register(owner, vault, ("vm00", "vm01", "vm02"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, owner)
    page.goto(f"{portal_server}/vaults/{vault.pk}/registered-items/")
    page.wait_for_selector("body[data-live='1']")
    grid = page.locator("#item-table")
    expect(grid).to_have_attribute("role", "grid")
    expect(grid).to_have_attribute("aria-multiselectable", "true")
    rows = grid.locator("tbody tr[data-id]")
    expect(rows).to_have_count(3)
    ids = [rows.nth(i).get_attribute("data-id") for i in range(3)]
    # One Tab stop for the whole grid: the first row.
    expect(grid.locator("tbody tr[tabindex='0']")).to_have_count(1)
    page.locator("#item-type").focus()  # the control just before the grid, as Tab would leave it
    page.keyboard.press("Tab")
    assert focused_id(page) == ids[0]
    page.keyboard.press("End")
    assert focused_id(page) == ids[2]
    page.keyboard.press("Home")
    page.keyboard.press("Space")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    expect(grid.locator("tbody tr[aria-selected='true']")).to_have_count(3)
    expect(page.locator("#cmd-unregister")).to_be_enabled()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Control+Space")  # the middle one out
    expect(rows.nth(1)).to_have_attribute("aria-selected", "false")
    expect(page.locator("#selection-ids")).to_have_value(f"{ids[0]},{ids[2]}")
    page.screenshot(path=screenshot_dir / "grid-keys-selection.png")
    page.keyboard.press("Control+a")
    expect(page.locator("#selection-ids")).to_have_value(",".join(ids))
    page.keyboard.press("Space")  # a plain Space: this row alone
    expect(page.locator("#selection-ids")).to_have_value(ids[1])

    # PROTECT opens its wizard with that row ticked; Tab stays inside; Escape gives the keyboard back to PROTECT.
    page.locator("#cmd-protect").focus()
    page.keyboard.press("Enter")
    wizard = page.locator("#protect-dialog")
    expect(wizard).to_be_visible()
    expect(wizard).to_have_attribute("aria-modal", "true")
    expect(wizard.locator("#protect-table input:checked")).to_have_count(1)
    expect(wizard.locator("#protect-table input").first).to_be_focused()
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("() => Boolean(document.activeElement.closest('#protect-dialog'))")
    page.keyboard.press("Escape")
    expect(wizard).to_be_hidden()
    expect(page.locator("#cmd-protect")).to_be_focused()

    # On Policies, Enter opens the row's EDIT wizard (as a double-click does); closing it returns to the row.
    page.goto(f"{portal_server}/vaults/{vault.pk}/policies/")
    row = page.locator("#policy-table tbody tr", has_text="DefaultPolicy")
    row.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#policy-dialog")
    expect(dialog).to_contain_text("Edit policy 'DefaultPolicy'")
    expect(dialog.locator("#policy-name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(row).to_be_focused()
    expect(row).to_have_attribute("aria-selected", "true")
