"""Creating, revoking and checking personal access tokens; creation and revocation go to the operations log.

The token page and the API's authentication both come here, so the rules (a name, an expiry of 1 to 366 days,
a user revokes only their own tokens) live in one place.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import PersonalAccessToken, digest
from jobs.errors import Refusal
from jobs.models import LogAction
from jobs.services import log_operation

MAX_DAYS = 366
NAME_MAX = 100
# last_used is written at most this often per token: an API client polling a job does not write on every call.
LAST_USED_RESOLUTION_SECONDS = 60


class TokenRefused(Refusal):
    code = "InvalidRequest"


def tokens_of(user: AbstractBaseUser) -> QuerySet[PersonalAccessToken]:
    return PersonalAccessToken.objects.filter(user=user)


def create_token(user: AbstractBaseUser, name: str, days: int | None) -> tuple[PersonalAccessToken, str]:
    """A new token and its secret (to show once). ``days`` None: it never expires."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise TokenRefused(_("Give the token a name of 1 to %(max)s characters, saying what will use it.")
                           % {"max": NAME_MAX}, field="name")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise TokenRefused(_("A token expires after 1 to %(max)s days; leave the expiry empty for no expiry.")
                           % {"max": MAX_DAYS},
                           field="days")
    with transaction.atomic():
        token, secret = PersonalAccessToken.issue(user, name, days)
        log_operation(user, LogAction.CREATE_API_TOKEN, item_type="token", item_key=f"token:{token.pk}",
                      item_name=token.name, details={"prefix": token.prefix, "expires": _iso(token)})
    return token, secret


def revoke_token(user: AbstractBaseUser, token: PersonalAccessToken) -> bool:
    """Revoke one of ``user``'s tokens; False when it was already revoked."""
    if token.user_id != user.pk:
        raise Refusal(_("You can revoke only your own tokens."), code="NotAllowed")
    with transaction.atomic():
        revoked = token.revoke()
        if revoked:
            log_operation(user, LogAction.REVOKE_API_TOKEN, item_type="token", item_key=f"token:{token.pk}",
                          item_name=token.name, details={"prefix": token.prefix})
    return revoked


def _iso(token: PersonalAccessToken) -> str | None:
    return token.expires.isoformat(timespec="seconds") if token.expires else None


def token_user(secret: str) -> tuple[AbstractBaseUser | None, str]:
    """The active user a presented secret stands for, or None and why not (for the 401's sentence)."""
    token = PersonalAccessToken.objects.select_related("user").filter(secret_hash=digest(secret)).first()
    if token is None:
        return None, "The access token is not valid."
    if token.revoked:
        return None, "The access token was revoked. Create a new one on the Access tokens page."
    if token.is_expired:
        return None, "The access token has expired. Create a new one on the Access tokens page."
    if not token.user.is_active:
        return None, "The access token's user is disabled."
    now = timezone.now()
    if token.last_used is None or (now - token.last_used).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user, ""
