"""Fixtures of the backup suite: a vault on the lab fabric with VMs registered and protected, jobs run here."""

import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def remove_new_vault_stores():
    """Test vaults are rolled back but their stores are files: remove the ones this test's backups wrote."""
    from django.conf import settings

    root = Path(settings.VAULT_STORE_DIR)
    before = set(_stores(root))
    yield
    for path in set(_stores(root)) - before:
        if any((path / "points").glob("job-*.json")):
            shutil.rmtree(path, ignore_errors=True)


def _stores(root: Path) -> list[Path]:
    return [p.parent for p in root.glob("*/store.json")] + [p.parent for p in root.glob("secondary/*/*/store.json")]
