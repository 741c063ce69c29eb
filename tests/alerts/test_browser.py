"""What an administrator clicks on the ALERTS tab: a rule's threshold, a new webhook channel, a test message that
the receiver gets, signed, and "Delivered" on the page."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from alerts.evaluation import evaluate_vault, rules_of
from alerts.models import Channel, Condition, Rule
from alerts.services import update_rule

from .helpers import signature_valid

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_an_administrator_edits_a_rule_adds_a_webhook_and_sends_a_test_message(page, sign_in, owner, vault,
                                                                             portal_server, webhook_receiver,
                                                                             screenshot_dir):
    rules = rules_of(vault)  # a real alert to see: the store's filesystem is fuller than 1%
    update_rule(owner, next(r for r in rules if r.condition == Condition.STORE_NEARLY_FULL), enabled=True, threshold=1)
    evaluate_vault(vault)
    page.set_viewport_size({"width": 1400, "height": 1300})
    sign_in(page, owner)
    page.goto(f"{portal_server}/vaults/{vault.pk}/dashboard/")
    page.get_by_role("link", name="ALERTS").click()
    expect(page.locator(".tabs a[aria-current='page']")).to_have_text("ALERTS")
    expect(page.locator("#active-alerts tr[data-condition='store_nearly_full']")).to_contain_text("contoso-east")

    page.fill("#rule-long_running_job-threshold", "30")
    page.click("#rule-long_running_job-save")
    expect(page.locator(".messages")).to_contain_text("Alert rule 'Job running too long' saved.")
    expect(page.locator("#rule-long_running_job-threshold")).to_have_value("30")

    page.select_option("#channel-kind", "webhook")
    page.fill("#channel-name", "Pager")
    page.fill("#channel-url", webhook_receiver.url)
    page.fill("#channel-secret", "correct-horse-webhook-secret")
    page.click("#channel-save")
    expect(page.locator(".messages")).to_contain_text("Alert channel 'Pager' saved.")
    row = page.locator("#channel-table tbody tr", has_text="Pager")
    expect(row).to_contain_text(webhook_receiver.url)
    expect(row).to_contain_text("Set")
    expect(page.locator("body")).not_to_contain_text("correct-horse-webhook-secret")

    row.get_by_role("button", name="Send test message").click()
    expect(row.locator(".test-result")).to_contain_text("Delivered: Test message delivered to", timeout=15_000)
    page.reload()
    expect(page.locator("#delivery-log")).to_contain_text("Delivered (HTTP 200)")
    page.screenshot(path=str(screenshot_dir / "alerts-tab.png"), full_page=True)

    [request] = webhook_receiver.requests
    assert signature_valid(request, secret="correct-horse-webhook-secret")
    assert json.loads(request["body"])["event"] == "test"
    rule = Rule.objects.get(vault=vault, condition=Condition.LONG_RUNNING_JOB)
    assert (rule.enabled, rule.threshold) == (True, 30)
    assert Channel.objects.get(vault=vault).secret == "correct-horse-webhook-secret"
