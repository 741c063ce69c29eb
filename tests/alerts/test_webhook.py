"""Webhooks: the JSON body, its HMAC signature checked as a receiver checks it, retries of a receiver answering 500,
and the delivery log that records each attempt."""

from __future__ import annotations

import json

import pytest

from alerts.models import Alert, Condition, DeliveryAttempt, Message, Rule
from alerts.services import ChannelInput, save_channel, update_rule
from vaults.services.refusals import InvalidRequest

from .helpers import SECRET, signature_valid, webhook_channel

pytestmark = [pytest.mark.django_db]


def test_a_receiver_answering_500_twice_is_retried_and_the_log_records_500_500_200(vault, owner, webhook_receiver,
                                                                                  evaluate, client):
    webhook_channel(owner, vault, webhook_receiver.url)
    webhook_receiver.answers = [500, 500]
    evaluate()  # makes the vault's rules, all at their defaults
    update_rule(owner, Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL), enabled=True, threshold=1)

    evaluate()

    requests = webhook_receiver.wait(3)
    assert [r["status"] for r in requests] == [500, 500, 200]
    bodies = {r["body"] for r in requests}
    assert len(bodies) == 1  # the same message each time
    for request in requests:
        assert signature_valid(request)
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["path"] == "/hooks/portal"
    assert not signature_valid(requests[0], secret="another secret")
    document = json.loads(requests[-1]["body"])
    alert = Alert.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    assert document["event"] == "alert.raised"
    assert document["vault"] == {"id": vault.pk, "name": "contoso-east", "region": "East US",
                                 "subscription": vault.subscription.name}
    assert document["alert"]["id"] == alert.pk and document["alert"]["condition"] == "store_nearly_full"
    assert document["alert"]["severity"] == "warning" and document["alert"]["status"] == "active"
    assert document["alert"]["summary"] == alert.summary and "% full" in alert.summary
    assert document["url"].endswith(f"/vaults/{vault.pk}/alerts/")

    log = DeliveryAttempt.objects.filter(message__alert=alert).order_by("attempt")
    assert [(a.attempt, a.status_code, a.delivered) for a in log] == [(1, 500, False), (2, 500, False), (3, 200, True)]
    assert log[0].error == "The receiver answered HTTP 500 Internal Server Error."
    assert Message.objects.get(alert=alert).state == "delivered"

    client.force_login(owner)
    page = client.get(f"/vaults/{vault.pk}/alerts/").content.decode()
    assert page.count("The receiver answered HTTP 500 Internal Server Error.") == 2
    assert "Delivered (HTTP 200)" in page
    assert SECRET not in page  # the secret is never rendered back


def test_a_receiver_that_refuses_the_message_is_not_retried(vault, owner, webhook_receiver, evaluate):
    webhook_channel(owner, vault, webhook_receiver.url)
    webhook_receiver.answers = [410]
    evaluate()
    update_rule(owner, Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL), enabled=True, threshold=1)
    evaluate()
    assert [r["status"] for r in webhook_receiver.requests] == [410]
    message = Message.objects.get(alert__condition=Condition.STORE_NEARLY_FULL)
    assert message.state == "failed"
    assert [a.status_code for a in message.attempts.all()] == [410]


def test_a_receiver_that_cannot_be_reached_is_logged_with_the_reason(vault, owner, evaluate, settings):
    from tests.conftest import free_port

    settings.ALERTS_ATTEMPTS = 2
    channel = webhook_channel(owner, vault, f"http://127.0.0.1:{free_port()}/nobody-listens")
    evaluate()
    update_rule(owner, Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL), enabled=True, threshold=1)
    evaluate()
    attempts = DeliveryAttempt.objects.filter(message__channel=channel).order_by("attempt")
    assert [a.attempt for a in attempts] == [1, 2]
    assert all(a.status_code is None and "Connection refused" in a.error for a in attempts), attempts[0].error
    assert Message.objects.get(channel=channel).state == "failed"


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
                                 "ftp://example.com/hook", "not a url"])
def test_webhook_urls_to_metadata_addresses_or_other_schemes_are_refused(vault, owner, url):
    with pytest.raises(InvalidRequest) as refused:
        save_channel(owner, vault, ChannelInput(kind="webhook", name="bad", url=url, secret="x"))
    assert refused.value.field == "url"


def test_a_name_resolving_to_the_metadata_address_is_refused(vault, owner, monkeypatch):
    import ipaddress

    from vaults.services import subscriptions

    monkeypatch.setattr(subscriptions, "resolve", lambda name: [ipaddress.ip_address("169.254.169.254")])
    with pytest.raises(InvalidRequest, match="The webhook URL is on a link-local address"):
        save_channel(owner, vault, ChannelInput(kind="webhook", name="bad", url="http://metadata.example/", secret="x"))
