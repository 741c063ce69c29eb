"""Benchmark of the backup scheduler: 10,000 protected items due in the same minute.

Run with the project's virtualenv from the repository root::

    .venv/bin/python bench/scheduler.py [--items 10000] [--per-service 4]

It builds its own SQLite database under var/bench/ (never the portal's) with
50 vaults of 200 protected VMs (the per-vault limit), ``--per-service`` VMs
per cloud service so the stagger lets every one start in the first tick, and
one daily policy per vault due at 03:00 UTC. Jobs are sent to a private Redis
database (``BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/13``) whose
queue is purged afterwards; without Redis the sends fail fast and are counted.

Ticks measured, with the clock frozen:

- ``enqueue``: 03:00:10, every item due: claims and Backup jobs for all;
- ``repeat``: the same minute again (a second beat): nothing to claim;
- ``next_minute``: 03:01, nothing new: the steady cost of a tick;
- ``next_day``: 03:00 the day after, the backups finished: all due again.

Target: ``enqueue_10000_s`` under 60 s, and the ticks with nothing to do flat
(their time independent of how many jobs exist).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB_PATH = BENCH_DIR / "scheduler.sqlite3"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

sys.path.insert(0, str(ROOT))
from bench.common import fresh_django  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
os.environ["VAR_DIR"] = str(BENCH_DIR)
os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
os.environ["REDIS_URL"] = REDIS_URL

VMS_PER_VAULT = 200


def setup_django() -> None:
    fresh_django(DB_PATH)


def seed(count: int, per_service: int) -> None:
    from django.utils import timezone

    from vaults.models import Policy, ProtectedItem, RegisteredItem, Subscription, Vault, VirtualMachine
    from vaults.policy import rules, stored

    subscription = Subscription.objects.create(name="Bench subscription", subscription_id="bench", host="127.0.0.1:1")
    definition = stored.policy_to_dict(rules.Policy("Nightly", rules.Schedule.daily(rules.time(3, 0)),
                                                   (rules.DailyRetention(30),)))
    configured = datetime(2026, 1, 1, tzinfo=UTC)
    now = timezone.now()
    vault_count = -(-count // VMS_PER_VAULT)
    for v in range(vault_count):
        vault = Vault.objects.create(subscription=subscription, name=f"bench-{v}", region="East US",
                                     status=Vault.Status.ACTIVE)
        policy = Policy.objects.create(vault=vault, name="Nightly", definition=definition)
        size = min(VMS_PER_VAULT, count - v * VMS_PER_VAULT)
        vms = VirtualMachine.objects.bulk_create([
            VirtualMachine(subscription=subscription, cloud_service=f"svc-{v}-{n // per_service}", name=f"vm-{v}-{n}",
                           deployment="d", region="East US", last_seen=now, power_state="Started", has_agent=True)
            for n in range(size)])
        items = RegisteredItem.objects.bulk_create([
            RegisteredItem(vault=vault, vm=vm, status=RegisteredItem.Status.REGISTERED) for vm in vms])
        ProtectedItem.objects.bulk_create([
            ProtectedItem(item=item, vault=vault, policy=policy, status=ProtectedItem.Status.PROTECTED,
                          configured=configured) for item in items])


def measure(label: str, moment: datetime) -> tuple[str, float, dict]:
    import time_machine

    from vaults.operations import scheduler

    with time_machine.travel(moment, tick=False):
        start = time.perf_counter()
        result = scheduler.tick()
        elapsed = time.perf_counter() - start
    return label, elapsed, result.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--per-service", type=int, default=4)
    args = parser.parse_args()

    setup_django()
    from jobs import queue
    from jobs.models import Job, Operation, Status

    queue.set_broker_url(REDIS_URL)
    seed(args.items, args.per_service)

    ticks = [measure("enqueue", datetime(2026, 3, 2, 3, 0, 10, tzinfo=UTC)),
             measure("repeat", datetime(2026, 3, 2, 3, 0, 40, tzinfo=UTC)),
             measure("next_minute", datetime(2026, 3, 2, 3, 1, 10, tzinfo=UTC))]
    jobs = Job.objects.filter(operation=Operation.BACKUP).count()
    Job.objects.filter(operation=Operation.BACKUP).update(status=Status.COMPLETED)
    ticks.append(measure("next_day", datetime(2026, 3, 3, 3, 0, 10, tzinfo=UTC)))
    ticks.append(measure("next_day_next_minute", datetime(2026, 3, 3, 3, 1, 10, tzinfo=UTC)))
    try:
        queue._override.control.purge()  # the bench's jobs never reach a worker
    except Exception as error:  # no Redis: nothing was queued either
        print(f"(queue not purged: {error})")

    print(f"{'tick':<22}{'seconds':>10}{'due':>8}{'claimed':>9}{'started':>9}{'waiting':>9}")
    for label, elapsed, counts in ticks:
        print(f"{label:<22}{elapsed:>10.3f}{counts['due']:>8}{counts['claimed']:>9}{counts['started']:>9}"
              f"{counts['waiting']:>9}")
    figures = {
        "items": args.items,
        "enqueue_10000_s": round(ticks[0][1], 3) if args.items == 10_000 else None,
        "enqueue_s": round(ticks[0][1], 3),
        "jobs_after_first_day": jobs,
        "ticks": {label: {"seconds": round(elapsed, 3), **counts} for label, elapsed, counts in ticks},
    }
    (BENCH_DIR / "scheduler.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"enqueued {jobs} backups for {args.items} items; wrote {BENCH_DIR / 'scheduler.json'}")


if __name__ == "__main__":
    main()
