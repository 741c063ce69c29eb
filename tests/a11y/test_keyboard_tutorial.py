"""The tutorial with the keyboard alone: sign in, quick create a vault through NEW, discover, register a VM, protect
it, BACKUP NOW, watch the job, restore it as a new VM. No mouse: the page is opened once, then only keys are
pressed; the focused element is checked at every step, as a person using a screen reader hears it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation
from tests.conftest import PASSWORD
from tests.conftest import wait_for as wait
from tests.fixtures.vaults import wait_for_job
from vaults.cloud.endpoint import compute_client
from vaults.models import Vault

from .axe import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TAB_LIMIT = 80  # more presses than any page here has stops


def is_focused(page, selector: str) -> bool:
    return page.evaluate("(s) => Boolean(document.activeElement && document.activeElement.matches(s))", selector)


def tab_to(page, selector: str, *, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until the element matching ``selector`` has the keyboard."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(TAB_LIMIT):
        page.keyboard.press(key)
        if is_focused(page, selector):
            return
    raise AssertionError(f"{selector} was not reached with {key} in {TAB_LIMIT} presses")


def choose(page, selector: str, text: str) -> None:
    """Choose the option reading ``text`` in the focused <select> with the arrow keys."""
    expect(page.locator(selector)).to_be_focused()
    read = "(s) => { const e = document.querySelector(s); return e.options[e.selectedIndex].text; }"
    page.keyboard.press("Home")
    for _ in range(40):
        if page.evaluate(read, selector).startswith(text):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {text!r} in {selector}")


def settled(page, form: str) -> None:
    """Wait until htmx has bound the wizard form it just swapped in (a key pressed sooner submits it natively)."""
    expect(page.locator(f"{form}.htmx-added, {form}.htmx-settling")).to_have_count(0)


def created(operation: str) -> Job:
    wait(lambda: Job.objects.filter(operation=operation).exists(), what=f"a {operation} job", timeout=20)
    return Job.objects.filter(operation=operation).latest("pk")


def test_the_tutorial_with_the_keyboard_alone(page, member, lab_subscription, celery_worker_process, portal_server,
                                              screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 1000})
    shot = lambda name: page.screenshot(path=screenshot_dir / f"keyboard-{name}.png")  # noqa: E731
    keys = page.keyboard

    # Sign in: the user name has the keyboard as the page opens.
    page.goto(f"{portal_server}/login/")
    expect(page.locator("input[name=username]")).to_be_focused()
    keys.type(member.username)
    keys.press("Tab")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.wait_for_url(f"{portal_server}/vaults/")
    page.wait_for_selector("body[data-live='1']")

    # NEW → DATA SERVICES → RECOVERY SERVICES → BACKUP VAULT → QUICK CREATE, each column taking the keyboard.
    keys.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    tab_to(page, "#cmd-new")
    keys.press("Enter")
    drawer = page.locator("#new-drawer")
    for label in ("DATA SERVICES", "RECOVERY SERVICES", "BACKUP VAULT", "QUICK CREATE"):
        expect(drawer.get_by_role("button", name=label, exact=True)).to_be_focused()
        keys.press("Enter")
    name = drawer.locator("input[name=name]")
    expect(name).to_be_focused()
    keys.type("1bad")
    keys.press("Enter")
    expect(drawer.locator(".errorlist")).to_contain_text("must start with a letter")
    expect(name).to_be_focused()  # the field in error has the keyboard again
    keys.press("Control+A")
    keys.type("contoso-east")
    keys.press("Tab")
    choose(page, "#new-drawer select[name=region]", "East US")
    shot("quick-create")
    tab_to(page, "#new-drawer button.create-vault")
    keys.press("Enter")
    expect(page.locator("#notes .note", has_text="'contoso-east'")).to_have_attribute("data-state", "succeeded",
                                                                                 timeout=30_000)
    expect(drawer.locator(".created a")).to_be_focused()
    keys.press("Escape")
    expect(drawer).to_be_hidden()
    expect(page.locator("#cmd-new")).to_be_focused()
    vault = Vault.objects.get(name="contoso-east")

    # The vault list is a grid: one Tab stop, Enter opens the vault.
    row = page.locator(f"#vault-table tbody tr[data-id='{vault.pk}']")
    expect(row).to_contain_text("Active")
    tab_to(page, "#vault-table tbody tr[data-id]", back=True)
    expect(row).to_be_focused()
    keys.press("Space")
    expect(row).to_have_attribute("aria-selected", "true")
    shot("vault-list")
    keys.press("Enter")
    page.wait_for_url(f"{portal_server}/vaults/{vault.pk}/**")
    page.wait_for_selector("body[data-live='1']")

    # REGISTERED ITEMS: DISCOVER, then REGISTER web01 of contoso-web in the dialog.
    tab_to(page, f".tabs a[href='/vaults/{vault.pk}/registered-items/']")
    keys.press("Enter")
    page.wait_for_url(f"**/vaults/{vault.pk}/registered-items/")
    page.wait_for_selector("body[data-live='1']")
    tab_to(page, "#cmd-discover")
    keys.press("Enter")
    expect(page.locator("#notes .note", has_text="Discover")).to_have_attribute("data-state", "succeeded",
                                                                                timeout=30_000)
    tab_to(page, "#cmd-register")
    keys.press("Enter")
    dialog = page.locator("#register-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[type=checkbox]").first).to_be_focused()
    tab_to(page, "#register-dialog input[aria-label='web01 in contoso-web']")
    keys.press("Space")
    shot("register-dialog")
    tab_to(page, "#register-finish")
    keys.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#cmd-register")).to_be_focused()  # back where the dialog was opened from
    item_row = page.locator("#item-table tbody tr", has_text="web01")
    expect(item_row.locator(".status.ok")).to_be_visible(timeout=30_000)

    # Select the VM in the grid with Space: PROTECT follows the selection as it does a click.
    tab_to(page, "#item-table tbody tr[data-id]", back=True)
    expect(item_row).to_be_focused()
    keys.press("Space")
    expect(item_row).to_have_attribute("aria-selected", "true")
    tab_to(page, "#cmd-protect")
    shot("registered-selected")
    keys.press("Enter")
    wizard = page.locator("#protect-dialog")
    expect(wizard).to_be_visible()
    expect(wizard.locator("#protect-table input:checked")).to_have_count(1)
    expect(wizard.locator("#protect-table input").first).to_be_focused()
    tab_to(page, "#protect-next")
    keys.press("Enter")
    expect(wizard.locator("[data-page='2']")).to_be_visible()
    settled(page, "#protect-form")
    expect(wizard.locator("#protect-existing")).to_have_value(str(vault.policies.get(name="DefaultPolicy").pk))
    shot("protect-wizard-policy")
    tab_to(page, "#protect-next")
    keys.press("Enter")
    expect(wizard.locator("[data-page='3']")).to_be_visible()
    settled(page, "#protect-form")
    tab_to(page, "#protect-finish")
    keys.press("Enter")
    expect(wizard).to_be_hidden()
    assert wait_for_job(created(Operation.CONFIGURE_PROTECTION)).status == "completed"

    # PROTECTED ITEMS: select it, BACKUP NOW.
    tab_to(page, f".tabs a[href='/vaults/{vault.pk}/protected-items/']", back=True)
    keys.press("Enter")
    page.wait_for_url(f"**/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    protected_row = page.locator("#protected-table tbody tr", has_text="web01")
    expect(protected_row).to_contain_text("Protected")
    tab_to(page, "#protected-table tbody tr[data-id]")
    keys.press("Space")
    expect(page.locator("#cmd-backup-now")).to_be_enabled()
    tab_to(page, "#cmd-backup-now")
    shot("protected-backup-now")
    keys.press("Enter")
    expect(page.locator("#notes")).to_contain_text("Backup started")
    backup = created(Operation.BACKUP)

    # JOBS: the newest row is the backup; Enter opens its details, which update live; Escape closes them.
    tab_to(page, f".tabs a[href='/vaults/{vault.pk}/jobs/']", back=True)
    keys.press("Enter")
    page.wait_for_url(f"**/vaults/{vault.pk}/jobs/")
    page.wait_for_selector("body[data-live='1']")
    expect(page.locator(f"#job-row-{backup.pk}")).to_be_visible()
    tab_to(page, "#job-table tbody tr[data-id]")
    keys.press("End")
    keys.press("Home")  # the newest job heads the list
    expect(page.locator(f"#job-row-{backup.pk}")).to_be_focused()
    keys.press("Enter")
    details = page.locator("#job-details-dialog")
    expect(details).to_be_visible()
    expect(details.locator("#job-details-status")).to_have_text("Completed", timeout=60_000)
    shot("job-details")
    keys.press("Escape")
    expect(details).to_be_hidden()
    expect(page.locator(f"#job-row-{backup.pk}")).to_be_focused()

    # RESTORE the new point as a new VM.
    tab_to(page, f".tabs a[href='/vaults/{vault.pk}/protected-items/']", back=True)
    keys.press("Enter")
    page.wait_for_url(f"**/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    expect(protected_row.locator("td").nth(3)).to_have_text("1")
    tab_to(page, "#protected-table tbody tr[data-id]")
    keys.press("Space")
    tab_to(page, "#cmd-restore")
    keys.press("Enter")
    restore = page.locator("#restore-dialog")
    expect(restore).to_be_visible()
    point = restore.locator("#restore-points input[name=point]").first
    expect(point).to_be_focused()
    keys.press("Space")
    expect(point).to_be_checked()
    assert_accessible(page, "#restore-dialog")
    shot("restore-point")
    tab_to(page, "#restore-next")
    keys.press("Enter")
    expect(restore.locator("[data-page='2']")).to_be_visible()
    settled(page, "#restore-form")
    expect(restore.locator("#restore-vm-name")).to_be_focused()
    keys.type("rskeyboard")
    tab_to(page, "#restore-existing-service")
    choose(page, "#restore-existing-service", "contoso-web")
    tab_to(page, "#restore-storage")
    choose(page, "#restore-storage", "labstoreeastus")
    shot("restore-target")
    tab_to(page, "#restore-finish")
    keys.press("Enter")
    expect(restore).to_be_hidden()
    expect(page.locator("#cmd-restore")).to_be_focused()
    job = wait_for_job(created(Operation.RESTORE), timeout=90)
    assert job.status == "completed", job.error_message
    detail = compute_client(lab_subscription.endpoint).get_hosted_service_properties("contoso-web",
                                                                                     embed_detail=True)
    assert any(role.role_name == "rskeyboard" for dep in detail.deployments for role in dep.role_list)
