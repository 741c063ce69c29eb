"""Benchmark of discovery and registration at scale, through the lab fabric and real Celery workers.

Run with the project's virtualenv from the repository root::

    .venv/bin/python bench/discovery.py [--vms 5000] [--register 1000] [--workers 2] [--concurrency 8]

It seeds a lab of ``--vms`` VMs (ten per cloud service, so 500 services for
5,000 VMs, spread over three regions), serves it on a free port with the
fabric's default latency, and uses its own SQLite database and Redis database
(REDIS_URL, default db 14) under var/bench/discovery/.

- ``discover_5000_s``: the discovery jobs' work (List Hosted Services, then
  every service's details with bounded concurrency, then batched writes) for
  all three regions, so every VM of the lab is discovered once.
- ``register_1000_s``: one "click" registering ``--register`` VMs makes that
  many Register jobs; the time until the last of them completed, run by
  ``--workers`` Celery worker processes.

Prints a table and writes var/bench/discovery.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench" / "discovery"
DB_PATH = BENCH_DIR / "portal.sqlite3"
SUBSCRIPTION_ID = "0b3e5c1d-5000-4000-8000-00000000b001"

sys.path.insert(0, str(ROOT))
from bench.common import free_port, wait_port  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
os.environ["VAR_DIR"] = str(BENCH_DIR)
os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def start(args: list[str], log: str) -> subprocess.Popen:
    handle = open(BENCH_DIR / log, "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(args, cwd=ROOT, env=dict(os.environ), stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=5000)
    parser.add_argument("--register", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8, help="processes per worker")
    options = parser.parse_args()

    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # a queue of our own, empty

    manage = [sys.executable, "manage.py", "fabric"]
    subprocess.run([*manage, "seed", "--subscription-id", SUBSCRIPTION_ID, "--vms", str(options.vms)], cwd=ROOT,
                   check=True, capture_output=True)
    port = free_port()
    fabric = start([*manage, "serve", "--port", str(port)], "fabric.log")
    workers = [start([sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "WARNING",
                      "--concurrency", str(options.concurrency), "--hostname", f"bench{n}@%h",
                      "--without-mingle", "--without-gossip"], f"worker{n}.log")
               for n in range(options.workers)]
    try:
        if not wait_port(port):
            raise TimeoutError(f"the fabric does not listen on {port}")
        results = run(options, f"127.0.0.1:{port}")
    finally:
        for process in (*workers, fabric):
            stop(process)
    print_table(results)
    out = ROOT / "var" / "bench" / "discovery.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


def run(options, host: str) -> dict:
    from django.contrib.auth.models import User

    from jobs.models import Job, Status
    from vaults.cloud.hosted import fetch_region
    from vaults.models import Subscription, VirtualMachine
    from vaults.operations.registration import Register
    from vaults.services.discovery import record
    from vaults.services.vaults import create_vault

    user = User.objects.create_superuser("bench", password=None)
    subscription = Subscription.objects.create(name="Bench lab", subscription_id=SUBSCRIPTION_ID, host=host)
    subscription.members.add(user)
    vaults = [create_vault(user, subscription, f"bench-{n}", region)
              for n, region in enumerate(("East US", "West US", "North Europe"))]

    started = time.perf_counter()
    per_region = {}
    for vault in vaults:
        t0 = time.perf_counter()
        found = fetch_region(subscription.endpoint, vault.region)
        counts = record(vault, found)
        per_region[vault.region] = {"vms": counts["found"], "seconds": round(time.perf_counter() - t0, 2)}
    discover_s = time.perf_counter() - started
    discovered = VirtualMachine.objects.count()

    east = vaults[0]
    candidates = list(VirtualMachine.objects.filter(region=east.region, cloud_service__startswith="scale-")
                      .values_list("pk", flat=True)[: options.register])
    click = time.perf_counter()
    outcomes = Register.start_many(user, east, candidates)
    jobs = Job.objects.filter(operation="register")
    made = jobs.count()
    deadline = time.monotonic() + 1800
    while jobs.exclude(status__in=[Status.COMPLETED, Status.COMPLETED_WITH_WARNINGS, Status.FAILED,
                                   Status.CANCELLED]).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("registration did not finish within 30 minutes")
        time.sleep(0.5)
    register_s = time.perf_counter() - click
    return {
        "vms": options.vms,
        "cloud_services": options.vms // 10,
        "discovered": discovered,
        "discover_5000_s": round(discover_s, 2),
        "discover_per_region": per_region,
        "register_requested": len(candidates),
        "register_refused": sum(1 for o in outcomes if o.refusal),
        "register_jobs": made,
        "register_completed": jobs.filter(status=Status.COMPLETED).count(),
        "register_failed": jobs.filter(status=Status.FAILED).count(),
        "register_1000_s": round(register_s, 2),
        "workers": options.workers,
        "worker_concurrency": options.concurrency,
    }


def print_table(results: dict) -> None:
    rows = [
        ("VMs discovered (all regions)", f"{results['discovered']:,}"),
        ("discovery, all regions", f"{results['discover_5000_s']:.2f} s"),
        *[(f"  {region}", f"{r['vms']:,} VMs in {r['seconds']:.2f} s") for region, r in
          results["discover_per_region"].items()],
        ("Register jobs made by one click", f"{results['register_jobs']:,}"),
        ("  completed / failed", f"{results['register_completed']:,} / {results['register_failed']:,}"),
        (f"registration, {results['workers']} workers x {results['worker_concurrency']}",
         f"{results['register_1000_s']:.2f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
