"""Benchmark of the REST API's keyset paging: GET /api/v1/jobs with 100,000 jobs, the first page and a deep one.

Run with the project's virtualenv from the repository root::

    .venv/bin/python bench/api.py [--jobs 100000] [--requests 30]

It builds its own SQLite database under var/bench/ (never the portal's), makes 100,000 jobs (one in ten in a
second subscription), and calls the API through Django's test client with a personal access token of a member of
the first subscription, and of a member of both. It prints the median and p95 of each page, the load average
before and after, and SQLite's plan for the deep page's query, and writes var/bench/api.json.

Target: a deep or filtered page costs what the first one does (keyset paging along an index), about 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB_PATH = BENCH_DIR / "api.sqlite3"

sys.path.insert(0, str(ROOT))
from bench.common import fresh_django  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
os.environ["VAR_DIR"] = str(BENCH_DIR)
os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def seed(count: int):
    """A subscription with two vaults and a member, another subscription, and ``count`` jobs over 60 days."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from jobs.models import ACTIVE, Job, Operation, Status
    from vaults.models import Subscription, Vault

    subscription = Subscription.objects.create(name="Bench subscription", subscription_id="bench", host="127.0.0.1:1")
    vaults = [Vault.objects.create(subscription=subscription, name=f"bench-{n}", region="East US") for n in (1, 2)]
    user = User.objects.create_user("bench", password="bench-password-1")  # noqa: S106 - a throwaway bench user
    subscription.members.add(user)
    other = Subscription.objects.create(name="Other", subscription_id="other", host="127.0.0.1:1")
    both = User.objects.create_user("bench-both", password="bench-password-1")  # noqa: S106 - a member of both
    subscription.members.add(both)
    other.members.add(both)
    rng = random.Random(4)
    now = timezone.now()
    statuses = [Status.COMPLETED] * 14 + [Status.FAILED, Status.COMPLETED_WITH_WARNINGS, Status.CANCELLED]
    operations = list(Operation.values)
    batch = []
    for n in range(count):
        created = now - timedelta(seconds=(count - n) * 60 * 86400 / count)  # ids grow with time, as they do
        status = rng.choice(statuses) if n % 500 != 1 else Status.IN_PROGRESS  # 1 in 500 running, ours
        run = timedelta(seconds=rng.uniform(5, 3600))
        batch.append(Job(
            operation=rng.choice(operations), status=status, subscription=other if n % 10 == 0 else subscription,
            vault=vaults[n % 2], item_type="vm", item_key=f"vm:{n}", item_name=f"vm-{n % 3000:04d}",
            requested_by=user, task_name="bench.none", created=created, started=created,
            finished=None if status in ACTIVE else created + run, duration=None if status in ACTIVE else run,
            progress=100 if status not in ACTIVE else 50, error_code="X" if status == Status.FAILED else ""))
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    Job.objects.bulk_create(batch)
    return user, other


def time_page(client, url: str, requests: int) -> tuple[list[float], int]:
    times, rows = [], 0
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:300]
        rows = len(response.json()["items"])
    return times, rows


def deep_url(client, url: str, depth: int) -> str:
    """The URL of the page ``depth`` rows into the unfiltered list, as following ``next`` links gets it (its cursor
    made from the id at that depth, in the API's own encoding, rather than by 1,600 requests)."""
    from api.paging import encode
    from jobs.models import Job
    from vaults.models import Subscription

    visible = Subscription.objects.filter(members__username="bench").values_list("pk", flat=True)
    rows = Job.objects.filter(subscription_id__in=list(visible)).order_by("-pk").values_list("pk", flat=True)
    return f"{url}&cursor={encode(rows[depth - 1])}"


def last_page_url(client, url: str) -> str:
    """The last page of a filtered list, reached by following its ``next`` links."""
    while True:
        following = client.get(url).json()["next"]
        if following is None:
            return url
        url = following


def plan(sql_params) -> str:
    from django.db import connection

    sql, params = sql_params
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(row[-1] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    fresh_django(DB_PATH)
    from django.contrib.auth.models import User
    from django.test import Client

    from api import tokens

    started = time.perf_counter()
    user, _other = seed(args.jobs)
    seeded = time.perf_counter() - started
    _token, secret = tokens.create_token(user, "bench", 1)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")

    cases = [("first page", "/api/v1/jobs?limit=50"),
             ("first page, status=failed", "/api/v1/jobs?limit=50&status=failed"),
             ("first page, status=in_progress", "/api/v1/jobs?limit=50&status=in_progress"),
             ("first page, status=active", "/api/v1/jobs?limit=50&status=active"),
             ("first page, operation=backup", "/api/v1/jobs?limit=50&operation=backup")]
    deep_cases = [(f"page {int(args.jobs * 0.8):,} rows in", deep_url(client, cases[0][1], int(args.jobs * 0.8)))]
    for label, url in cases[1:]:
        last = last_page_url(client, url)
        deep_cases.append((label.replace("first page", "last page"), last))

    # A member of both subscriptions: the list spans two (one index walk each, merged).
    _token, secret_both = tokens.create_token(User.objects.get(username="bench-both"), "bench", 1)
    both = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret_both}")
    both_cases = [("two subscriptions: first page", "/api/v1/jobs?limit=50"),
                  ("two subscriptions: status=in_progress", "/api/v1/jobs?limit=50&status=in_progress")]

    load_before = os.getloadavg()
    results = {}
    for label, url in [*cases, *deep_cases]:
        client.get(url)  # warm the cache of that page's index pages
        times, rows = time_page(client, url, args.requests)
        results[label] = {"median_ms": round(statistics.median(times), 2), "p95_ms": round(p95(times), 2), "rows": rows}
    for label, url in both_cases:
        both.get(url)
        times, rows = time_page(both, url, args.requests)
        results[label] = {"median_ms": round(statistics.median(times), 2), "p95_ms": round(p95(times), 2), "rows": rows}
    load_after = os.getloadavg()

    from jobs.models import Job
    from vaults.models import Subscription

    visible = list(Subscription.objects.filter(members=user).values_list("pk", flat=True))
    deep_query = Job.objects.filter(subscription_id__in=visible, pk__lt=1000).order_by("-pk")[:51].query
    query_plan = plan(deep_query.sql_with_params())

    print(f"{args.jobs:,} jobs seeded in {seeded:.1f}s; {args.requests} requests per page; Django test client, token")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"{'GET /api/v1/jobs':<48} {'median ms':>10} {'p95 ms':>10} {'rows':>6}")
    for label, figures in results.items():
        print(f"{label:<48} {figures['median_ms']:>10.2f} {figures['p95_ms']:>10.2f} {figures['rows']:>6}")
    print(f"plan of a deep page: {query_plan}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "api.json").write_text(json.dumps({
        "jobs": args.jobs, "requests": args.requests, "load_before": load_before, "load_after": load_after,
        "pages": results, "deep_page_plan": query_plan}, indent=2))


if __name__ == "__main__":
    main()
