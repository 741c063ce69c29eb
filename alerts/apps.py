from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def evaluate_soon(sender: object, job: Any, **kwargs: object) -> None:
    """A job of a vault ended: evaluate that vault's rules on the control queue, after the end is committed, so a
    failed backup is an alert within seconds rather than at the next minute's beat."""
    if not job.vault_id:
        return
    from django.conf import settings
    from django.db import transaction

    vault_id = job.vault_id

    def send() -> None:
        from alerts.tasks import evaluate_vault

        try:
            # Expires: a control worker that was down does not work through a backlog of evaluations on its return,
            # ahead of the reconciler; the beat's evaluation every minute covers what expired.
            evaluate_vault.apply_async((vault_id,), queue=settings.CONTROL_QUEUE, countdown=1, expires=60, retry=False)
        except Exception:  # the broker is down: the beat's evaluation catches up when it is back
            import logging

            logging.getLogger(__name__).warning("could not queue the alert evaluation of vault %s", vault_id)

    transaction.on_commit(send)


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts import tasks  # noqa: F401 - registers the tasks in every process, the web's too (it queues tests)
        from jobs.signals import job_ended

        job_ended.connect(evaluate_soon, dispatch_uid="alerts-evaluate-after-job")
