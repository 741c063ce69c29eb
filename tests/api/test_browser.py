"""The Access tokens page and the API docs in Chromium: a token is made and shown once, works against the live
server, and stops working once revoked; the docs load with no request leaving the machine."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_use_and_revoke_a_token(page, sign_in, portal_server, member, subscription, screenshot_dir):
    sign_in(page, member)
    page.get_by_role("link", name="Access tokens").click()  # from the top bar's user menu
    expect(page.locator(".page-title")).to_have_text("access tokens")
    expect(page.locator("#token-table")).to_contain_text("You have no access token yet")
    page.fill("input[name=name]", "backup script")
    page.fill("input[name=days]", "30")
    page.get_by_role("button", name="Create token").click()

    expect(page.locator("#token-created")).to_contain_text("shown this once")
    secret = page.locator("#token-secret").input_value()
    assert secret.startswith("rsp_")
    row = page.locator("#token-table tbody tr", has_text="backup script")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text(secret[:12])
    page.screenshot(path=screenshot_dir / "api-token-created.png", full_page=True)

    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=portal_server, headers=headers, trust_env=False) as api:
        answer = api.get("/api/v1/subscriptions")
        assert answer.status_code == 200
        assert [s["name"] for s in answer.json()["items"]] == [subscription.name]

        page.reload()  # sends the form again: no second token, and the secret is not shown again
        expect(page.locator(".messages")).to_contain_text("was sent already")
        expect(page.locator("#token-created")).to_have_count(0)
        expect(page.locator("#token-table tbody tr")).to_have_count(1)
        assert secret not in page.content()

        row.get_by_role("button", name="Revoke backup script").click()
        expect(page.locator(".messages")).to_contain_text("Revoked token 'backup script'")
        expect(page.locator("#token-table tbody tr", has_text="backup script")).to_contain_text("Revoked")
        page.screenshot(path=screenshot_dir / "api-token-revoked.png", full_page=True)

        refused = api.get("/api/v1/subscriptions")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "revoked" in refused.json()["detail"]


def test_the_docs_load_from_the_portal_alone(page, sign_in, portal_server, member, screenshot_dir):
    outside = []
    page.on("request", lambda request: None if request.url.startswith(portal_server) or request.url.startswith("data:")
            else outside.append(request.url))
    sign_in(page, member)
    page.goto(f"{portal_server}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Recovery Services portal API")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    page.get_by_text("/api/v1/vaults/{pk}/protected-items/{item_pk}/backup").first.click()
    expect(page.locator(".responses-wrapper").first).to_contain_text("application/problem+json")
    page.screenshot(path=screenshot_dir / "api-docs.png", full_page=False)
    assert outside == []
