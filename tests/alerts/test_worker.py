"""Deliveries on a real Celery worker: the evaluation queues the message after commit, the worker posts it, and a
receiver answering 500 is tried again after 1 s, then 2 s (ALERTS_RETRY_SECONDS doubling), until it answers 200."""

from __future__ import annotations

import pytest

from alerts.evaluation import evaluate_vault, rules_of
from alerts.models import Condition, DeliveryAttempt, Message
from alerts.services import update_rule
from tests.conftest import wait_for

from .helpers import signature_valid, webhook_channel

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_retries_a_failing_receiver_with_growing_delays(vault, owner, webhook_receiver,
                                                                 celery_worker_process):
    webhook_channel(owner, vault, webhook_receiver.url)
    webhook_receiver.answers = [500, 500]
    update_rule(owner, next(r for r in rules_of(vault) if r.condition == Condition.STORE_NEARLY_FULL), enabled=True,
                threshold=1)

    assert evaluate_vault(vault)["messages"] == 1  # returns at once: the worker sends it

    requests = webhook_receiver.wait(3, timeout=30)
    assert [r["status"] for r in requests] == [500, 500, 200]
    assert all(signature_valid(r) for r in requests)
    message = Message.objects.get(alert__condition=Condition.STORE_NEARLY_FULL)
    wait_for(lambda: Message.objects.get(pk=message.pk).state == "delivered", what="the delivered state", timeout=10)
    attempts = list(DeliveryAttempt.objects.filter(message=message).order_by("attempt"))
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    first_wait = (attempts[1].at - attempts[0].at).total_seconds()
    second_wait = (attempts[2].at - attempts[1].at).total_seconds()
    assert 0.9 <= first_wait < 5 and 1.9 <= second_wait < 8, (first_wait, second_wait)
