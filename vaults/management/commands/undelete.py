"""UNDELETE from the command line: the same checks and Undelete job as the Protected Items command."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vaults.management.commands._jobwait import find_item, find_vault, started, wait_for_job
from vaults.operations.undelete import Undelete
from vaults.services.refusals import Refusal


class Command(BaseCommand):
    help = ("Bring a soft-deleted protected VM (VAULT [SERVICE/]VM) back as Protection Stopped, with all its recovery "
            "points; --wait follows the Undelete job and fails when it fails.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("vault")
        parser.add_argument("vm", help="VM name, or cloud-service/name")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=600)

    def handle(self, *args: str, vault: str, vm: str, wait: bool, timeout: float, **options: Any) -> None:
        item = find_item(find_vault(vault), vm)
        try:
            job = Undelete.start(None, item)
        except Refusal as refusal:
            raise CommandError(str(refusal)) from refusal
        if wait:
            wait_for_job(self, job, timeout)
        else:
            started(self, job)
