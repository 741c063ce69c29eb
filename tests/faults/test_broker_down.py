"""BACKUP NOW while the job service (Redis) is down: the user reads that the backup is queued, and it starts
within 10 s of Redis answering again, sent by the reconciler that beat and the control worker run."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from django.urls import reverse

from jobs.models import Job, Operation, Status
from tests.conftest import wait_for
from vaults.models import Vault
from vaults.services.storage import open_store

from .helpers import finished, protected, quick_created_vault, whole

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_backup_asked_for_while_the_broker_is_down_says_so_and_starts_when_it_is_back(
        private_redis, fault_fabric, fault_worker, control_plane_on, subscription, owner, member, client, settings):
    url, restart = private_redis
    subscription.subscription_id, subscription.host = fault_fabric.subscription_id, fault_fabric.host
    subscription.save()
    fault_worker("broker-down", broker=url, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    control_plane_on(url, settings.CELERY_TASK_DEFAULT_QUEUE)
    vault = quick_created_vault(owner, subscription, "broker-down", replication=Vault.Replication.LRS)
    try:
        [item] = protected(member, vault, [("scale-0000", "vm06")])
        client.force_login(member)
        answers = {}

        def click_backup_now() -> None:
            answers["response"] = client.post(reverse("vaults:backup_now", args=[vault.pk]), {"items": str(item.pk)},
                                              HTTP_HX_REQUEST="true")

        restart(down=3.0, during=click_backup_now)  # Redis stops, the user clicks, Redis is back 3 s later
        back = time.monotonic()
        notice = json.loads(answers["response"]["HX-Trigger"])["portal:notice"]
        assert notice["text"].startswith("The job service cannot be reached right now, so the backup is queued")
        job = Job.objects.filter(operation=Operation.BACKUP, vault=vault).latest("pk")
        wait_for(lambda: Job.objects.get(pk=job.pk).started is not None, what="the queued backup to start",
                 timeout=30)
        took = time.monotonic() - back
        print(f"\nqueued backup started {took:.1f} s after Redis answered again")
        assert took < 10
        job = finished(job, 120)
        assert job.status == Status.COMPLETED, job.error_message
        assert whole(open_store(vault), item)
    finally:
        shutil.rmtree(vault.store_path, ignore_errors=True)
