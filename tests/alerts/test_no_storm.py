"""No storm: an active alert is sent to a channel when raised, then at most once an hour; its "resolved" message
is always sent, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerts.models import Alert, Condition, Message, Rule
from alerts.services import update_rule

from .helpers import email_channel

pytestmark = [pytest.mark.django_db]


def test_evaluations_within_an_hour_send_one_message_then_an_hourly_reminder_then_the_resolved_one(
        vault, owner, smtp_server, evaluate):
    email_channel(owner, vault, "oncall@contoso.test")
    evaluate()
    rule = Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL)
    update_rule(owner, rule, enabled=True, threshold=1)  # real usage of the filesystem is above 1%
    start = timezone.now()

    for minutes in (0, 1, 10, 30, 59):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            evaluate()
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["subject"] == ("[Recovery Services] Warning: Vault storage nearly full - vault "
                                                  "contoso-east")
    [alert] = Alert.objects.filter(vault=vault)
    assert alert.is_active and Message.objects.filter(alert=alert).count() == 1

    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        evaluate()
        evaluate()
    assert len(smtp_server.wait(2)) == 2
    assert smtp_server.messages[1]["subject"].startswith("[Recovery Services] Still active: Warning: Vault storage")

    with time_machine.travel(start + timedelta(minutes=70), tick=False):
        update_rule(owner, rule, enabled=True, threshold=100)  # the condition clears
        evaluate()
        evaluate()
    assert len(smtp_server.wait(3)) == 3
    assert smtp_server.messages[2]["subject"] == "[Recovery Services] Resolved: Vault storage nearly full - vault contoso-east"
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert [m.kind for m in Message.objects.filter(alert=alert).order_by("created")] == ["raised", "reminder", "resolved"]

    with time_machine.travel(start + timedelta(minutes=200), tick=False):
        evaluate()
    assert len(smtp_server.messages) == 3  # a resolved alert is not sent again
