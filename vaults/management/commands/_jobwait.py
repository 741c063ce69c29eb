"""Shared by the backup_now, restore, undelete and verify commands: find a vault's item, start one job, wait for
it, exit by its outcome.

``--wait`` follows the job and exits non-zero when it fails. ``--json`` prints one JSON object on standard output
and nothing else: the job (``job_json``) or, when the request is refused or the job does not succeed, a problem
(``code``, ``detail``); the exit codes stay those of the text output.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar, NoReturn, Protocol

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import SUCCEEDED, Job
from jobs.throughput import public
from vaults.cloud.errors import FabricError
from vaults.models import ProtectedItem, Vault
from vaults.services.refusals import Refusal


class NotFound(Refusal):
    """The vault, item or recovery point the command names does not exist."""

    code = "NotFound"


class ItemOperation(Protocol):
    @classmethod
    def start(cls, user: None, item: ProtectedItem) -> Job: ...


class JobCommand(BaseCommand):
    """A command that starts one job, as its button does; ``start_job`` says which."""

    default_timeout: ClassVar[float] = 3600

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wait", action="store_true", help="follow the job; exit non-zero when it fails")
        parser.add_argument("--timeout", type=float, default=self.default_timeout)
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="print one JSON object (the job, or the problem) and nothing else")

    def start_job(self, **options: Any) -> Job:
        raise NotImplementedError

    def handle(self, *args: str, wait: bool, timeout: float, as_json: bool, **options: Any) -> None:
        try:
            job = self.start_job(**options)
        except (Refusal, FabricError) as refusal:
            refuse(self, refusal, as_json=as_json)
        if wait:
            wait_for_job(self, job, timeout, as_json=as_json)
        elif as_json:
            emit(self, job_json(job))
        else:
            started(self, job)


class ItemJobCommand(JobCommand):
    """A command on a vault's protected item (VAULT [SERVICE/]VM)."""

    operation: ClassVar[type[ItemOperation]]
    default_timeout: ClassVar[float] = 600

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("vault")
        parser.add_argument("vm", help="VM name, or cloud-service/name")
        super().add_arguments(parser)

    def start_job(self, *, vault: str, vm: str, **options: Any) -> Job:
        return self.operation.start(None, find_item(find_vault(vault), vm))


def find_vault(name: str) -> Vault:
    vault = Vault.objects.filter(name=name).select_related("subscription").first()
    if vault is None:
        raise NotFound(f"No vault named '{name}'.")
    return vault


def find_item(vault: Vault, vm: str) -> ProtectedItem:
    """``vm`` is ``name`` or ``cloud-service/name``."""
    service, _, name = vm.rpartition("/")
    items = vault.protected_items.select_related("item__vm", "vault__subscription").filter(item__vm__name=name)
    if service:
        items = items.filter(item__vm__cloud_service=service)
    found = list(items)
    if len(found) != 1:
        raise NotFound(f"{'No' if not found else 'More than one'} protected item '{vm}' in vault '{vault.name}'.")
    return found[0]


# --- output ---------------------------------------------------------------

def job_json(job: Job) -> dict[str, Any]:
    """What a program needs of a job: what, on which item of which vault, how it stands or ended, and why."""
    failed = job.is_terminal and job.status not in SUCCEEDED
    return {
        "job": job.pk, "operation": job.operation, "operation_label": job.get_operation_display(),
        "status": job.status, "status_label": job.get_status_display(),
        "vault": job.vault.name if job.vault else None, "item": job.item_name, "item_type": job.item_type,
        "progress": job.progress, "created": _iso(job.created), "started": _iso(job.started),
        "finished": _iso(job.finished), "duration_seconds": job.duration.total_seconds() if job.duration else None,
        "properties": public(job.properties), "queued_unsent": job.is_queued_unsent,
        "error": {"code": job.error_code, "message": job.error_message, "recommendations": job.recommendations}
        if failed or job.error_code else None,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def emit(command: BaseCommand, document: dict[str, Any]) -> None:
    command.stdout.write(json.dumps(document, sort_keys=True, default=str))


def problem(code: str, detail: str, **more: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **more}


def refuse(command: BaseCommand, refusal: Refusal | FabricError, *, as_json: bool) -> NoReturn:
    """The request was turned down before any job existed: the sentence, and a non-zero exit."""
    if as_json:
        extra = {"field": refusal.field} if getattr(refusal, "field", None) else {}
        if isinstance(refusal, FabricError) and refusal.recommendation:
            extra["recommendation"] = refusal.recommendation
        emit(command, problem(getattr(refusal, "code", "") or "EndpointError", str(refusal), **extra))
    raise CommandError(str(refusal)) from refusal


def started(command: BaseCommand, job: Job, line: str = "job {pk} started") -> None:
    """Say the job started, and that it waits for the job service when its task could not be sent."""
    command.stdout.write(line.format(pk=job.pk, operation=job.get_operation_display()))
    if job.is_queued_unsent:
        command.stdout.write(str(Job.UNSENT) % {"what": "it"})


def wait_for_job(command: BaseCommand, job: Job, timeout: float, *, as_json: bool = False) -> None:
    """Follow ``job`` to its end (its progress on the way, unless ``as_json``); CommandError unless it succeeded."""
    if not as_json:
        started(command, job, "job {pk} ({operation}) started")
    deadline = time.monotonic() + timeout
    last = None
    while True:
        job.refresh_from_db()
        if (job.status, job.progress) != last and not as_json:
            command.stdout.write(f"  {job.get_status_display()} {job.progress}%")
        last = (job.status, job.progress)
        if job.is_terminal:
            break
        if time.monotonic() > deadline:
            sentence = f"job {job.pk} still {job.get_status_display()} after {timeout:.0f} s"
            if as_json:
                emit(command, problem("WaitTimedOut", f"{sentence}; it goes on: follow it on the Jobs page.",
                                      job=job_json(job)))
            raise CommandError(sentence)
        time.sleep(0.5)
    if as_json:
        emit(command, job_json(job))
    else:
        for name, value in public(job.properties).items():
            command.stdout.write(f"  {name}: {value}")
    if job.status not in SUCCEEDED:
        raise CommandError(f"job {job.pk} {job.get_status_display()}: {job.error_code} {job.error_message}")
    if not as_json:
        command.stdout.write(command.style.SUCCESS(f"job {job.pk} {job.get_status_display()}"))
