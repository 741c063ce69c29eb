"""The jobs app's own maintenance task, run by Celery beat (see CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from jobs.services import reconcile as reconcile_jobs


@shared_task(name="jobs.reconcile", ignore_result=True)
def reconcile() -> dict[str, int]:
    """Fail jobs whose worker died, re-send jobs whose message was lost."""
    return reconcile_jobs()
