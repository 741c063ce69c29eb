from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="portal.health")
def health() -> dict:
    """A worker's view of its dependencies: which host it is and that it reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"host": socket.gethostname(), "database": connection.vendor, "database_ok": one == 1}
