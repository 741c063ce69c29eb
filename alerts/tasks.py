"""The alerts' Celery tasks: the evaluation (every minute, on the control queue, and after a job ends) and the
delivery of one message, tried again with exponential backoff while the failure is temporary."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from alerts import delivery, evaluation
from alerts.models import DeliveryAttempt, Message
from vaults.models import Vault

log = logging.getLogger(__name__)


@shared_task(name="alerts.evaluate", ignore_result=True)
def evaluate() -> dict[str, int]:
    """Every vault's rules (the beat, every minute)."""
    return evaluation.evaluate_all()


@shared_task(name="alerts.evaluate_vault", ignore_result=True)
def evaluate_vault(vault_id: int) -> dict[str, int] | None:
    """One vault's rules, soon after one of its jobs ended."""
    vault = Vault.objects.select_related("subscription").filter(pk=vault_id, status=Vault.Status.ACTIVE).first()
    return evaluation.evaluate_vault(vault) if vault is not None else None


@shared_task(bind=True, name=evaluation.DELIVER_TASK, ignore_result=True, max_retries=None, acks_late=False)
def deliver(self: Task, message_id: int) -> str:
    """One attempt at sending message ``message_id``, logged; a temporary failure is tried again after
    ALERTS_RETRY_SECONDS, twice as long each time, ALERTS_ATTEMPTS attempts in all."""
    message = (Message.objects.select_related("alert__vault__subscription", "channel__vault__subscription")
               .filter(pk=message_id).first())
    if message is None or message.state != Message.State.PENDING:
        return "gone"  # deleted with its channel, or a redelivered task of a message already sent
    attempt = message.attempts.count() + 1
    with translation.override(settings.LANGUAGE_CODE):  # the logged error, as a worker words it (no reader here)
        outcome = delivery.send(message)
    final = outcome.delivered or not outcome.retry or attempt >= settings.ALERTS_ATTEMPTS
    with transaction.atomic():
        DeliveryAttempt.objects.create(message=message, attempt=attempt, at=timezone.now(),
                                       status_code=outcome.status_code, error=outcome.error,
                                       delivered=outcome.delivered)
        if final:
            state = Message.State.DELIVERED if outcome.delivered else Message.State.FAILED
            Message.objects.filter(pk=message.pk, state=Message.State.PENDING).update(state=state)
    if final:
        if not outcome.delivered:
            log.warning("alert message %s to %s failed after %s attempt(s): %s", message.pk, message.channel,
                        attempt, outcome.error)
        return "delivered" if outcome.delivered else "failed"
    delay = settings.ALERTS_RETRY_SECONDS * 2 ** (attempt - 1)
    log.info("alert message %s to %s: attempt %s failed (%s); again in %s s", message.pk, message.channel, attempt,
             outcome.error, delay)
    raise self.retry(countdown=delay)
