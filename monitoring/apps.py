"""The monitoring app; on start-up it adds the workers' heartbeat to the Celery app (monitoring/heartbeat.py)."""

from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # A Celery worker sets Django up before it builds its consumer, so the step joins every worker's consumer
        # (the job workers and the control worker); in the web process it is never started.
        from monitoring.heartbeat import WorkerHeartbeat
        from portal.celery import app

        app.steps["consumer"].add(WorkerHeartbeat)
