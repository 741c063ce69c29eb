"""Two requests racing for the same item (a double-submitted form, two web processes) make one job."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from jobs.errors import OperationInProgress
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_requests_for_one_item_make_exactly_one_job(start_work):
    barrier, outcomes = threading.Barrier(4), []

    def submit() -> None:
        try:
            barrier.wait()
            start_work(item="vm01")
            outcomes.append("job")
        except OperationInProgress as refusal:
            outcomes.append(str(refusal))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["Another operation is in progress on this item"] * 3 + ["job"]
    assert Job.objects.filter(item_key="vm:vm01").count() == 1
