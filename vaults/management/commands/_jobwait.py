"""Shared by the backup_now, restore, undelete and verify commands: find a vault's item, wait for a job, exit by its
outcome."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Protocol

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import Job
from vaults.models import ProtectedItem, Vault
from vaults.services.refusals import Refusal

GOOD = ("completed", "completed_with_warnings")


class ItemOperation(Protocol):
    @classmethod
    def start(cls, user: None, item: ProtectedItem) -> Job: ...


class ItemJobCommand(BaseCommand):
    """A command that starts one job on a vault's protected item (VAULT [SERVICE/]VM), as its button on the command
    bar does; ``--wait`` follows the job and fails when it fails."""

    operation: ClassVar[type[ItemOperation]]
    default_timeout: ClassVar[float] = 600

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("vault")
        parser.add_argument("vm", help="VM name, or cloud-service/name")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=self.default_timeout)

    def handle(self, *args: str, vault: str, vm: str, wait: bool, timeout: float, **options: Any) -> None:
        item = find_item(find_vault(vault), vm)
        try:
            job = self.operation.start(None, item)
        except Refusal as refusal:
            raise CommandError(str(refusal)) from refusal
        if wait:
            wait_for_job(self, job, timeout)
        else:
            started(self, job)


def find_vault(name: str) -> Vault:
    vault = Vault.objects.filter(name=name).select_related("subscription").first()
    if vault is None:
        raise CommandError(f"No vault named '{name}'.")
    return vault


def find_item(vault: Vault, vm: str) -> ProtectedItem:
    """``vm`` is ``name`` or ``cloud-service/name``."""
    service, _, name = vm.rpartition("/")
    items = vault.protected_items.select_related("item__vm", "vault__subscription").filter(item__vm__name=name)
    if service:
        items = items.filter(item__vm__cloud_service=service)
    found = list(items)
    if len(found) != 1:
        raise CommandError(f"{'No' if not found else 'More than one'} protected item '{vm}' in vault '{vault.name}'.")
    return found[0]


def started(command: BaseCommand, job: Job, line: str = "job {pk} started") -> None:
    """Say the job started, and that it waits for the job service when its task could not be sent."""
    command.stdout.write(line.format(pk=job.pk, operation=job.get_operation_display()))
    if job.is_queued_unsent:
        command.stdout.write(Job.UNSENT.format(what="it"))


def wait_for_job(command: BaseCommand, job: Job, timeout: float) -> None:
    started(command, job, "job {pk} ({operation}) started")
    deadline = time.monotonic() + timeout
    last = None
    while True:
        job.refresh_from_db()
        if (job.status, job.progress) != last:
            last = (job.status, job.progress)
            command.stdout.write(f"  {job.get_status_display()} {job.progress}%")
        if job.is_terminal:
            break
        if time.monotonic() > deadline:
            raise CommandError(f"job {job.pk} still {job.get_status_display()} after {timeout:.0f} s")
        time.sleep(0.5)
    for name, value in job.properties.items():
        command.stdout.write(f"  {name}: {value}")
    if job.status not in GOOD:
        raise CommandError(f"job {job.pk} {job.get_status_display()}: {job.error_code} {job.error_message}")
    command.stdout.write(command.style.SUCCESS(f"job {job.pk} {job.get_status_display()}"))
