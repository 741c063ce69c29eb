"""A Celery worker for the control queue alone: the reconciler and the scheduler's tick.

They run every few seconds and take milliseconds; on a worker of their own they are never stuck behind the
long transfers that fill the job workers' slots, so a dead worker's job is failed in time whatever else runs.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a Celery worker that consumes only the control queue (the reconciler and the scheduler's tick)."

    def handle(self, *args: object, **options: object) -> None:
        from portal.celery import app

        app.worker_main(["worker", "--loglevel", "INFO", "--pool", "solo", "--queues", settings.CONTROL_QUEUE,
                         "--hostname", "control@%h", "--without-mingle", "--without-gossip"])
