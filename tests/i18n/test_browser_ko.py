"""The tutorial in Korean, as a person with a Korean browser clicks it: QUICK CREATE, DISCOVER, REGISTER, PROTECT,
BACKUP NOW and RESTORE. The Hangul is drawn with a Korean font (Chromium names the platform font it used for a
node), and the language switch in the top bar is kept for the user across signing out and in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from jobs.models import Job, Operation, Status
from tests.conftest import PASSWORD
from tests.conftest import wait_for as wait
from tests.fixtures.browser import QUICK_CREATE_PATH_KO, open_quick_create
from vaults.models import Vault

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

KOREAN_FONTS = re.compile(r"CJK|Nanum|Malgun|Apple SD Gothic", re.I)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def fonts_used(page, selector: str) -> dict[str, int]:
    """The platform fonts Chromium drew the node's text with, and how many glyphs each drew (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def assert_hangul_drawn_with_a_korean_font(page, selector: str) -> None:
    text = page.locator(selector).first.inner_text()
    assert HANGUL.search(text), f"{selector} holds no Hangul: {text!r}"
    used = fonts_used(page, selector)
    assert any(KOREAN_FONTS.search(name) and count for name, count in used.items()), used


def job_of(operation: str, timeout: float = 240) -> Job:
    """The job the page started, once it finished (two shared cores make a backup take its time)."""
    wait(lambda: Job.objects.filter(operation=operation).exists(), what=f"a {operation} job", timeout=15)
    job = Job.objects.filter(operation=operation).latest("pk")
    try:
        wait(lambda: Job.objects.filter(pk=job.pk, status__in=[Status.COMPLETED, Status.FAILED]).exists(),
             what=f"the {operation} job", timeout=timeout)
    except TimeoutError:
        job.refresh_from_db()
        raise AssertionError(f"{operation} still {job.status} after {timeout}s: {list(job.subtasks.values())}") from None
    job.refresh_from_db()
    return job


@pytest.fixture
def korean_page(browser, portal_server):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def sign_in_here(page, portal_server: str, user) -> None:
    page.goto(f"{portal_server}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal_server}/vaults/")


def test_the_tutorial_in_korean(korean_page, owner, lab_subscription, celery_worker_process, portal_server,
                                screenshot_dir, vault_stores_removed):
    page = korean_page
    shots = screenshot_dir / "ko"
    shots.mkdir(exist_ok=True)
    page.goto(f"{portal_server}/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("h1")).to_have_text("로그인")
    page.screenshot(path=shots / "01-sign-in.png")
    assert_hangul_drawn_with_a_korean_font(page, "h1")
    sign_in_here(page, portal_server, owner)
    page.wait_for_selector("body[data-live='1']")

    # QUICK CREATE through the NEW drawer, by its Korean names.
    form = open_quick_create(page, QUICK_CREATE_PATH_KO)
    form.get_by_label("이름").fill("contoso-east")
    form.get_by_label("지역").select_option("East US")
    expect(form.locator("button.create-vault")).to_contain_text("자격 증명 모음 만들기")
    page.screenshot(path=shots / "02-quick-create.png")
    assert_hangul_drawn_with_a_korean_font(page, "button.create-vault")
    form.locator("button.create-vault").click()
    wait(lambda: Vault.objects.filter(name="contoso-east", status=Vault.Status.ACTIVE).exists(),
         what="the vault", timeout=30)
    vault = Vault.objects.get(name="contoso-east")
    page.click("#cmd-new")  # close the drawer
    expect(page.locator("#vault-table")).to_contain_text("contoso-east")
    page.screenshot(path=shots / "03-vault-list.png")

    # DISCOVER, then REGISTER contoso-web/web01.
    page.goto(f"{portal_server}/vaults/{vault.pk}/registered-items/")
    page.wait_for_selector("body[data-live='1']")
    expect(page.locator("#cmd-discover")).to_have_text("검색")
    page.click("#cmd-discover")
    assert job_of(Operation.DISCOVERY).status == Status.COMPLETED
    page.click("#cmd-register")
    dialog = page.locator("#register-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#register-title")).to_contain_text("항목 등록")
    dialog.locator("#register-table tbody tr", has_text="contoso-web").filter(has_text="web01") \
        .locator("input[type=checkbox]").check()
    page.screenshot(path=shots / "04-register.png")
    dialog.locator("#register-finish").click()
    expect(dialog).to_be_hidden()
    assert job_of(Operation.REGISTER).status == Status.COMPLETED
    table = page.locator("#item-table")
    expect(table.locator(".status.ok")).to_have_text("등록됨", timeout=30_000)
    page.screenshot(path=shots / "05-registered.png")

    # PROTECT with DefaultPolicy through the three steps of the wizard.
    table.locator("tbody tr", has_text="web01").locator("td").first.click()
    page.click("#cmd-protect")
    wizard = page.locator("#protect-dialog")
    expect(wizard.locator("#protect-title")).to_contain_text("항목 보호")
    page.screenshot(path=shots / "06-protect-step-1.png")
    wizard.locator("#protect-next").click()
    expect(wizard.locator("[data-page='2']")).to_be_visible()
    page.screenshot(path=shots / "07-protect-step-2.png")
    wizard.locator("#protect-next").click()
    expect(wizard.locator("[data-page='3']")).to_be_visible()
    page.screenshot(path=shots / "08-protect-step-3.png")
    wizard.locator("#protect-finish").click()
    expect(wizard).to_be_hidden()
    assert job_of(Operation.CONFIGURE_PROTECTION).status == Status.COMPLETED

    # BACKUP NOW.
    page.goto(f"{portal_server}/vaults/{vault.pk}/protected-items/")
    page.wait_for_selector("body[data-live='1']")
    row = page.locator("#protected-table tbody tr", has_text="web01")
    row.locator("td").nth(1).click()
    expect(page.locator("#cmd-backup-now")).to_have_text("지금 백업")
    page.click("#cmd-backup-now")
    assert job_of(Operation.BACKUP).status == Status.COMPLETED
    expect(row.locator("td").nth(3)).to_have_text("1", timeout=20_000)
    page.screenshot(path=shots / "09-protected-after-backup.png")
    assert_hangul_drawn_with_a_korean_font(page, "#cmd-backup-now")

    # RESTORE as a new virtual machine.
    expect(row).to_have_attribute("aria-selected", "true")
    page.click("#cmd-restore")
    restore = page.locator("#restore-dialog")
    expect(restore.locator(".wizard-step").first).to_contain_text("복구 지점 선택")
    expect(restore.locator("#restore-calendar thead")).to_contain_text("일월화수목금토")
    page.screenshot(path=shots / "10-restore-calendar.png")
    restore.locator("#restore-next").click()
    expect(restore.locator("[data-page='2']")).to_be_visible()
    expect(restore.locator("[data-page='2'] .wizard-step")).to_contain_text("새 가상 컴퓨터로 복원")
    expect(restore.locator("#restore-form.htmx-added")).to_have_count(0)
    restore.locator("#restore-vm-name").fill("rsko")
    restore.locator("#restore-existing-service").select_option("contoso-web")
    restore.locator("#restore-storage").select_option("labstoreeastus")
    page.screenshot(path=shots / "11-restore-target.png")
    restore.locator("#restore-finish").click()
    expect(restore).to_be_hidden()
    assert job_of(Operation.RESTORE).status == Status.COMPLETED
    page.goto(f"{portal_server}/vaults/{vault.pk}/jobs/")
    expect(page.locator("#job-table")).to_be_visible()
    page.screenshot(path=shots / "12-jobs.png")
    assert_hangul_drawn_with_a_korean_font(page, "#cmd-new")


def test_the_language_switch_is_kept_for_the_user(browser, owner, portal_server, screenshot_dir):
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in_here(page, portal_server, owner)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch = page.get_by_label("Language")
    expect(switch).to_have_value("en")
    # By keyboard: the select and its button are in the tab order.
    switch.focus()
    switch.select_option("ko")
    page.keyboard.press("Tab")
    expect(page.locator("#language-apply")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_label("언어")).to_have_value("ko")
    page.screenshot(path=screenshot_dir / "ko" / "language-switched.png")

    page.get_by_role("button", name="로그아웃").click()
    expect(page.locator("h1")).to_have_text("로그인")  # the cookie keeps the sign-in page in Korean
    context.clear_cookies()  # another browser, or the cookie gone: the saved choice still wins
    page.goto(f"{portal_server}/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in_here(page, portal_server, owner)
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator(".leftnav")).to_contain_text("복구 서비스")
    context.close()
