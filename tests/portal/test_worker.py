from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_runs_a_task_against_the_real_redis(celery_worker_process):
    from portal.tasks import health

    result = health.delay().get(timeout=30)
    assert result["database_ok"] is True
    assert result["database"] in {"sqlite", "postgresql"}
