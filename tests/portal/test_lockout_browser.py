"""What a person sees in the browser when too many wrong passwords locked their sign-in (ASGI, under uvicorn)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submit(page, username: str, password: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_the_login_page_says_the_sign_in_is_locked_for_how_long_and_what_to_do(page, portal_server, member,
                                                                               screenshot_dir):
    page.goto(portal_server + "/login/")
    for attempt in range(4):
        submit(page, "member", f"wrong-{attempt}")
        expect(page.locator(".errorlist")).to_contain_text("correct username and password")
    expect(page.locator("#signin-locked")).to_have_count(0)
    submit(page, "member", "wrong-4")
    submit(page, "member", PASSWORD)  # the right password, while locked
    locked = page.locator("#signin-locked")
    expect(locked).to_have_text(
        "Sign-in as 'member' from this address is locked after 5 failed attempts. Wait 15 minutes before you try "
        "again (each attempt meanwhile starts the wait over), or ask an administrator to unlock it sooner with: "
        "manage.py axes_reset_username member"
    )
    expect(page).to_have_url(f"{portal_server}/login/")
    expect(page.locator("input[name=username]")).to_have_value("member")
    page.screenshot(path=screenshot_dir / "login-locked.png")


def test_the_subscriptions_page_offers_the_connection_test_to_administrators_only(page, sign_in, portal_server, owner,
                                                                                    reader, subscription,
                                                                                    screenshot_dir):
    subscription.members.add(reader)
    sign_in(page, owner)
    page.goto(portal_server + "/vaults/subscriptions/")
    row = page.locator(f"#subscription-table tr[data-id='{subscription.pk}']")
    expect(row.get_by_role("button", name="Test connection")).to_be_visible()
    page.screenshot(path=screenshot_dir / "subscriptions-administrator.png")
    page.context.clear_cookies()
    sign_in(page, reader)
    page.goto(portal_server + "/vaults/subscriptions/")
    expect(row).to_be_visible()
    expect(row.get_by_role("button", name="Test connection")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "subscriptions-reader.png")
