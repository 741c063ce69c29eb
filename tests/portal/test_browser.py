from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_root_redirects_to_login_and_sign_in_shows_the_shell(page, portal_server, member, screenshot_dir):
    page.goto(portal_server + "/")
    expect(page).to_have_url(f"{portal_server}/login/?next=/")
    page.screenshot(path=screenshot_dir / "login.png")
    page.fill("input[name=username]", "member")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{portal_server}/vaults/")
    expect(page.locator(".leftnav li.selected")).to_have_text("RECOVERY SERVICES")
    expect(page.locator(".page-title")).to_have_text("recovery services")
    expect(page.locator("#vaults-empty")).to_contain_text("You have no backup vaults")
    page.screenshot(path=screenshot_dir / "shell.png")


def test_wrong_password_is_refused_with_a_message(page, portal_server, member):
    page.goto(portal_server + "/login/")
    page.fill("input[name=username]", "member")
    page.fill("input[name=password]", "nope")
    page.click("button[type=submit]")
    expect(page.locator(".errorlist")).to_contain_text("correct username and password")


def test_new_drawer_slides_up_in_columns(page, sign_in, member, screenshot_dir):
    sign_in(page, member)
    drawer = page.locator("#new-drawer")
    expect(drawer).to_be_hidden()
    page.click("#cmd-new")
    expect(drawer).to_be_visible()
    for label in ("DATA SERVICES", "RECOVERY SERVICES", "BACKUP VAULT", "QUICK CREATE"):
        drawer.get_by_role("button", name=label, exact=True).click()
    expect(drawer.locator("[data-name=quick-create]")).to_be_visible()
    page.screenshot(path=screenshot_dir / "new-drawer.png")
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()


def test_an_event_published_on_redis_shows_in_the_notification_strip_without_reload(
    page, sign_in, member, redis_url, screenshot_dir
):
    from portal import events

    sign_in(page, member)
    page.wait_for_selector("body[data-live='1']")
    page.evaluate("window.__sameDocument = true")
    events.publish_now([f"user:{member.pk}"], "notify", {"id": "n1", "text": "Creating backup vault 'contoso-east'…",
                                                          "state": "running", "progress": 40})
    note = page.locator("#notes .note[data-id=n1]")
    expect(note).to_contain_text("Creating backup vault 'contoso-east'…")
    expect(page.locator("#notify-count")).to_have_text("1")
    page.screenshot(path=screenshot_dir / "notification-running.png")
    events.publish_now([f"user:{member.pk}"], "notify", {"id": "n1", "text": "Created backup vault 'contoso-east'.",
                                                          "state": "succeeded"})
    expect(note).to_have_attribute("data-state", "succeeded")
    assert page.evaluate("window.__sameDocument") is True
    note.locator(".note-ok").click()
    expect(page.locator("#notifications")).to_be_hidden()


def test_events_for_another_user_do_not_reach_the_page(page, sign_in, member, reader, redis_url):
    from portal import events

    sign_in(page, member)
    page.wait_for_selector("body[data-live='1']")
    events.publish_now([f"user:{reader.pk}"], "notify", {"id": "secret", "text": "not for you"})
    events.publish_now([f"user:{member.pk}"], "notify", {"id": "mine", "text": "for you"})
    expect(page.locator("#notes .note[data-id=mine]")).to_be_visible()
    expect(page.locator("#notes .note[data-id=secret]")).to_have_count(0)
