"""The portal's own rows: a user's preferences (the language the top bar's switch chose)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    # Empty: follow the browser's Accept-Language.
    language = models.CharField(max_length=10, blank=True, default="", choices=settings.LANGUAGES)

    def __str__(self) -> str:
        return f"{self.user}: {self.language or 'browser'}"
