"""Benchmark of the jobs part: the Jobs page with 100,000 jobs, event latency, 200 SSE clients.

Run with the project's virtualenv from the repository root::

    .venv/bin/python bench/jobs.py [--jobs 100000] [--requests 60] [--events 100] [--clients 200]

It builds its own SQLite database under var/bench/ (never the portal's),
starts one uvicorn process on it for the event measurements, prints a table
and writes var/bench/jobs.json (page_p95_ms, filtered_p95_ms, event_p95_ms,
sse_clients, sse_all_received, with medians and memory).

Targets: page p95 < 150 ms on SQLite; event p95 < 300 ms; every one of 200
clients receives every event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB_PATH = BENCH_DIR / "jobs.sqlite3"

sys.path.insert(0, str(ROOT))
from bench.common import free_port, fresh_django, wait_port  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
os.environ["VAR_DIR"] = str(BENCH_DIR)
os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def setup_django() -> None:
    fresh_django(DB_PATH)


def seed(count: int):
    """One subscription with two vaults, a member, and ``count`` jobs spread over 60 days."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from jobs.models import ACTIVE, Job, Operation, Status
    from vaults.models import Subscription, Vault

    subscription = Subscription.objects.create(name="Bench subscription", subscription_id="bench", host="127.0.0.1:1")
    vaults = [Vault.objects.create(subscription=subscription, name=f"bench-{n}", region="East US") for n in (1, 2)]
    user = User.objects.create_user("bench", password="bench-password-1")  # noqa: S106 - a throwaway bench user
    subscription.members.add(user)
    other = Subscription.objects.create(name="Other", subscription_id="other", host="127.0.0.1:1")
    rng = random.Random(4)
    now = timezone.now()
    statuses = [Status.COMPLETED] * 14 + [Status.FAILED, Status.COMPLETED_WITH_WARNINGS, Status.CANCELLED]
    operations = list(Operation.values)
    batch: list[Job] = []
    for n in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 60 * 86400))
        status = rng.choice(statuses) if n % 500 else Status.IN_PROGRESS
        run = timedelta(seconds=rng.uniform(5, 3600))
        batch.append(Job(
            operation=rng.choice(operations), status=status, subscription=other if n % 10 == 0 else subscription,
            vault=vaults[n % 2], item_type="vm", item_key=f"vm:{n}", item_name=f"vm-{n % 3000:04d}",
            requested_by=user, task_name="bench.none", created=created, started=created,
            finished=None if status in ACTIVE else created + run, duration=None if status in ACTIVE else run,
            progress=100 if status not in ACTIVE else 50, error_code="X" if status == Status.FAILED else "",
        ))
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch.clear()
    Job.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user, vaults


def time_page(client, url: str, requests: int) -> list[float]:
    for _ in range(3):
        assert client.get(url).status_code == 200
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return timings


# --- the web process -----------------------------------------------------

def start_uvicorn(port: int) -> subprocess.Popen:
    log = open(BENCH_DIR / "uvicorn.log", "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    if wait_port(port, 30):
        return process
    process.kill()
    raise RuntimeError("uvicorn did not start; see var/bench/uvicorn.log")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def session_cookie(user) -> dict[str, str]:
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def measure_event_latency(base: str, cookies: dict[str, str], user, vault, count: int) -> list[float]:
    """Time from a committed job transition to an SSE client reading it."""
    import httpx
    from django.db import transaction

    from jobs import live
    from jobs.models import Job

    received: dict[str, float] = {}
    ready = threading.Event()

    def listen() -> None:
        stream_timeout = httpx.Timeout(10.0, read=None)  # an event stream is silent between events
        with httpx.Client(cookies=cookies, timeout=stream_timeout) as client, client.stream("GET", f"{base}/events/") as stream:
            event = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "ready":
                        ready.set()
                elif line.startswith("data: ") and event == "job":
                    data = json.loads(line[6:])
                    received.setdefault(f"{data['job']}:{data['status']}", time.perf_counter())
                    if len(received) >= count:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("the SSE client did not connect")
    committed: dict[str, float] = {}
    for n in range(count // 2):
        job = Job.objects.create(operation="backup", subscription=vault.subscription, vault=vault, item_type="vm",
                                 item_key=f"bench-latency:{n}", item_name=f"lat-{n}", requested_by=user,
                                 task_name="bench.none")
        for move, status in ((lambda job=job: job.claim("bench"), "in_progress"), (job.complete, "completed")):
            with transaction.atomic():
                move()
                # Registered before the publish, so it runs first, right after COMMIT.
                transaction.on_commit(lambda key=f"{job.pk}:{status}": committed.__setitem__(key, time.perf_counter()))
                live.publish(job)
            time.sleep(0.02)
    thread.join(15)
    return [(received[key] - at) * 1000 for key, at in committed.items() if key in received]


async def fan_out(base: str, cookies: dict[str, str], user_id: int, clients: int, events: int, pid: int) -> dict:
    """``clients`` SSE connections on one web process; every one must receive every event."""
    import httpx

    from portal import events as portal_events

    counts = [0] * clients
    ready = [asyncio.Event() for _ in range(clients)]
    rss_before = rss_mb(pid)

    async def client(index: int, http: httpx.AsyncClient) -> None:
        async with http.stream("GET", f"{base}/events/") as stream:
            event = None
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "ready":
                        ready[index].set()
                elif line.startswith("data: ") and event == "notify" and '"bench"' in line:
                    counts[index] += 1
                    if counts[index] >= events:
                        return

    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=0)
    stream_timeout = httpx.Timeout(30.0, read=None)  # an event stream is silent between events
    async with httpx.AsyncClient(cookies=cookies, timeout=stream_timeout, limits=limits) as http:
        tasks = [asyncio.create_task(client(i, http)) for i in range(clients)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 120)
        rss_connected = rss_mb(pid)
        for n in range(events):
            portal_events.publish_now([f"user:{user_id}"], "notify", {"id": "bench", "text": f"event {n}", "n": n})
            await asyncio.sleep(0.05)
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        except TimeoutError:
            for task in tasks:
                task.cancel()
    return {"clients": clients, "all_received": all(c == events for c in counts), "min_received": min(counts),
            "events": events, "rss_before_mb": round(rss_before, 1), "rss_connected_mb": round(rss_connected, 1),
            "memory_per_client_kb": round((rss_connected - rss_before) * 1024 / clients, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()

    setup_django()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per SSE connection otherwise
    from django.test import Client
    from django.utils import timezone

    started = time.perf_counter()
    user, vaults = seed(args.jobs)
    seed_seconds = time.perf_counter() - started

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    default = time_page(client, "/jobs/", args.requests)
    start = (timezone.now() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    end = timezone.now().strftime("%Y-%m-%dT%H:%M")
    filtered_url = f"/jobs/?status=failed&operation=backup&start={start}&end={end}"
    filtered = time_page(client, filtered_url, args.requests)
    sorted_view = time_page(client, "/jobs/?sort=-duration", args.requests)
    vault_view = time_page(client, f"/jobs/?vault={vaults[0].pk}&item=vm-01&sort=item", args.requests)

    port = free_port()
    process = start_uvicorn(port)
    base = f"http://127.0.0.1:{port}"
    try:
        cookies = session_cookie(user)
        latencies = measure_event_latency(base, cookies, user, vaults[0], args.events)
        fan = asyncio.run(fan_out(base, cookies, user.pk, args.clients, 20, process.pid))
    finally:
        process.terminate()
        process.wait(10)

    results = {
        "jobs": args.jobs, "seed_seconds": round(seed_seconds, 1),
        "page_median_ms": round(statistics.median(default), 1), "page_p95_ms": round(p95(default), 1),
        "filtered_median_ms": round(statistics.median(filtered), 1), "filtered_p95_ms": round(p95(filtered), 1),
        "sorted_duration_p95_ms": round(p95(sorted_view), 1), "vault_item_sorted_p95_ms": round(p95(vault_view), 1),
        "event_median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "event_p95_ms": round(p95(latencies), 1) if latencies else None,
        "events_received": len(latencies), "events_sent": args.events,
        "sse_clients": fan["clients"], "sse_all_received": fan["all_received"],
        "sse_min_events_received": fan["min_received"], "sse_events": fan["events"],
        "sse_rss_before_mb": fan["rss_before_mb"], "sse_rss_connected_mb": fan["rss_connected_mb"],
        "sse_memory_per_client_kb": fan["memory_per_client_kb"],
    }
    (BENCH_DIR / "jobs.json").write_text(json.dumps(results, indent=2) + "\n")
    width = max(map(len, results))
    print(f"{'measure'.ljust(width)}  value")
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")
    print(f"\nwritten to {BENCH_DIR / 'jobs.json'}")


if __name__ == "__main__":
    main()
