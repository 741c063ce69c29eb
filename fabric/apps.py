from __future__ import annotations

from django.apps import AppConfig


class FabricConfig(AppConfig):
    """Only here so ``manage.py fabric`` finds its command; the lab fabric has no models."""

    name = "fabric"
    verbose_name = "Lab fabric"
