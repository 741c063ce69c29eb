"""A real restore's progress, as the notification strip receives it: it follows the bytes through writing the
disks and proving them, so it never sits still and then jumps, and it names the phase it is in."""

from __future__ import annotations

import json
import os
import threading
import time
from itertools import pairwise
from unittest import mock

import pytest

from jobs.throughput import KEY
from portal.events import channel_name
from tests.backup.helpers import back_up, lab_vault, protect, run, write
from vaults.operations.restore import PROVING, WRITING, Restore
from vaults.services.restore import RestoreRequest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def remove_new_vault_stores(vault_stores_removed):
    """Every test here leaves no store behind for the vaults it made."""


@pytest.fixture(autouse=True)
def jobs_run_here():
    """The jobs run in this process (``run``), so a Celery worker another test left running never takes one: their
    tasks are kept from the broker, as ``run`` keeps a parked job's re-send."""
    with mock.patch("jobs.queue.enqueue", return_value=True):
        yield


class Listener:
    """Every event published on ``job:<id>``, in order, as a browser following the job receives them."""

    def __init__(self, redis_client, job_id: int) -> None:
        self.pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel_name(f"job:{job_id}"))
        self.events: list[tuple[float, dict]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while not self.stop.is_set():
            message = self.pubsub.get_message(timeout=0.1)
            if message:
                self.events.append((time.monotonic(), json.loads(message["data"])["data"]))

    def close(self) -> list[tuple[float, dict]]:
        time.sleep(0.3)
        self.stop.set()
        self.thread.join(5)
        self.pubsub.close()
        return self.events


def test_restore_progress_moves_evenly_through_writing_and_proving(lab_subscription, owner, member, redis_client,
                                                                    fabric_faults, settings):
    vault = lab_vault(owner, lab_subscription, name="progress")
    item = protect(member, vault, "contoso-web", "web01")
    os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
    write(lab_subscription, os_disk["media_link"], 64 << 20, os.urandom(48 << 20))
    backup = back_up(member, item)
    assert backup.status == "completed", backup.error_message
    point = item.recovery_points.get()

    fabric_faults(latency_ms=250)  # each page-blob request slow, as a distant storage account is
    settings.VAULT_STORE_WORKERS = 2  # a small worker, so the restore takes a dozen round trips per phase
    job = Restore.start(member, point, RestoreRequest("progress01", "contoso-web", False, "labstoreeastus"))
    listener = Listener(redis_client, job.pk)
    try:
        job = run(job)
    finally:
        events = listener.close()
    assert job.status == "completed", job.error_message

    samples = [(at, data["progress"], data) for at, data in events if data["kind"] == "progress"]
    percents = [percent for _, percent, _ in samples]
    assert len(percents) >= 8, percents
    assert percents == sorted(percents), f"progress went back: {percents}"
    jumps = [(a, b) for a, b in pairwise(percents) if b > 10 and b - a > 25]
    assert not jumps, f"progress jumped: {percents}"
    # No long still stretch between 5% and 90%: the proof moves the bar as the writing did (an event comes at
    # least every few seconds, and the percent it carries does not stay put meanwhile).
    moving = [(at, percent) for at, percent, _ in samples if 5 <= percent <= 90]
    still = max((b - a for (a, _), (b, _) in pairwise(moving)), default=0.0)
    assert still < 3.0, f"no progress for {still:.1f} s: {percents}"

    # Both phases are named as they happen, writing first, and the proof covers half of 5%..90%.
    phases = [data["phase"] for _, _, data in samples if data["phase"]]
    assert WRITING in phases and PROVING in phases
    assert phases.index(PROVING) > len(phases) - 1 - phases[::-1].index(WRITING)
    first_proof = next(percent for _, percent, data in samples if data["phase"] == PROVING)
    assert 40 <= first_proof <= 55, percents
    # A rate and a time left were shown once known, and never nonsense.
    rated = [data for _, _, data in samples if data["rate"]]
    assert rated and all(data["rate"].endswith("/s") for data in rated)
    assert any(data["eta"].endswith("left") for data in rated)
    assert all(not data["eta"] for _, _, data in samples if not data["rate"])

    # The finished job keeps what it moved (written and read back) and its average rate, no time left.
    state = job.properties[KEY]
    assert state["finished"] and state["eta"] is None and state["rate"] > 0
    assert state["done"] == state["total"] >= 2 * (48 << 20)
