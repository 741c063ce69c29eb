"""What /metrics exposes: a Prometheus collector that reads the database and the broker at scrape time.

Nothing is counted in the process, so every web process answers alike. Each family comes from one aggregate
query (grouped in SQL) or one Redis round trip; none loads jobs or points into Python one by one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import redis
from django.db.models import Count, Max, Q, Sum
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from jobs.models import Job, Operation, Status
from monitoring import heartbeat
from monitoring.broker import broker_client, monitored_queues, queue_lengths
from vaults.models import ProtectedItem, Vault

log = logging.getLogger(__name__)

# Seconds: a discovery takes seconds, a first backup of a large VM hours.
DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)


class PortalCollector:
    """Collected afresh at each scrape (registered with ``auto_describe=False``, so never at registration)."""

    def collect(self) -> Iterator[Metric]:
        yield jobs_by_status()
        yield job_durations()
        yield from protected_items()
        yield stored_bytes()
        yield from broker_metrics()


def jobs_by_status() -> Metric:
    family = GaugeMetricFamily("portal_jobs", "Jobs in the database, by operation and status.",
                               labels=["operation", "status"])
    # order_by(): the model's default ordering would join the GROUP BY.
    counts = {(row["operation"], row["status"]): row["count"]
              for row in Job.objects.order_by().values("operation", "status").annotate(count=Count("id"))}
    for operation in Operation.values:  # every pair, at 0 too, so a rate or an alert has a series from the start
        for status in Status.values:
            family.add_metric([operation, status], counts.get((operation, status), 0))
    return family


def job_durations() -> Metric:
    family = HistogramMetricFamily("portal_job_duration_seconds", "How long finished jobs took, by operation.",
                                   labels=["operation"])
    buckets = {f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
               for i, bound in enumerate(DURATION_BUCKETS)}
    rows = {row["operation"]: row for row in Job.objects.filter(duration__isnull=False).order_by()
            .values("operation").annotate(total=Count("id"), seconds=Sum("duration"), **buckets)}
    for operation in Operation.values:
        row = rows.get(operation)
        counts = [row[f"le_{i}"] if row else 0 for i in range(len(DURATION_BUCKETS))]
        total = row["total"] if row else 0
        seconds = row["seconds"].total_seconds() if row and row["seconds"] is not None else 0.0
        family.add_metric([operation], [*zip((floatToGoString(bound) for bound in DURATION_BUCKETS), counts, strict=True),
                                        ("+Inf", total)], seconds)
    return family


def protected_items() -> Iterator[Metric]:
    last = GaugeMetricFamily(
        "portal_protected_item_last_backup_timestamp_seconds",
        "When the newest recovery point of each item under protection was taken (unix time); an item with no "
        "point yet has no series.", labels=["subscription", "vault", "item"])
    rows = (ProtectedItem.objects.filter(status__in=ProtectedItem.ACTIVE).order_by()
            .annotate(newest=Max("recovery_points__created")).filter(newest__isnull=False)
            .values_list("vault__subscription__subscription_id", "vault__name", "item__vm__name",
                         "item__vm__cloud_service", "newest"))
    for subscription, vault, vm, service, newest in rows:
        last.add_metric([subscription, vault, f"{vm} ({service})"], newest.timestamp())
    yield last
    by_status = GaugeMetricFamily("portal_protected_items", "Protected items, by vault and status.",
                                  labels=["subscription", "vault", "status"])
    for row in (ProtectedItem.objects.order_by().values("vault__subscription__subscription_id", "vault__name", "status")
                .annotate(count=Count("id"))):
        by_status.add_metric([row["vault__subscription__subscription_id"], row["vault__name"], row["status"]],
                             row["count"])
    yield by_status


def stored_bytes() -> Metric:
    family = GaugeMetricFamily("portal_vault_stored_bytes",
                               "Bytes the vault's store holds, as counted after the last job that changed it "
                               "(the dashboard's storage used).", labels=["subscription", "vault"])
    for subscription, vault, used in Vault.objects.order_by().values_list("subscription__subscription_id", "name",
                                                                          "storage_used"):
        family.add_metric([subscription, vault], used)
    return family


def broker_metrics() -> Iterator[Metric]:
    up = GaugeMetricFamily("portal_redis_up", "Whether the broker (Redis) answered this scrape.")
    queues = monitored_queues()
    client = broker_client()
    try:
        lengths = queue_lengths(client, queues)
        seen = heartbeat.last_seen(client, queues)
    except redis.RedisError as error:
        log.warning("metrics: the broker did not answer: %s", error)
        up.add_metric([], 0)
        yield up
        return
    finally:
        client.close()
    up.add_metric([], 1)
    yield up
    depth = GaugeMetricFamily("portal_queue_length", "Messages waiting in the Celery queue.", labels=["queue"])
    for queue, length in lengths.items():
        depth.add_metric([queue], length)
    yield depth
    age = GaugeMetricFamily("portal_worker_heartbeat_age_seconds",
                            "Seconds since each worker last beat, by the queue it consumes.", labels=["worker", "queue"])
    now = time.time()
    for queue, workers in seen.items():
        for worker, when in sorted(workers.items()):
            age.add_metric([worker, queue], max(0.0, now - when))
    yield age
