"""What a message says: the email's subject and body, and the webhook's JSON document.

The webhook body is documented in the README ("Alerts"); receivers rely on its keys, so add keys, never rename.

Messages are not translated: they go to programs and to people who may not read the sender's language, and a test
message sent from a Korean page must read as the alerts do. Each function words its text in English
(``translation.override``), so the condition and severity labels (translated on the page) stay English here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from alerts.models import Alert, Channel, Message

PRODUCT = "Recovery Services"
P = ParamSpec("P")
R = TypeVar("R")


def _in_english(function: Callable[P, R]) -> Callable[P, R]:
    @wraps(function)
    def worded(*args: P.args, **kwargs: P.kwargs) -> R:
        with translation.override("en"):
            return function(*args, **kwargs)
    return worded


def alerts_url(vault_id: int) -> str:
    return f"{settings.ALERTS_PORTAL_URL}{reverse('alerts:alerts', args=[vault_id])}"


@_in_english
def subject_line(message: Message) -> str:
    """``[Recovery Services] Critical: Backup failed - web01 (contoso-web) in vault contoso-east``."""
    alert = message.alert
    if alert is None:
        return f"[{PRODUCT}] Test message for vault {message.channel.vault.name}"
    where = f"{alert.subject} in vault {alert.vault.name}" if alert.subject_key != "vault" else f"vault {alert.vault.name}"
    if message.kind == Message.Kind.RESOLVED:
        return f"[{PRODUCT}] Resolved: {alert.get_condition_display()} - {where}"
    still = "Still active: " if message.kind == Message.Kind.REMINDER else ""
    return f"[{PRODUCT}] {still}{alert.get_severity_display()}: {alert.get_condition_display()} - {where}"


@_in_english
def email_body(message: Message) -> str:
    alert, vault = message.alert, message.channel.vault
    if alert is None:
        return (f"This is a test message from the {PRODUCT} portal for vault {vault.name}, sent to the channel "
                f"'{message.channel.name}'. Alerts of this vault will arrive like this.\n\n{alerts_url(vault.pk)}\n")
    lines = [alert.summary, ""]
    if message.kind == Message.Kind.RESOLVED:
        lines = [f"Resolved at {_utc(alert.resolved)}: the condition no longer holds.", "",
                 f"It was raised at {_utc(alert.raised)}: {alert.summary}", ""]
    lines += [f"Vault:     {vault.name} ({vault.region}, subscription {vault.subscription.name})",
              f"Condition: {alert.get_condition_display()}",
              f"Subject:   {alert.subject}",
              f"Severity:  {alert.get_severity_display()}",
              f"Raised:    {_utc(alert.raised)}",
              f"Status:    {alert.get_status_display()}", "",
              f"The vault's alerts: {alerts_url(vault.pk)}", ""]
    if message.kind == Message.Kind.REMINDER:
        lines.insert(0, "This alert is still active; you are reminded at most once an hour.\n")
    return "\n".join(lines)


@_in_english
def webhook_document(message: Message) -> dict[str, Any]:
    channel: Channel = message.channel
    vault = channel.vault
    document: dict[str, Any] = {
        "event": "test" if message.alert is None else f"alert.{message.kind}",
        "delivery": message.pk,
        "sent": timezone.now().isoformat(timespec="seconds"),
        "vault": {"id": vault.pk, "name": vault.name, "region": vault.region, "subscription": vault.subscription.name},
        "url": alerts_url(vault.pk),
        "title": subject_line(message),
    }
    if message.alert is not None:
        document["alert"] = alert_document(message.alert)
    return document


def alert_document(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "condition": alert.condition,
        "condition_label": alert.get_condition_display(),
        "severity": alert.severity,
        "status": alert.status,
        "subject": alert.subject,
        "subject_key": alert.subject_key,
        "summary": alert.summary,
        "raised": alert.raised.isoformat(timespec="seconds"),
        "resolved": alert.resolved.isoformat(timespec="seconds") if alert.resolved else None,
    }


def webhook_body(message: Message) -> bytes:
    """The raw body, exactly the bytes that are signed."""
    return json.dumps(webhook_document(message), separators=(",", ":"), sort_keys=True).encode()


def _utc(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""
