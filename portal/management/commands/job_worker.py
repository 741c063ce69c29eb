"""A Celery worker for the jobs: the ``worker`` process, on every host that moves data.

It consumes the queues WORKER_QUEUES names ("data" by default: the jobs' queue, CELERY_QUEUE) under the name
WORKER_NAME@<host>, so that N workers on N hosts share the data queue while the control worker alone takes the
control queue. The options override the settings for one run.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def queue_names(roles: list[str]) -> list[str]:
    """The broker queues of ``roles`` ("data", "control"); a CommandError naming WORKER_QUEUES for anything else."""
    known = {"data": settings.CELERY_TASK_DEFAULT_QUEUE, "control": settings.CONTROL_QUEUE}
    unknown = [role for role in roles if role not in known]
    if unknown or not roles:
        raise CommandError(f"WORKER_QUEUES={','.join(roles)!r}: use 'data', 'control' or 'data,control'.")
    return list(dict.fromkeys(known[role] for role in roles))


def celery_hostname(name: str) -> str:
    """``name@%h`` (Celery puts the host's name for %h), or ``name`` as given when it names its host already."""
    return name if "@" in name else f"{name}@%h"


class Command(BaseCommand):
    help = "Run a Celery worker for the jobs, consuming the queues WORKER_QUEUES names (default: the data queue)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queues", help="comma-separated: data, control (default: WORKER_QUEUES)")
        parser.add_argument("--name", help="the worker's name, before @host (default: WORKER_NAME)")
        parser.add_argument("--concurrency", type=int, help="pool processes (default: WORKER_CONCURRENCY)")

    def handle(self, *args: str, queues: str | None, name: str | None, concurrency: int | None,
               **options: Any) -> None:
        from portal.celery import app

        roles = [role.strip() for role in queues.split(",") if role.strip()] if queues else settings.WORKER_QUEUES
        app.worker_main(["worker", "--loglevel", "INFO", "--concurrency", str(concurrency or settings.WORKER_CONCURRENCY),
                         "--queues", ",".join(queue_names(roles)),
                         "--hostname", celery_hostname(name or settings.WORKER_NAME)])
