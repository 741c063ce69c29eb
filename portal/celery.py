"""The Celery application: configured from Django settings, tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging, worker_process_init

from portal.logs import configure_celery_logging
from portal.memory import recycle_large_buffers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Workers and beat log in the portal's format (settings.LOGGING), not with a root handler of Celery's own.
setup_logging.connect(configure_celery_logging, weak=False)


@worker_process_init.connect
def _tune_worker_process(**_kwargs: object) -> None:
    recycle_large_buffers()  # backups and restores allocate and free MiB-sized buffers all day
