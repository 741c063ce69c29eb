"""Fixtures of the backup suite: a vault on the lab fabric with VMs registered and protected, jobs run here."""

from tests.vaults.conftest import lab_subscription  # noqa: F401
