from __future__ import annotations

from django.apps import AppConfig


class VaultsConfig(AppConfig):
    name = "vaults"
    verbose_name = "Recovery Services"

    def ready(self) -> None:
        from portal.events import register_channel
        from vaults.models import Vault

        register_channel("vault", lambda user, pk: Vault.objects.visible_to(user).filter(pk=pk).exists())
