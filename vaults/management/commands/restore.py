"""Restore as a new VM from the command line: the same checks and job as the wizard."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from jobs.models import Job
from vaults.management.commands._jobwait import JobCommand, NotFound, find_item, find_vault
from vaults.operations.restore import Restore
from vaults.services.restore import RestoreRequest


class Command(JobCommand):
    help = ("Restore a protected VM's recovery point (the newest unless --point) as a new VM; --wait follows the job "
            "and fails when it fails; --json prints the job, or the problem, as one JSON object.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("vault")
        parser.add_argument("vm", help="the protected VM: name, or cloud-service/name")
        parser.add_argument("--point", type=int, help="recovery point id (default: the newest)")
        parser.add_argument("--name", required=True, help="name of the new VM")
        parser.add_argument("--service", required=True, help="cloud service of the new VM")
        parser.add_argument("--new-service", action="store_true", help="create the cloud service")
        parser.add_argument("--storage-account", required=True)
        parser.add_argument("--virtual-network", default="")
        parser.add_argument("--subnet", default="")
        super().add_arguments(parser)

    def start_job(self, **o: Any) -> Job:
        item = find_item(find_vault(o["vault"]), o["vm"])
        points = item.recovery_points.order_by("-created")
        point = points.filter(pk=o["point"]).first() if o["point"] else points.first()
        if point is None:
            raise NotFound("No such recovery point." if o["point"] else f"'{o['vm']}' has no recovery point.")
        request = RestoreRequest(o["name"], o["service"], o["new_service"], o["storage_account"], o["virtual_network"],
                                 o["subnet"])
        return Restore.start(None, point, request)
