"""The accessibility audit of every main page and wizard, as a Backup Administrator sees them with data in them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.backup.helpers import back_up, lab_vault, protect, wait_for
from tests.fixtures.browser import open_quick_create

from .axe import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_every_main_page_and_wizard_has_no_serious_axe_violation(page, sign_in, owner, lab_subscription,
                                                                 portal_server, screenshot_dir,
                                                                 celery_worker_process):
    vault = lab_vault(owner, lab_subscription, name="audit-east")
    # The suite's worker runs the jobs (a test before this one may have started it): wait for it, never race it.
    item = protect(owner, vault, "contoso-web", "web01", runner=wait_for)
    assert back_up(owner, item, runner=wait_for).status == "completed"
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, owner)
    audited = []

    def audit(name: str, include: str | None = None) -> None:
        assert_accessible(page, include)
        audited.append(name)

    base = f"{portal_server}/vaults/{vault.pk}"
    expect(page.locator("#vault-table")).to_contain_text("audit-east")
    audit("vault list")
    expect(open_quick_create(page)).to_be_visible()
    audit("quick create drawer")

    for path, ready in (("dashboard/", "#storage-used"), ("quick-start/", ".tabs"), ("configure/", ".tabs"),
                        ("registered-items/", "#item-table"), ("protected-items/", "#protected-table"),
                        ("policies/", "#policy-table"), ("jobs/", "#job-table")):
        page.goto(f"{base}/{path}")
        expect(page.locator(ready)).to_be_visible()
        audit(path)
    page.goto(f"{base}/protected-items/{item.pk}/")
    audit("protected item")
    page.goto(f"{portal_server}/jobs/")
    audit("jobs")

    page.goto(f"{base}/registered-items/")
    page.click("#cmd-register")
    expect(page.locator("#register-dialog")).to_be_visible()
    audit("register dialog", "#register-dialog")
    page.keyboard.press("Escape")
    page.click("#cmd-protect")
    wizard = page.locator("#protect-dialog")
    expect(wizard).to_be_visible()
    audit("protect wizard", "#protect-dialog")
    page.keyboard.press("Escape")

    page.goto(f"{base}/policies/")
    page.click("#cmd-create-policy")
    expect(page.locator("#policy-dialog")).to_be_visible()
    audit("policy wizard", "#policy-dialog")
    page.locator("#policy-name").fill("Audit-Weekly")
    page.locator("#policy-next").click()
    expect(page.locator("#policy-dialog [data-page='2']")).to_be_visible()
    audit("policy wizard retention", "#policy-dialog")
    page.keyboard.press("Escape")

    page.goto(f"{base}/protected-items/")
    page.locator(f"#protected-table tr[data-id='{item.pk}'] td").nth(1).click()
    page.click("#cmd-restore")
    expect(page.locator("#restore-dialog")).to_be_visible()
    audit("restore wizard", "#restore-dialog")
    page.keyboard.press("Escape")
    page.click("#cmd-stop-protection")
    expect(page.locator("#stop-dialog")).to_be_visible()
    audit("stop protection", "#stop-dialog")
    page.keyboard.press("Escape")

    page.goto(f"{base}/configure/")
    for button, dialog in (("#key-export", "#key-export-dialog"), ("#key-import", "#key-import-dialog")):
        page.click(button)
        expect(page.locator(dialog)).to_be_visible()
        audit(dialog, dialog)
        page.keyboard.press("Escape")
        expect(page.locator(dialog)).to_be_hidden()
        expect(page.locator(button)).to_be_focused()

    page.goto(f"{base}/jobs/")
    page.locator("#job-table a.job-open").first.click()
    expect(page.locator("#job-details-dialog .job-properties, #job-details-body table").first).to_be_visible()
    audit("job details", "#job-details-dialog")
    page.screenshot(path=screenshot_dir / "a11y-job-details.png")
    assert len(audited) == 20
