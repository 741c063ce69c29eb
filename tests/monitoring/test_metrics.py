"""/metrics: what a Prometheus scrape sees after users backed up, and who may scrape."""

from __future__ import annotations

import ipaddress
import os
import socket
from unittest import mock

import pytest
import redis as redis_module
from celery import current_app
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Operation, Status
from monitoring import metrics
from monitoring.broker import broker_client
from monitoring.metrics import DURATION_BUCKETS
from tests.fixtures.vaults import protect_vm, run_job
from vaults.operations.backup import Backup

from .conftest import TOKEN, scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOW = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")]


@pytest.mark.integration
def test_a_scrape_shows_the_jobs_the_last_backup_and_the_storage_of_what_users_did(client, vault, member,
                                                                                   celery_worker_process):
    item = protect_vm(member, vault, "scale-0000", "vm03")  # DISCOVER, REGISTER, PROTECT, each a job run here
    job = run_job(Backup.start(member, item))  # BACKUP NOW
    assert job.status == Status.COMPLETED, job.error_message
    vault.refresh_from_db()
    point = item.recovery_points.get()

    samples = scrape(client)

    for operation in (Operation.DISCOVERY, Operation.REGISTER, Operation.CONFIGURE_PROTECTION, Operation.BACKUP):
        assert value(samples, "portal_jobs", operation=operation, status=Status.COMPLETED) == 1
    assert value(samples, "portal_jobs", operation=Operation.RESTORE, status=Status.FAILED) == 0

    seconds = job.duration.total_seconds()
    assert value(samples, "portal_job_duration_seconds_count", operation="backup") == 1
    assert value(samples, "portal_job_duration_seconds_sum", operation="backup") == pytest.approx(seconds, abs=1e-3)
    for bound in DURATION_BUCKETS:  # the job is counted in every bucket from the first that holds its duration
        expected = 1 if seconds <= bound else 0
        assert value(samples, "portal_job_duration_seconds_bucket", operation="backup", le=str(float(bound))) == expected
    assert value(samples, "portal_job_duration_seconds_bucket", operation="backup", le="+Inf") == 1

    labels = {"subscription": vault.subscription.subscription_id, "vault": "contoso-east"}
    assert value(samples, "portal_protected_item_last_backup_timestamp_seconds", item="vm03 (scale-0000)",
                 **labels) == pytest.approx(point.created.timestamp())
    assert value(samples, "portal_protected_items", status="protected", **labels) == 1
    assert value(samples, "portal_vault_stored_bytes", **labels) == vault.storage_used > 0

    # The suite's worker beats on the jobs' queue; Redis answered.
    assert value(samples, "portal_redis_up") == 1
    ages = samples["portal_worker_heartbeat_age_seconds"]
    mine = [age for labels, age in ages.items()
            if dict(labels)["worker"].startswith(f"test-{os.getpid()}@") and dict(labels)["queue"] == _queue()]
    assert len(mine) == 1 and 0 <= mine[0] < 10


def test_the_queue_length_is_what_waits_in_the_broker(client, redis_url):
    queue = f"monitoring-depth-{os.getpid()}"  # a queue no worker takes from
    redis = broker_client()
    try:
        for _ in range(3):
            current_app.send_task("tests.jobs.work", args=[0], queue=queue, ignore_result=True)
        # Only the scrape looks at that queue: the suite's job queue setting stays as its worker has it.
        with mock.patch.object(metrics, "monitored_queues", lambda: [queue]):
            samples = scrape(client)
        assert value(samples, "portal_queue_length", queue=queue) == 3
    finally:
        redis.delete(queue)
        redis.close()


def test_an_empty_database_scrapes_without_error(client):
    samples = scrape(client)
    assert value(samples, "portal_jobs", operation="backup", status="completed") == 0
    assert value(samples, "portal_job_duration_seconds_count", operation="backup") == 0
    assert "portal_protected_item_last_backup_timestamp_seconds" not in samples
    assert "portal_vault_stored_bytes" not in samples


def test_a_broker_that_does_not_answer_is_reported_not_an_error(client):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    # Nothing listens there. Only the scrape is pointed at it: changing CELERY_BROKER_URL would send this process's
    # later jobs there too, once Celery has read its configuration.
    nowhere = f"redis://127.0.0.1:{port}/0"
    with mock.patch.object(metrics, "broker_client", lambda: redis_module.Redis.from_url(
            nowhere, socket_timeout=1, socket_connect_timeout=1)):
        samples = scrape(client)
    assert value(samples, "portal_redis_up") == 0
    assert "portal_queue_length" not in samples


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.50",
                          HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


# --- who may scrape --------------------------------------------------------

def get(client, address: str = "203.0.113.50", **headers):
    return client.get("/metrics", REMOTE_ADDR=address, **headers)


def test_without_the_token_from_elsewhere_the_answer_is_403_and_says_nothing(client):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
                    {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"}, {"HTTP_AUTHORIZATION": "Bearer "}):
        response = get(client, **headers)
        assert response.status_code == 403 and response.content == b"", headers
    assert get(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_no_token_configured_accepts_no_bearer_at_all(client, settings):
    settings.METRICS_TOKEN = None
    assert get(client, HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert get(client, HTTP_AUTHORIZATION="Bearer None").status_code == 403


def test_an_address_in_the_allow_list_needs_no_token(client, settings):
    settings.METRICS_ALLOW = [ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("2001:db8::/32")]
    assert get(client, "198.51.100.7").status_code == 200
    assert get(client, "2001:db8::5").status_code == 200
    assert get(client, "198.51.101.7").status_code == 403
    assert get(client, "127.0.0.1").status_code == 403  # the default is replaced, not added to


def test_the_default_allow_list_is_this_machine(client):
    assert get(client, "127.0.0.1").status_code == 200
    assert get(client, "::1").status_code == 200
    assert get(client, "10.0.0.1").status_code == 403


def test_a_signed_in_user_from_elsewhere_gets_no_metrics(client, owner):
    client.force_login(owner)
    assert get(client).status_code == 403


def test_the_exposition_parses_as_prometheus_text(client):
    response = get(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"portal_jobs", "portal_job_duration_seconds", "portal_redis_up", "portal_queue_length"} <= names


def _queue() -> str:
    from django.conf import settings

    return settings.CELERY_TASK_DEFAULT_QUEUE
