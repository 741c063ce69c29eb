"""The vaults app's Celery tasks, found by the Celery app's autodiscovery: every job type and the beat's tasks.

Defining an operation class registers its task; importing the modules here is what makes a worker know them.
"""

from __future__ import annotations

from vaults.operations import (
    backup,
    beat,
    discovery,
    maintenance,
    protection,
    registration,
    restore,
    undelete,
    vaults,
)

__all__ = ["backup", "beat", "discovery", "maintenance", "protection", "registration", "restore", "undelete", "vaults"]
