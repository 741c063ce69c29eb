"""What an administrator changes on the ALERTS tab, with its rules: a rule's switch and threshold, the channels, and a
test message. Every function checks the role first (``require_administrator``); readers and operators only look."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts import delivery
from alerts.models import CONDITIONS, Channel, DeliveryAttempt, Message, Rule
from vaults.models import User, Vault
from vaults.services.refusals import InvalidRequest, require_administrator

MAX_RECIPIENTS = 20


def update_rule(user: User, rule: Rule, *, enabled: bool, threshold: int | None) -> Rule:
    require_administrator(user, "change alert rules")
    spec = CONDITIONS[rule.condition]
    if spec["unit"] is None:
        threshold = None
    elif threshold is not None:
        low, high = spec["range"]
        if not low <= threshold <= high:
            raise InvalidRequest(_("The threshold of '%(condition)s' is %(low)s to %(high)s %(unit)s.")
                                 % {"condition": rule.get_condition_display(), "low": low, "high": high,
                                    "unit": spec["unit"]}, field="threshold")
    rule.enabled, rule.threshold = enabled, threshold
    rule.save(update_fields=["enabled", "threshold"])
    return rule


@dataclass
class ChannelInput:
    kind: str
    name: str
    enabled: bool = True
    recipients: str = ""
    url: str = ""
    secret: str = ""  # empty on an edit: the secret already set is kept


def save_channel(user: User, vault: Vault, data: ChannelInput, channel: Channel | None = None) -> Channel:
    """Add a channel to ``vault``, or change ``channel`` (its kind stays)."""
    require_administrator(user, "change alert channels")
    kind = channel.kind if channel is not None else data.kind
    if kind not in Channel.Kind.values:
        raise InvalidRequest(_("Choose Email or Webhook."), field="kind")
    if not data.name.strip():
        raise InvalidRequest(_("Give the channel a name."), field="name")
    channel = channel or Channel(vault=vault, kind=kind)
    channel.name, channel.enabled = data.name.strip()[:100], data.enabled
    if kind == Channel.Kind.EMAIL:
        channel.recipients = "\n".join(check_recipients(data.recipients))
    else:
        channel.url = delivery.check_webhook_url(data.url)
        if data.secret:
            channel.secret = data.secret
        elif not channel.secret:
            raise InvalidRequest(_("Give the webhook a secret: receivers check each message's signature with it."),
                                 field="secret")
    channel.save()
    return channel


def check_recipients(text: str) -> list[str]:
    recipients = [r.strip() for r in text.replace("\n", ",").replace(";", ",").split(",") if r.strip()]
    if not recipients:
        raise InvalidRequest(_("Give at least one email address."), field="recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidRequest(_("At most %(count)s recipients per channel.") % {"count": MAX_RECIPIENTS}, field="recipients")
    for address in recipients:
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidRequest(_("'%(address)s' is not an email address.") % {"address": address}, field="recipients") from None
    return recipients


def delete_channel(user: User, channel: Channel) -> None:
    require_administrator(user, "change alert channels")
    channel.delete()


def send_test(user: User, channel: Channel) -> tuple[bool, str]:
    """Send a test message now, once, and say how it went; it is logged like any other delivery."""
    require_administrator(user, "send test messages")
    message = Message.objects.create(channel=channel, kind=Message.Kind.TEST)
    outcome = delivery.send(message)
    with transaction.atomic():
        DeliveryAttempt.objects.create(message=message, attempt=1, at=timezone.now(), status_code=outcome.status_code,
                                       error=outcome.error, delivered=outcome.delivered)
        message.state = Message.State.DELIVERED if outcome.delivered else Message.State.FAILED
        message.save(update_fields=["state"])
    if outcome.delivered:
        if outcome.status_code:
            return True, _("Test message delivered to %(target)s (HTTP %(code)s).") % {"target": channel.target,
                                                                                      "code": outcome.status_code}
        return True, _("Test message delivered to %(target)s.") % {"target": channel.target}
    return False, outcome.error
