"""Helpers of the alerts suite: channels as an administrator adds them, and a receiver's signature check."""

from __future__ import annotations

import hashlib
import hmac

from alerts.models import Channel
from alerts.services import ChannelInput, save_channel

SECRET = "s3cret-shared-with-the-receiver"


def email_channel(owner, vault, *recipients: str) -> Channel:
    return save_channel(owner, vault, ChannelInput(kind="email", name="On-call", recipients="\n".join(recipients)))


def webhook_channel(owner, vault, url: str, secret: str = SECRET) -> Channel:
    return save_channel(owner, vault, ChannelInput(kind="webhook", name="Pager", url=url, secret=secret))


def signature_valid(request: dict, secret: str = SECRET) -> bool:
    """What a receiver does: HMAC-SHA256 of "<timestamp>.<raw body>" with the shared secret, compared in constant
    time with the X-Portal-Signature header."""
    timestamp = request["headers"]["X-Portal-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + request["body"],
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"]["X-Portal-Signature"])
