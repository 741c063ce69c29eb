"""BACKUP NOW from the command line: the same service and job as the page."""

from __future__ import annotations

from vaults.management.commands._jobwait import ItemJobCommand
from vaults.operations.backup import Backup


class Command(ItemJobCommand):
    help = ("Start a Backup job for a protected VM (VAULT [SERVICE/]VM); --wait follows it and fails when it fails; "
            "--json prints the job, or the problem, as one JSON object.")
    operation = Backup
    default_timeout = 3600
