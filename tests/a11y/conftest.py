"""Fixtures of the accessibility suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def remove_new_vault_stores(vault_stores_removed):
    """Every test here leaves no store behind for the vaults it made (``tests.fixtures.vaults``)."""
