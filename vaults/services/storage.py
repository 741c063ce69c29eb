"""A vault's stores: the primary one, the paired region's copy of a GRS vault, and the storage-used figure."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from vaults.models import RecoveryPoint, StorageSample, Vault
from vaults.services.keys import vault_key
from vaultstore import VaultStore


def open_store(vault: Vault) -> VaultStore:
    """The vault's store, made on first use: encrypted with the vault's key, unless the vault predates encryption."""
    return VaultStore.open_or_create(vault.store_path, key=vault_key(vault), workers=settings.VAULT_STORE_WORKERS)


def secondary_path(vault: Vault) -> Path | None:
    """Where a GRS vault's copy in its paired region lives; None for LRS."""
    if not vault.is_geo_redundant:
        return None
    return Path(settings.VAULT_STORE_DIR) / "secondary" / vault.paired_region / vault.store_key


def secondary_store(vault: Vault, *, create: bool = False) -> VaultStore | None:
    """The paired region's copy, or None (LRS, or nothing replicated yet unless ``create``)."""
    path = secondary_path(vault)
    if path is None:
        return None
    if create:
        return VaultStore.open_or_create(path, key=vault_key(vault))
    return VaultStore(path, key=vault_key(vault)) if (path / "store.json").exists() else None


def record_storage_used(vault: Vault, store: VaultStore | None = None) -> int:
    """Keep the dashboard's figure: the bytes the engine counts in the store, after a job changed it."""
    used = (store or open_store(vault)).stored_bytes()
    Vault.objects.filter(pk=vault.pk).update(storage_used=used)
    StorageSample.record(vault.pk, used)  # the dashboard's 30-day chart
    vault.storage_used = used
    return used


def delete_points(vault: Vault, points: QuerySet[RecoveryPoint]) -> int:
    """Delete recovery points: rows first, so a point the portal no longer lists is never offered for restore while
    its files go; the chunks go at the next garbage collection. Returns how many were deleted."""
    ids = list(points.values_list("store_point_id", flat=True))
    with transaction.atomic():
        points.delete()
    open_store(vault).delete_points(ids)
    return len(ids)
