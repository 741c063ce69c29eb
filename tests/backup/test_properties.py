"""Property: any sequence of writes and backups restores exactly the newest snapshot's bytes (through the jobs)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaults.operations.restore import Restore
from vaults.services.restore import RestoreRequest

from .helpers import back_up, lab_vault, protect, run, same_bytes, write

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PAGE = 512
names = itertools.count(1)

writes = st.lists(st.tuples(st.integers(0, (96 << 20) // PAGE), st.integers(1, 64), st.binary(min_size=1, max_size=8)),
                  min_size=1, max_size=6)
rounds = st.lists(writes, min_size=1, max_size=3)


@pytest.fixture
def item(lab_subscription, member, owner):
    return protect(member, lab_vault(owner, lab_subscription, "West US", "west"), "fabrikam-app", "app01")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=rounds)
def test_writes_and_backups_always_restore_the_snapshots_bytes(item, member, lab_subscription, rounds):
    url = next(d["media_link"] for d in item.item.vm.disks if d["lun"] is None)
    for batch in rounds:
        for page, pages, pattern in batch:
            data = (pattern * (pages * PAGE // len(pattern) + 1))[:pages * PAGE]
            write(lab_subscription, url, page * PAGE, data)
        job = back_up(member, item)
        assert job.status == "completed", job.error_message
    point = item.recovery_points.order_by("-created").first()
    job = run(Restore.start(member, point, RestoreRequest(f"prop{next(names)}", "fabrikam-app", False,
                                                          "labstorewestus")))
    assert job.status == "completed", job.error_message
    for disk in point.disks:
        restored = next(u for u in job.params["created_blobs"] if f"-{disk['name']}-" in u)
        assert same_bytes(lab_subscription, disk["media_link"], disk["snapshot"], restored)
