"""Personal access tokens: what a program presents, in ``Authorization: Bearer <token>``, to act as its user.

Only the token's SHA-256 digest is kept. A token is 32 random bytes, so nobody can guess it or try a list of
likely ones: a slow password hash (PBKDF2, argon2) buys nothing against a search of 2^256, and a fast hash lets
every API request find its token by an indexed lookup of the digest instead of a hash per stored token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy

PREFIX = "rsp_"  # what a token starts with, so a leaked one is recognisable (secret scanners, logs)
PREFIX_SHOWN = 8  # characters after PREFIX shown in lists to tell tokens apart; they reveal 48 of 256 bits


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


STATE_LABELS = {"Active": gettext_lazy("Active"), "Expired": gettext_lazy("Expired"),
                "Revoked": gettext_lazy("Revoked")}


class TokenQuerySet(models.QuerySet):
    def usable(self) -> TokenQuerySet:
        now = timezone.now()
        return self.filter(revoked__isnull=True).filter(models.Q(expires__isnull=True) | models.Q(expires__gt=now))


class PersonalAccessToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=20, help_text="the start of the token, shown in lists")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: models.Model, name: str, days: int | None = None) -> tuple[PersonalAccessToken, str]:
        """A new token for ``user`` and its secret, which is returned here once and stored nowhere."""
        secret = PREFIX + secrets.token_urlsafe(32)
        expires = timezone.now() + timedelta(days=days) if days else None
        token = cls.objects.create(user=user, name=name, prefix=secret[:len(PREFIX) + PREFIX_SHOWN],
                                   secret_hash=digest(secret), expires=expires)
        return token, secret

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def state(self) -> str:
        if self.revoked:
            return "Revoked"
        return "Expired" if self.is_expired else "Active"

    @property
    def state_label(self) -> str:
        """The state as the page words it, in the reader's language (``state`` stays the English key)."""
        return str(STATE_LABELS[self.state])

    def revoke(self) -> bool:
        """Revoked for good; True when this call revoked it (compare-and-swap, as every status move here)."""
        now = timezone.now()
        won = PersonalAccessToken.objects.filter(pk=self.pk, revoked__isnull=True).update(revoked=now) == 1
        if won:
            self.revoked = now
        return won
