"""VERIFY from the command line: the same job as the command bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from jobs.models import Job
from vaults.management.commands._jobwait import JobCommand, find_vault
from vaults.operations.maintenance import Verify


class Command(JobCommand):
    help = ("Start a Verify job for a vault; --wait follows it and fails when damage is found; --json prints the job, "
            "or the problem, as one JSON object.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("vault")
        super().add_arguments(parser)

    def start_job(self, *, vault: str, **options: Any) -> Job:
        return Verify.start_for(None, find_vault(vault))
