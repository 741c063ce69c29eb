"""UNDELETE from the command line: the same checks and Undelete job as the Protected Items command."""

from __future__ import annotations

from vaults.management.commands._jobwait import ItemJobCommand
from vaults.operations.undelete import Undelete


class Command(ItemJobCommand):
    help = ("Bring a soft-deleted protected VM (VAULT [SERVICE/]VM) back as Protection Stopped, with all its recovery "
            "points; --wait follows the Undelete job and fails when it fails; --json prints the job, or the problem, as "
            "one JSON object.")
    operation = Undelete
