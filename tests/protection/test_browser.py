"""What a person clicks: a weekly policy with monthly and yearly ranges, protecting two VMs with it, refusing its deletion."""

from __future__ import annotations

from datetime import time as dt_time

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation
from tests.fixtures.vaults import wait_for_job
from vaults.models import Vault, VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.registration import Register
from vaults.policy.rules import Weekday

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """A browser in Tokyo (UTC+09:00 all year): schedules read in its zone, stored in UTC."""
    return {**browser_context_args, "timezone_id": "Asia/Tokyo"}


def register_two_vms(user, vault: Vault) -> list[VirtualMachine]:
    assert wait_for_job(Discovery.start(user, vault)).status == "completed"
    vms = [VirtualMachine.objects.get(subscription=vault.subscription, cloud_service="contoso-web", name=name)
           for name in ("web01", "web02")]
    outcomes = Register.start_many(user, vault, [vm.pk for vm in vms])
    for outcome in outcomes:
        job = wait_for_job(Job.objects.get(item_key=outcome.item.item_key, operation="register"))
        assert job.status == "completed", job.error_message
    return vms


def test_weekly_policy_protects_two_vms_and_cannot_be_deleted_while_used(
    page, sign_in, owner, vault, celery_worker_process, portal_server, screenshot_dir
):
    register_two_vms(owner, vault)
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, owner)

    # Create the policy through the wizard.
    page.goto(f"{portal_server}/vaults/{vault.pk}/policies/")
    page.wait_for_selector("body[data-live='1']")
    expect(page.locator("#policy-table")).to_contain_text("DefaultPolicy")
    page.click("#cmd-create-policy")
    dialog = page.locator("#policy-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#policy-name").fill("1bad")  # the message comes live, as the user types
    expect(dialog.locator("#err-name")).to_contain_text("must start with a letter")
    dialog.locator("#policy-name").fill("Weekly-Archive")
    expect(dialog.locator("#err-name")).to_be_empty()
    dialog.locator("input[name=frequency][value=weekly]").check()
    dialog.locator("input[name=sched_days][value='6']").check()
    dialog.locator("#policy-time").select_option(label="22:00 (UTC+09:00)")
    page.screenshot(path=screenshot_dir / "policy-wizard-schedule.png")
    dialog.locator("#policy-next").click()
    expect(dialog.locator("[data-page='2']")).to_be_visible()
    dialog.locator("input[name=daily_on]").uncheck()
    dialog.locator("input[name=weekly_on]").check()
    dialog.locator("input[name=weekly_days][value='6']").check()
    dialog.locator("input[name=weekly_count]").fill("104")
    dialog.locator("input[name=monthly_on]").check()
    dialog.locator("input[name=monthly_weekdays][value='6']").check()
    dialog.locator("select[name=monthly_week]").select_option("last")
    dialog.locator("input[name=monthly_count]").fill("120")
    dialog.locator("input[name=yearly_on]").check()
    dialog.locator("input[name=yearly_weekdays][value='6']").check()
    dialog.locator("select[name=yearly_week]").select_option("first")
    dialog.locator("input[name=yearly_count]").fill("500")
    expect(dialog.locator("#err-retention_yearly_count")).to_contain_text("1 to 99 years")
    dialog.locator("input[name=yearly_count]").fill("99")
    dialog.locator("input[name=yearly_count]").dispatch_event("change")
    expect(dialog.locator("#err-retention_yearly_count")).to_be_empty()
    expect(dialog.locator("#held-at-end")).to_be_visible()
    expect(dialog.locator("#preview-ranges")).to_contain_text("Yearly")
    page.screenshot(path=screenshot_dir / "policy-wizard-retention.png")
    dialog.locator("#preview-points").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "policy-wizard-preview.png")
    dialog.locator("#policy-finish").click()
    expect(dialog).to_be_hidden()
    row = page.locator("#policy-table tbody tr", has_text="Weekly-Archive")
    expect(row).to_contain_text("Weekly on Sunday at 22:00 (UTC+09:00)")
    expect(row).to_contain_text("Monthly on the last Sunday, for 120 months")
    expect(row).to_contain_text("Yearly on the first Sunday of January, for 99 years")
    page.screenshot(path=screenshot_dir / "policies.png")

    # Protect both VMs with it.
    page.locator(".tabs").get_by_role("link", name="REGISTERED ITEMS", exact=True).click()
    rows = page.locator("#item-table tbody tr")
    expect(rows).to_have_count(2)
    # As in the tutorial, PROTECT with nothing selected opens the wizard, which lists every registered VM that is not
    # protected yet, none of them ticked.
    expect(page.locator("#cmd-protect")).to_be_enabled()
    page.click("#cmd-protect")
    wizard = page.locator("#protect-dialog")
    expect(wizard.locator("#protect-table tbody tr")).to_have_count(2)
    expect(wizard.locator("#protect-table input:checked")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "protect-wizard-nothing-selected.png")
    page.keyboard.press("Escape")
    expect(wizard).to_be_hidden()
    rows.nth(0).click()
    rows.nth(1).click(modifiers=["Control"])
    expect(page.locator("#cmd-protect")).to_be_enabled()
    page.click("#cmd-protect")
    wizard = page.locator("#protect-dialog")
    expect(wizard).to_be_visible()
    expect(wizard.locator("#protect-table input:checked")).to_have_count(2)
    page.screenshot(path=screenshot_dir / "protect-wizard-vms.png")
    wizard.locator("#protect-next").click()
    wizard.locator("#protect-existing").select_option(label="Weekly-Archive")
    page.screenshot(path=screenshot_dir / "protect-wizard-policy.png")
    wizard.locator("#protect-next").click()
    expect(wizard.locator("#protect-retention-readonly")).to_contain_text("Weekly on Sunday, for 104 weeks")
    page.screenshot(path=screenshot_dir / "protect-wizard-retention.png")
    wizard.locator("#protect-finish").click()
    expect(wizard).to_be_hidden()
    for job in Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION):
        assert wait_for_job(job).status == "completed", job.error_message

    page.locator(".tabs").get_by_role("link", name="PROTECTED ITEMS", exact=True).click()
    table = page.locator("#protected-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr", has_text="Protected - (initial backup pending)")).to_have_count(2)
    page.screenshot(path=screenshot_dir / "protected-items.png")
    table.get_by_role("link", name="web01").click()
    expect(page.locator("#backup-policy")).to_contain_text("Weekly-Archive")
    page.screenshot(path=screenshot_dir / "protected-item.png")

    # Deleting the policy is refused while the VMs use it.
    page.locator(".tabs").get_by_role("link", name="POLICIES", exact=True).click()
    row = page.locator("#policy-table tbody tr", has_text="Weekly-Archive")
    expect(row).to_contain_text("2")
    row.click()
    page.click("#cmd-delete-policy")
    page.locator("#notes .note[data-state=confirm] .note-yes").click()
    expect(page.locator("#notes .note", has_text="cannot be deleted: 2 virtual machines use it")).to_be_visible()
    page.screenshot(path=screenshot_dir / "policy-delete-refused.png")
    stored = vault.policies.get(name="Weekly-Archive").rules
    assert stored.schedule.time == dt_time(13, 0) and stored.schedule.weekdays == {Weekday.SUNDAY}

    # Editing it re-configures both VMs' protection.
    page.locator("#notes .note .note-ok").first.click()
    page.click("#cmd-edit-policy")
    dialog = page.locator("#policy-dialog")
    expect(dialog.locator("#policy-in-use")).to_contain_text("2 virtual machines use this policy")
    page.screenshot(path=screenshot_dir / "policy-edit.png")
    dialog.locator("#policy-next").click()
    dialog.locator("input[name=weekly_count]").fill("52")
    dialog.locator("#policy-finish").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#notes .note", has_text="Re-configuring protection of 2 virtual machine(s).")).to_be_visible()
    expect(row).to_contain_text("Weekly on Sunday, for 52 weeks")
    assert Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION).count() == 4
