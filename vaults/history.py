"""The storage a vault used, day by day: one row per vault and day, the last figure of that day.

``vaults.services.storage.record_storage_used`` upserts the day's row each time a job changed the store (a
backup, retention, garbage collection, deleted data), so the dashboard's 30-day chart needs no scan of the store.
A day without a row used what the day before it used. The model lives apart from ``vaults.models`` (which it
only names by string) so that file stays one concern; ``vaults.models`` imports it for Django to find it.
"""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils import timezone


class StorageSample(models.Model):
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="storage_samples")
    day = models.DateField()
    bytes_used = models.BigIntegerField()
    recorded = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["vault", "day"]
        constraints = [models.UniqueConstraint(fields=["vault", "day"], name="one_storage_sample_per_vault_day")]

    def __str__(self) -> str:
        return f"vault {self.vault_id} on {self.day}: {self.bytes_used} bytes"

    @classmethod
    def record(cls, vault_id: int, bytes_used: int, day: date | None = None) -> None:
        """The day's figure (today's by default) is now ``bytes_used``: one upsert, whoever wrote the day first."""
        now = timezone.now()
        cls.objects.bulk_create(
            [cls(vault_id=vault_id, day=day or timezone.localdate(now), bytes_used=bytes_used, recorded=now)],
            update_conflicts=True, unique_fields=["vault", "day"], update_fields=["bytes_used", "recorded"])
