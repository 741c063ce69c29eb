"""VERIFY from the command line: the same job as the command bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.errors import OperationInProgress
from vaults.management.commands._jobwait import find_vault, started, wait_for_job
from vaults.operations.maintenance import Verify


class Command(BaseCommand):
    help = "Start a Verify job for a vault; --wait follows it and fails when damage is found."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("vault")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args: str, vault: str, wait: bool, timeout: float, **options: Any) -> None:
        try:
            job = Verify.start_for(None, find_vault(vault))
        except OperationInProgress as refusal:
            raise CommandError(str(refusal)) from refusal
        if wait:
            wait_for_job(self, job, timeout)
        else:
            started(self, job)
