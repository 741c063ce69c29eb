"""Sending one message over one channel, once: email through Django's SMTP backend, webhooks as signed POSTs.

``send(message)`` makes one attempt and says what happened (``Outcome``); retrying is the task's business
(``alerts.tasks.deliver``), and so is the delivery log.

Webhook signature: ``X-Portal-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed with the channel's secret, of
``<X-Portal-Timestamp> + "." + <raw body>``. The timestamp is signed so a receiver can refuse an old message
replayed (as Stripe and Slack sign theirs).
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext as _

from alerts.content import email_body, subject_line, webhook_body
from alerts.models import Channel, Message
from vaults.services.refusals import InvalidRequest
from vaults.services.subscriptions import check_not_metadata

WEBHOOK_TIMEOUT = (5, 10)  # seconds to connect, to read the answer
SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str = ""
    retry: bool = False  # a temporary failure: worth another attempt later


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_webhook_url(url: str) -> str:
    """Refuse what a webhook may not point at: other schemes, and link-local or cloud-metadata addresses (from a
    cloud VM those answer with the machine's credentials, which the portal would then post to)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(_("Give the webhook as an http:// or https:// URL."), field="url")
    try:
        check_not_metadata(parts.hostname)
    except InvalidRequest as refusal:
        # The English refusal speaks of an endpoint; here it is the webhook URL (a translation keeps its own words).
        raise InvalidRequest(str(refusal).replace("The endpoint is", "The webhook URL is")
                             .replace("Give the endpoint's own host name.", "Give the receiver's own host name."),
                             field="url") from None
    return url.strip()


def send(message: Message) -> Outcome:
    channel = message.channel
    if channel.kind == Channel.Kind.EMAIL:
        return _send_email(message)
    return _post_webhook(message)


def _send_email(message: Message) -> Outcome:
    """The errors are in the language active (the page's for a test message, English in the worker); the message's
    subject and body are always English (``alerts.content``)."""
    recipients = message.channel.recipient_list
    if not recipients:
        return Outcome(False, error=_("The channel has no recipients."))
    email = EmailMessage(subject_line(message), email_body(message), settings.ALERTS_FROM_EMAIL, recipients,
                         connection=get_connection(timeout=settings.EMAIL_TIMEOUT))
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as error:
        refused = ", ".join(error.recipients)
        return Outcome(False, error=_("The mail server refused the recipients: %(recipients)s.") % {"recipients": refused})
    except smtplib.SMTPAuthenticationError:
        return Outcome(False, error=_("The mail server refused the sign-in: check EMAIL_HOST_USER and "
                                      "EMAIL_HOST_PASSWORD."))
    except smtplib.SMTPResponseException as error:
        temporary = 400 <= error.smtp_code < 500
        text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
        return Outcome(False, error=_("The mail server answered %(code)s: %(text)s") % {"code": error.smtp_code, "text": text},
                       retry=temporary)
    except (OSError, smtplib.SMTPException) as error:
        return Outcome(False, error=_("Could not reach the mail server at %(host)s:%(port)s: %(reason)s.")
                       % {"host": settings.EMAIL_HOST, "port": settings.EMAIL_PORT, "reason": _reason(error)}, retry=True)
    return Outcome(True)


def _post_webhook(message: Message) -> Outcome:
    channel = message.channel
    try:
        check_webhook_url(channel.url)  # again: the name may resolve elsewhere since it was saved
    except InvalidRequest as refusal:
        return Outcome(False, error=str(refusal))
    body = webhook_body(message)  # English, whatever the page's language: receivers are programs
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "recovery-services-portal-alerts",
               TIMESTAMP_HEADER: timestamp, "X-Portal-Event": "test" if message.alert is None else message.kind,
               "X-Portal-Delivery": str(message.pk)}
    if channel.secret:
        headers[SIGNATURE_HEADER] = sign(channel.secret, timestamp, body)
    session = requests.Session()
    session.trust_env = False  # no proxy or CA bundle from the environment decides where alerts go
    try:
        # No redirects: a redirect could lead to an address the URL check refused.
        answer = session.post(channel.url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT, allow_redirects=False)
    except requests.RequestException as error:
        return Outcome(False, error=_("Could not reach %(host)s: %(reason)s.")
                       % {"host": urlsplit(channel.url).netloc, "reason": _reason(error)}, retry=True)
    finally:
        session.close()
    if 200 <= answer.status_code < 300:
        return Outcome(True, status_code=answer.status_code)
    retry = answer.status_code >= 500 or answer.status_code in (408, 429)
    return Outcome(False, status_code=answer.status_code, retry=retry,
                   error=(_("The receiver answered HTTP %(code)s %(reason)s.")
                          % {"code": answer.status_code, "reason": answer.reason or ""}).replace(" .", "."))


def _reason(error: BaseException) -> str:
    """The innermost cause, in words: "Connection refused" rather than a chain of wrappers."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    if isinstance(error, socket.timeout | TimeoutError):
        return _("no answer in time")
    if isinstance(error, requests.exceptions.Timeout):
        return _("no answer in time")
    text = getattr(error, "strerror", None) or str(error)
    return text.rstrip(".") or type(error).__name__
