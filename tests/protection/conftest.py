"""The lab subscription fixture of the vaults suite, for the protection browser tests."""

from tests.vaults.conftest import lab_subscription  # noqa: F401
