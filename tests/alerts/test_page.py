"""The ALERTS tab through the Django client: who sees what, who may change what, and another subscription's 404."""

from __future__ import annotations

import pytest

from alerts.models import Channel, Condition, Message, Rule

from .helpers import SECRET, webhook_channel

pytestmark = [pytest.mark.django_db]


def url(vault, rest: str = "") -> str:
    return f"/vaults/{vault.pk}/alerts/{rest}"


def test_the_tab_lists_rules_channels_and_alerts_with_the_editing_controls_for_an_administrator(client, vault, owner):
    channel = webhook_channel(owner, vault, "http://127.0.0.1:9/hook")
    client.force_login(owner)
    page = client.get(url(vault))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-current="page">ALERTS</a>' in html
    for label in ("Backup failed", "No successful backup", "Verify found damage", "Job running too long",
                  "Vault storage nearly full"):
        assert label in html
    assert 'id="rule-store_nearly_full-save"' in html and 'id="channel-form"' in html
    assert f'action="/vaults/{vault.pk}/alerts/channels/{channel.pk}/test/"' in html
    assert SECRET not in html and ">Set<" in html

    edit = client.get(url(vault), {"edit": channel.pk}).content.decode()
    assert "Edit channel 'Pager'" in edit and SECRET not in edit
    assert "A secret is set: leave empty to keep it" in edit


def test_an_administrator_saves_a_rule_and_a_channel_through_the_forms(client, vault, owner):
    client.force_login(owner)
    client.get(url(vault))
    rule = Rule.objects.get(vault=vault, condition=Condition.LONG_RUNNING_JOB)
    answer = client.post(url(vault, f"rules/{rule.pk}/"), {"enabled": "on", "threshold": "45"})
    assert answer.status_code == 302
    rule.refresh_from_db()
    assert (rule.enabled, rule.threshold) == (True, 45)

    refused = client.post(url(vault, f"rules/{rule.pk}/"), {"enabled": "on", "threshold": "999999"})
    assert refused.status_code == 400
    assert "is 1 to 10080 minutes" in refused.content.decode()

    added = client.post(url(vault, "channels/"), {"kind": "email", "name": "Admins", "enabled": "on",
                                                  "recipients": "a@contoso.test, b@contoso.test"})
    assert added.status_code == 302
    channel = Channel.objects.get(vault=vault, name="Admins")
    assert channel.recipient_list == ["a@contoso.test", "b@contoso.test"]

    hook = client.post(url(vault, "channels/"), {"kind": "webhook", "name": "Hook", "enabled": "on",
                                                 "url": "http://127.0.0.1:9/h", "secret": "first"})
    assert hook.status_code == 302
    hook = Channel.objects.get(vault=vault, name="Hook")
    client.post(url(vault, f"channels/{hook.pk}/"), {"kind": "webhook", "name": "Hook 2", "enabled": "on",
                                                     "url": "http://127.0.0.1:9/h2", "secret": ""})
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.secret) == ("Hook 2", "http://127.0.0.1:9/h2", "first")  # the secret kept

    metadata = client.post(url(vault, "channels/"), {"kind": "webhook", "name": "Bad", "enabled": "on",
                                                     "url": "http://169.254.169.254/latest/", "secret": "x"})
    assert metadata.status_code == 400 and "link-local address" in metadata.content.decode()
    assert not Channel.objects.filter(name="Bad").exists()


@pytest.mark.parametrize("persona", ["reader", "member"])
def test_readers_and_operators_see_alerts_but_cannot_edit_rules_channels_or_send_a_test(client, vault, owner, persona,
                                                                                       request):
    channel = webhook_channel(owner, vault, "http://127.0.0.1:9/hook")
    user = request.getfixturevalue(persona)
    client.force_login(user)
    page = client.get(url(vault))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Active alerts" in html and "Delivery log" in html and "Pager" in html
    assert 'id="channel-form"' not in html and "Send test message" not in html and "-save" not in html
    assert "Only Backup Administrators can change alert rules and channels." in html

    rule = Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    assert client.post(url(vault, f"rules/{rule.pk}/"), {"threshold": "1"}).status_code == 403
    assert client.post(url(vault, "channels/"), {"kind": "email", "name": "x", "recipients": "x@contoso.test"}
                       ).status_code == 403
    assert client.post(url(vault, f"channels/{channel.pk}/"), {"kind": "webhook", "name": "x",
                                                               "url": "http://127.0.0.1:9/x"}).status_code == 403
    assert client.post(url(vault, f"channels/{channel.pk}/test/")).status_code == 403
    assert client.post(url(vault, f"channels/{channel.pk}/delete/")).status_code == 403
    rule.refresh_from_db()
    channel.refresh_from_db()
    assert (rule.enabled, rule.threshold) == (True, None) and channel.name == "Pager"
    assert not Message.objects.exists() and Channel.objects.filter(vault=vault).count() == 1


def test_another_subscriptions_vault_answers_404_to_every_alerts_url(client, vault, owner, outsider):
    channel = webhook_channel(owner, vault, "http://127.0.0.1:9/hook")
    client.force_login(owner)
    client.get(url(vault))
    rule = Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    client.force_login(outsider)
    assert client.get(url(vault)).status_code == 404
    for rest in (f"rules/{rule.pk}/", "channels/", f"channels/{channel.pk}/", f"channels/{channel.pk}/test/",
                 f"channels/{channel.pk}/delete/"):
        assert client.post(url(vault, rest), {"threshold": "1", "kind": "email", "name": "x"}).status_code == 404, rest
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_signed_out_visitors_are_sent_to_sign_in_and_posts_need_the_csrf_token(vault, owner):
    from django.test import Client

    anonymous = Client()
    assert anonymous.get(url(vault)).status_code == 302
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(owner)
    assert checked.post(url(vault, "channels/"), {"kind": "email", "name": "x", "recipients": "x@contoso.test"}
                        ).status_code == 403
    assert not Channel.objects.exists()


def test_a_channel_of_another_vault_answers_404(client, vault, owner, subscription):
    from vaults.services.vaults import create_vault

    other = create_vault(owner, subscription, "contoso-west", "West US")
    channel = webhook_channel(owner, other, "http://127.0.0.1:9/hook")
    client.force_login(owner)
    assert client.post(url(vault, f"channels/{channel.pk}/test/")).status_code == 404


def test_a_test_message_to_a_webhook_reports_delivered_or_the_error(client, vault, owner, webhook_receiver):
    channel = webhook_channel(owner, vault, webhook_receiver.url)
    client.force_login(owner)
    answer = client.post(url(vault, f"channels/{channel.pk}/test/"), headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert f"Delivered: Test message delivered to {webhook_receiver.url} (HTTP 200)." in answer.content.decode()
    [request] = webhook_receiver.requests
    assert request["headers"]["X-Portal-Event"] == "test"

    webhook_receiver.answers = [503]
    answer = client.post(url(vault, f"channels/{channel.pk}/test/"), headers={"HX-Request": "true"})
    assert "The receiver answered HTTP 503 Service Unavailable." in answer.content.decode()
    assert [m.state for m in Message.objects.filter(channel=channel).order_by("created")] == ["delivered", "failed"]
