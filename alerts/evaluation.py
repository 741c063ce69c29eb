"""Evaluating a vault's rules: raising, reminding and resolving alerts, and queueing their messages.

Every minute (the ``alerts.evaluate`` beat task) and soon after a job of the vault ends, each enabled rule's
condition is checked (``alerts.conditions``) and compared with the alerts already active:

- a subject newly found raises an alert (one per condition and subject: a database constraint);
- a subject no longer found resolves its alert (a compare-and-swap) and a "resolved" message goes, once, to every
  channel that heard of the alert;
- an active alert is sent to each enabled channel when raised, then again at most once an hour
  (``RENOTIFY_AFTER``) while it stays active: the alert's row is locked while its channels are looked at, so two
  evaluations at once never both send.

Messages are rows first and Celery tasks after commit (``alerts.tasks.deliver``): a slow mail server or receiver
never holds up an evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from alerts.conditions import CHECKS, Finding
from alerts.models import CONDITIONS, RENOTIFY_AFTER, Alert, Channel, Condition, Message, Rule
from vaults.models import Vault

log = logging.getLogger(__name__)

DELIVER_TASK = "alerts.deliver"


def rules_of(vault: Vault) -> list[Rule]:
    """The vault's rules, one per condition in the order of ``Condition``, made with their defaults when missing."""
    have = {rule.condition: rule for rule in Rule.objects.filter(vault=vault)}
    missing = [Rule(vault=vault, condition=c) for c in Condition.values if c not in have]
    if missing:
        Rule.objects.bulk_create(missing, ignore_conflicts=True)
        have = {rule.condition: rule for rule in Rule.objects.filter(vault=vault)}
    return [have[c] for c in Condition.values]


def evaluate_all(now: datetime | None = None) -> dict[str, int]:
    counts = {"vaults": 0, "raised": 0, "resolved": 0, "messages": 0}
    for vault in Vault.objects.filter(status=Vault.Status.ACTIVE).select_related("subscription"):
        for key, value in evaluate_vault(vault, now).items():
            counts[key] += value
        counts["vaults"] += 1
    return counts


def evaluate_vault(vault: Vault, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"raised": 0, "resolved": 0, "messages": 0}
    channels = list(Channel.objects.filter(vault=vault, enabled=True))
    for rule in rules_of(vault):
        active = {a.subject_key: a for a in Alert.objects.active().filter(vault=vault, condition=rule.condition)}
        if not rule.enabled:
            for alert in active.values():  # turned off: closed without a message, the condition did not clear
                counts["resolved"] += alert.resolve()
            continue
        try:
            # Subjects and summaries are worded in English whoever evaluates: they are kept on the alert and sent in
            # the messages, which are English (alerts.content).
            with translation.override("en"):
                findings = {f.subject_key: f for f in CHECKS[rule.condition](vault, rule, now)}
        except Exception:  # one broken check must not stop the others; its alerts stay as they are
            log.exception("alert condition %s of vault %s could not be evaluated", rule.condition, vault.pk)
            continue
        for key, alert in active.items():
            if key not in findings and alert.resolve():
                counts["resolved"] += 1
                counts["messages"] += _queue_resolved(alert)
        for key, finding in findings.items():
            alert = active.get(key) or _raise(vault, rule, finding, now)
            if alert is None:
                continue
            if key not in active:
                counts["raised"] += 1
            elif alert.summary != finding.summary:
                Alert.objects.filter(pk=alert.pk).update(summary=finding.summary)  # "for 27 hours", now "28"
                alert.summary = finding.summary
            counts["messages"] += _queue_notifications(alert, channels, now)
    return counts


def _raise(vault: Vault, rule: Rule, finding: Finding, now: datetime) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(vault=vault, condition=rule.condition, severity=CONDITIONS[rule.condition]
                                        ["severity"], subject_key=finding.subject_key, subject=finding.subject,
                                        summary=finding.summary, raised=now)
    except IntegrityError:  # another evaluation raised it a moment ago: that one notifies
        return None


def _queue_notifications(alert: Alert, channels: Iterable[Channel], now: datetime) -> int:
    """Queue a message to each channel not told of ``alert`` within the last hour; how many were queued."""
    queued: list[Message] = []
    with transaction.atomic():
        # The lock serializes two evaluations of one alert (SQLite's IMMEDIATE transactions do so anyway).
        if not Alert.objects.select_for_update().filter(pk=alert.pk, status=Alert.Status.ACTIVE).exists():
            return 0
        for channel in channels:
            last = (Message.objects.filter(alert=alert, channel=channel)
                    .exclude(kind=Message.Kind.RESOLVED).order_by("-created").first())
            if last is not None and now - last.created < RENOTIFY_AFTER:
                continue
            kind = Message.Kind.RAISED if last is None else Message.Kind.REMINDER
            queued.append(Message.objects.create(alert=alert, channel=channel, kind=kind, created=now))
        if queued:
            Alert.objects.filter(pk=alert.pk).update(last_notified=now)
            _send_after_commit(queued)
    return len(queued)


def _queue_resolved(alert: Alert) -> int:
    """The resolved message, once, to every still-enabled channel that was told of the alert."""
    channels = Channel.objects.filter(enabled=True, messages__alert=alert).distinct()
    with transaction.atomic():
        queued = [Message.objects.create(alert=alert, channel=channel, kind=Message.Kind.RESOLVED)
                  for channel in channels]
        if queued:
            Alert.objects.filter(pk=alert.pk).update(last_notified=timezone.now())
            _send_after_commit(queued)
    return len(queued)


def _send_after_commit(messages: list[Message]) -> None:
    ids = [message.pk for message in messages]
    transaction.on_commit(lambda: [send_message(pk) for pk in ids])


def send_message(message_id: int, countdown: float | None = None) -> bool:
    """Send the ``alerts.deliver`` task (found by name: the tasks module imports this one). False, and a warning,
    when the broker cannot be reached: the message stays Sending in the log."""
    try:
        current_app.tasks[DELIVER_TASK].apply_async((message_id,), countdown=countdown, retry=False)
    except Exception:  # kombu raises several types; an alert must never break the job or beat that noticed it
        log.warning("could not queue alert message %s", message_id, exc_info=True)
        return False
    return True
