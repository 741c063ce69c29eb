"""The ALERTS tab and the Access tokens page in Korean with content on them: rules changed through the tab's forms, a
webhook channel added, a test message tried, an alert raised by the evaluation; no English of the catalogues is left,
while the English pages keep their words and the messages sent stay English."""

from __future__ import annotations

import html as markup

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from alerts.content import subject_line
from alerts.evaluation import evaluate_vault
from alerts.models import Alert, Channel, Condition, Message, Rule

from .catalogues import BASE, CATALOGUES, translated_away, untranslated

pytestmark = [pytest.mark.django_db]

KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


@pytest.fixture(autouse=True)
def language_restored():
    """The test client's Korean requests leave Korean active in this thread: later tests read English again."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


def text(response) -> str:
    return markup.unescape(response.content.decode())


def test_the_alerts_catalogue_is_one_of_the_checked_catalogues():
    assert BASE / "alerts/locale/ko/LC_MESSAGES/django.po" in CATALOGUES  # no fuzzy, no empty, .mo fresh


def test_the_alerts_tab_with_rules_a_webhook_and_an_alert_reads_in_korean(client, vault, owner):
    client.force_login(owner)
    page = reverse("alerts:alerts", args=[vault.pk])
    assert client.get(page, **KOREAN).status_code == 200  # the rules are made with their defaults
    rule = Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    # Any filesystem is 1% full: the evaluation raises the alert.
    saved = client.post(reverse("alerts:rule_save", args=[vault.pk, rule.pk]), {"enabled": "on", "threshold": "1"},
                        follow=True, **KOREAN)
    assert "경고 규칙 '자격 증명 모음 저장소 거의 가득 참'을(를) 저장했습니다." in text(saved)
    refused = client.post(reverse("alerts:rule_save", args=[vault.pk, rule.pk]), {"enabled": "on", "threshold": "101"},
                          **KOREAN)
    assert refused.status_code == 400
    assert "'자격 증명 모음 저장소 거의 가득 참'의 임계값은 1~100 %입니다." in text(refused)

    added = client.post(reverse("alerts:channel_add", args=[vault.pk]),
                        {"kind": "webhook", "name": "Pager", "url": "http://127.0.0.1:9/hook", "secret": "s3cret",
                         "enabled": "on"}, follow=True, **KOREAN)
    assert "경고 채널 'Pager'을(를) 저장했습니다." in text(added)
    channel = Channel.objects.get(vault=vault, name="Pager")
    tried = client.post(reverse("alerts:channel_test", args=[vault.pk, channel.pk]), follow=True, **KOREAN)
    assert "127.0.0.1:9에 연결할 수 없습니다" in text(tried)  # nobody listens on the discard port

    evaluate_vault(vault)
    alert = Alert.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    assert alert.is_active

    html = client.get(page, **KOREAN).content.decode()
    assert 'lang="ko"' in html
    for korean in ("자격 증명 모음 저장소 거의 가득 참", "백업 실패", "위험", "경고", "웹후크", "테스트 메시지", "실패", "분"):
        assert korean in html, korean
    left = untranslated(html, translated_away())
    assert not left, f"English left on the Korean ALERTS tab: {sorted(left)}"

    english = client.get(page, **ENGLISH).content.decode()
    # The delivery log keeps the test's error as it was worded, in the language of who sent it (as a job's error is).
    for words in ("Vault storage nearly full", "Backup failed", "Webhook", "Warning", "Critical", "minutes"):
        assert words in markup.unescape(english), words

    # What is sent is English whatever the page's language.
    message = Message.objects.filter(alert=alert, channel=channel).get()
    with translation.override("ko"):
        assert subject_line(message).startswith("[Recovery Services] Warning: Vault storage nearly full - vault ")


def test_the_access_tokens_page_reads_in_korean_with_active_and_revoked_tokens(client, owner):
    client.force_login(owner)
    page = reverse("tokens:list")
    form = client.get(page, **KOREAN)
    once = form.context["form"]["once"].value()
    created = client.post(page, {"once": once, "name": "backup-script", "days": "30"}, **KOREAN)
    assert created.status_code == 200
    again = client.post(page, {"once": once, "name": "backup-script", "days": "30"}, follow=True, **KOREAN)
    assert "이 양식은 이미 전송되었습니다." in text(again)
    second = form.context["form"]["once"].value() + "-2"
    client.post(page, {"once": second, "name": "old-script", "days": ""}, **KOREAN)
    from api.models import PersonalAccessToken

    old = PersonalAccessToken.objects.get(user=owner, name="old-script")
    revoked = client.post(reverse("tokens:revoke", args=[old.pk]), follow=True, **KOREAN).content.decode()
    assert "토큰 'old-script'" in markup.unescape(revoked) and "해지했습니다" in revoked
    assert "활성" in revoked and "해지됨" in revoked
    left = untranslated(revoked, translated_away())
    assert not left, f"English left on the Korean Access tokens page: {sorted(left)}"
    refused = client.post(page, {"once": second + "x", "name": "x", "days": "100000"}, **KOREAN).content.decode()
    assert "토큰" in refused and not untranslated(refused, translated_away())
    english = client.get(page, **ENGLISH).content.decode()
    assert ">Active<" in english and ">Revoked<" in english
