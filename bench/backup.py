"""Backup benchmark, side by side on one image: this project through the lab fabric, restic, borg, and the limits.

    .venv/bin/python bench/backup.py [--size-gib 4] [--keep]

The image (bench/store.py's ``build_image``) is 4 GiB: per 1 MiB block 45%
never written, 30% text-like, 25% random. Then, in one run:

* **project**: a lab fabric of its own (``manage.py fabric seed`` and ``fabric
  serve`` on a free port, with VAR_DIR under var/bench/backup/) and a private
  Redis; the image is loaded into the OS disk of fabrikam-app/app02 with
  ``manage.py fabric import-disk``. The VM is discovered, registered and
  protected, then backed up (full), churned 1% (scattered 64 KiB writes, the
  same bytes written to the image file and, through the page API, to the lab
  disk), backed up again (incremental) and restored as a new VM. Every step is
  a real Job run through the same services and job classes the portal uses
  (``Backup.start`` / ``Restore.start``, then the Celery task's ``apply()`` in
  this process): no separate worker process is started, so the process's peak
  RSS is the worker's. Times include the snapshot request through the
  extension and, for restore, re-reading every restored disk to prove its digest
  and creating the VM.
  The project runs twice: into an encrypted vault (what a new vault is) and,
  to show what encryption costs, into an unencrypted one (a vault made before
  encryption), each protecting a VM of its own with only an OS disk.
* **restic** (repository v2, ``--compression auto``; restic always encrypts) and **borg**
  (``--chunker-params fixed,4194304 -C zstd,3``), unencrypted and with ``repokey-blake2``, on the image
  file: full, incremental after the same churn, restore (``--sparse``).
* **limits**: reading the image, SHA-256 of it, ``zstd -1 -T2`` of it.

Before every timed step, of every tool, the page cache is written back
(``sync``), so no step pays for the writes of the one before it. Peak RSS of
restic and borg is each command's own (a wrapper reads RUSAGE_CHILDREN). Writes var/bench/backup.json and prints a table. The work
directory is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import free_port, wait_port  # noqa: E402
from bench.store import build_image, churn, limits  # noqa: E402

GIB = 1 << 30
PY = sys.executable
TOOLS = ("project", "project-unencrypted", "restic", "borg", "borg-repokey")
PEAK = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def _wait_port(port: int) -> None:
    if not wait_port(port):
        raise RuntimeError(f"nothing listens on port {port}")


def settle() -> None:
    """Write back what earlier steps left dirty, so no tool's timed step pays for another step's writes; say the
    load average the next step starts under (these machines are shared: a figure under load is not comparable)."""
    os.sync()
    print(f"  load average before the step: {os.getloadavg()[0]:.2f}", flush=True)


def measured(args: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one command."""
    settle()
    start = time.perf_counter()
    done = subprocess.run([PY, "-c", PEAK, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]}")
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --- the other tools -------------------------------------------------------------

def run_restic(image: Path, work: Path, churned_image) -> dict:
    repo, target = work / "restic-repo", work / "restic-restore"
    env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo), "RESTIC_CACHE_DIR": str(work / "rc")}
    subprocess.run(["restic", "init", "--repository-version", "2"], env=env, check=True, stdout=subprocess.DEVNULL)
    full_s, rss1 = measured(["restic", "backup", "--compression", "auto", str(image)], env)
    churned_image()
    incr_s, rss2 = measured(["restic", "backup", "--compression", "auto", str(image)], env)
    restore_s, rss3 = measured(["restic", "restore", "latest", "--target", str(target)], env)
    stored = dir_bytes(repo)
    shutil.rmtree(target, ignore_errors=True)
    return {"full_s": full_s, "incremental_s": incr_s, "restore_s": restore_s, "stored_bytes": stored,
            "peak_rss_mb": max(rss1, rss2, rss3)}


def run_borg(image: Path, work: Path, churned_image, encryption: str = "none") -> dict:
    repo, target = work / f"borg-repo-{encryption}", work / "borg-restore"
    env = {**os.environ, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_BASE_DIR": str(work / "borg-base"),
           "BORG_PASSPHRASE": "bench-passphrase"}
    subprocess.run(["borg", "init", "-e", encryption, str(repo)], env=env, check=True)
    args = ["--chunker-params", "fixed,4194304", "-C", "zstd,3"]
    full_s, rss1 = measured(["borg", "create", *args, f"{repo}::full", str(image)], env, image.parent)
    churned_image()
    incr_s, rss2 = measured(["borg", "create", *args, f"{repo}::incr", str(image)], env, image.parent)
    target.mkdir(parents=True, exist_ok=True)
    restore_s, rss3 = measured(["borg", "extract", "--sparse", f"{repo}::incr"], env, target)
    stored = dir_bytes(repo)
    shutil.rmtree(target, ignore_errors=True)
    return {"full_s": full_s, "incremental_s": incr_s, "restore_s": restore_s, "stored_bytes": stored,
            "peak_rss_mb": max(rss1, rss2, rss3)}


# --- this project ------------------------------------------------------------------

class Lab:
    """A fabric and a Redis of the bench's own, and this process set up as the portal and its worker."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.var = work / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        self.fabric_port, self.redis_port = free_port(), free_port()
        self.env = {**os.environ, "VAR_DIR": str(self.var), "FABRIC_PORT": str(self.fabric_port),
                    "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "FABRIC_POLL_MS": "100",
                    "DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": f"sqlite:///{self.var / 'bench.sqlite3'}"}
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> str:
        return subprocess.run([PY, str(ROOT / "manage.py"), *args], env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def start(self) -> None:
        logs = open(self.var / "bench-processes.log", "ab")  # noqa: SIM115 - lives as long as the processes
        self.processes.append(subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--save", "", "--appendonly", "no", "--dir", str(self.var)],
            stdout=logs, stderr=subprocess.STDOUT))
        self.subscription_id = self.manage("fabric", "seed").strip().splitlines()[-1].split()[-1]
        self.processes.append(subprocess.Popen(
            [PY, str(ROOT / "manage.py"), "fabric", "serve", "--port", str(self.fabric_port), "--op-delay", "0.05",
             "--agent-delay", "0.05"], env=self.env, stdout=logs, stderr=subprocess.STDOUT))
        _wait_port(self.redis_port)
        _wait_port(self.fabric_port)
        os.environ.update(self.env)
        import django

        django.setup()
        from portal.memory import recycle_large_buffers

        recycle_large_buffers()  # as a worker process does at start (portal/celery.py)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Target:
    """Where the project's run puts the image: a VM with only an OS disk, and the vault that protects it."""

    vault: str
    service: str
    vm: str
    region: str
    account: str
    encrypted: bool


ENCRYPTED = Target("bench", "fabrikam-app", "app02", "West US", "labstorewestus", encrypted=True)
UNENCRYPTED = Target("bench-plain", "northwind-dev", "dev01", "North Europe", "labstorenortheu", encrypted=False)


def run_project(lab: Lab, image: Path, churned_ranges, target: Target) -> dict:
    from celery import current_app
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    import vaults.tasks  # noqa: F401 - registers the job tasks
    from jobs.models import Job, Operation
    from vaults.cloud.pageblob import blob_client
    from vaults.models import ProtectedItem, Subscription, Vault, VirtualMachine
    from vaults.operations.backup import Backup
    from vaults.operations.discovery import Discovery
    from vaults.operations.protection import ConfigureProtection
    from vaults.operations.registration import Register
    from vaults.operations.restore import Restore
    from vaults.policy.defaults import DEFAULT_POLICY_NAME
    from vaults.services.restore import RestoreRequest
    from vaults.services.storage import open_store
    from vaults.services.vaults import create_vault, set_replication

    def run(job: Job) -> Job:
        started = time.perf_counter()
        current_app.tasks[job.task_name].apply(args=[job.pk])
        job.refresh_from_db()
        while job.is_parked:  # a long wait for the fabric: run it again once its pause is over, as a worker would
            time.sleep(max(0.0, (job.resume_at - timezone.now()).total_seconds()))
            current_app.tasks[job.task_name].apply(args=[job.pk])
            job.refresh_from_db()
        if job.status not in ("completed", "completed_with_warnings"):
            raise RuntimeError(f"{job.get_operation_display()} job {job.pk} {job.status}: {job.error_message}")
        steps = ", ".join(f"{step.name} {(step.finished - step.started).total_seconds():.2f} s"
                          for step in job.subtasks.all() if step.finished)
        print(f"  {job.get_operation_display()}: {time.perf_counter() - started:.2f} s ({steps})", flush=True)
        return job

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True,
                                                                                 "is_staff": True})
    subscription, _ = Subscription.objects.get_or_create(subscription_id=lab.subscription_id, defaults={
        "name": "Bench", "host": f"127.0.0.1:{lab.fabric_port}", "protocol": "http"})
    subscription.members.add(user)
    # As a person sets it up: quick create, Locally Redundant (the other tools keep one copy too), discover,
    # register, protect under DefaultPolicy.
    vault = create_vault(user, subscription, target.vault, target.region)
    if not target.encrypted:
        # As a vault made before encryption at rest: no key, so its store stays unencrypted.
        Vault.objects.filter(pk=vault.pk).update(wrapped_key="", key_fingerprint="")
        vault.refresh_from_db()
    set_replication(user, vault, Vault.Replication.LRS)
    run(Discovery.start(user, vault))
    vm = VirtualMachine.objects.get(subscription=subscription, cloud_service=target.service, name=target.vm)
    lab.manage("fabric", "import-disk", f"{target.service}/{target.vm}", "os", str(image), "--url",
               f"http://127.0.0.1:{lab.fabric_port}")
    [outcome] = Register.start_many(user, vault, [vm.pk])
    run(Job.objects.get(item_key=outcome.item.item_key, operation=Operation.REGISTER))
    started, refusals = ConfigureProtection.protect(user, vault, [outcome.item.pk],
                                                    vault.policies.get(name=DEFAULT_POLICY_NAME))
    if refusals:
        raise RuntimeError(f"protection refused: {refusals}")
    run(Job.objects.get(item_key=outcome.item.item_key, operation=Operation.CONFIGURE_PROTECTION))
    item = ProtectedItem.objects.get(item=outcome.item)

    settle()
    start = time.perf_counter()
    full = run(Backup.start(user, item))
    full_s = time.perf_counter() - start
    # The same churn on the lab disk (through the page API) as on the image file.
    url = next(d["media_link"] for d in vm.disks if d["lun"] is None)
    client = blob_client(subscription.endpoint)
    with open(image, "rb") as handle:
        for begin, end in churned_ranges():
            handle.seek(begin)
            client.write_pages(url, begin, handle.read(end - begin))
    settle()
    start = time.perf_counter()
    incremental = run(Backup.start(user, item))
    incremental_s = time.perf_counter() - start
    point = item.recovery_points.order_by("-created").first()
    settle()
    start = time.perf_counter()
    restore = run(Restore.start(user, point, RestoreRequest(f"{target.vm}r", target.service, False, target.account)))
    restore_s = time.perf_counter() - start
    store = open_store(vault)
    assert store.encrypted == target.encrypted
    stored = store.stored_bytes()
    return {"full_s": full_s, "incremental_s": incremental_s, "restore_s": restore_s, "stored_bytes": stored,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "details": {"full": full.properties, "incremental": incremental.properties, "restore": restore.properties}}


def table(results: dict) -> str:
    rows = [f"{'':20} {'full s':>9} {'incr s':>9} {'restore s':>10} {'stored GiB':>11} {'peak RSS MB':>12}"]
    for name in TOOLS:
        r = results[name]
        rows.append(f"{name:20} {r['full_s']:9.2f} {r['incremental_s']:9.2f} {r['restore_s']:10.2f} "
                    f"{r['stored_bytes'] / GIB:11.3f} {r['peak_rss_mb']:12.0f}")
    lim = results["limits"]
    rows.append(f"limits: read {lim['read_s']:.2f} s, sha256 {lim['sha256_s']:.2f} s, zstd -1 -T2 {lim['zstd_s']:.2f} s")
    p, rs, b = results["project"], results["restic"], results["borg"]
    # Two decimals: a target of 2x is not met by 1.96x, however it rounds.
    rows.append(f"ratios: full vs borg {b['full_s'] / p['full_s']:.2f}x, vs restic {rs['full_s'] / p['full_s']:.2f}x; "
                f"incremental vs borg {b['incremental_s'] / p['incremental_s']:.2f}x, vs restic "
                f"{rs['incremental_s'] / p['incremental_s']:.2f}x; restore vs restic {rs['restore_s'] / p['restore_s']:.2f}x; "
                f"stored vs borg {p['stored_bytes'] / b['stored_bytes']:.2f}")
    plain, keyed = results["project-unencrypted"], results["borg-repokey"]
    rows.append(f"encryption: project full {p['full_s'] / plain['full_s']:.2f}x the time unencrypted, incremental "
                f"{p['incremental_s'] / plain['incremental_s']:.2f}x, restore {p['restore_s'] / plain['restore_s']:.2f}x; "
                f"encrypted, full vs borg repokey-blake2 {keyed['full_s'] / p['full_s']:.2f}x, incremental "
                f"{keyed['incremental_s'] / p['incremental_s']:.2f}x, restore {keyed['restore_s'] / p['restore_s']:.2f}x")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=4)
    parser.add_argument("--keep", action="store_true", help="keep var/bench/backup/ (image, repositories, lab)")
    parser.add_argument("--project-only", action="store_true", help="skip restic, borg and the limits (for tuning)")
    parser.add_argument("--unencrypted-first", action="store_true",
                        help="run the unencrypted vault before the encrypted one (to see what the order costs)")
    options = parser.parse_args()
    bench_dir = ROOT / "var" / "bench"
    work = bench_dir / "backup"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    size = int(options.size_gib * GIB)
    pristine = work / "image.raw"
    print(f"building a {options.size_gib:g} GiB image ...", flush=True)
    build_image(pristine, size)
    results: dict = {}
    if not options.project_only:
        results["limits"] = limits(pristine)
        print("limits:", results["limits"], flush=True)

    def fresh_copy(name: str) -> Path:
        copy = work / name
        subprocess.run(["cp", "--sparse=always", str(pristine), str(copy)], check=True)
        return copy

    churn_log: dict[str, list] = {}

    def churner(path: Path):
        def apply() -> list[tuple[int, int]]:
            churn_log[path.name] = churn(path, 1.0, seed=11)
            return churn_log[path.name]
        return apply

    lab = Lab(work / "lab")
    try:
        lab.start()
        order = [("project", ENCRYPTED), ("project-unencrypted", UNENCRYPTED)]
        for name, target in reversed(order) if options.unencrypted_first else order:
            image = fresh_copy(f"{name}.raw")
            print(f"{name} ...", flush=True)
            results[name] = run_project(lab, image, churner(image), target)
            image.unlink()
            print(f"{name}:", {k: v for k, v in results[name].items() if k != "details"}, flush=True)
    finally:
        lab.stop()
    if options.project_only:
        shutil.rmtree(work, ignore_errors=True)
        return
    image = fresh_copy("restic.raw")
    print("restic ...", flush=True)
    results["restic"] = run_restic(image, work, churner(image))
    image.unlink()
    print("restic:", results["restic"], flush=True)
    for name, encryption in (("borg", "none"), ("borg-repokey", "repokey-blake2")):
        image = fresh_copy(f"{name}.raw")
        print(f"{name} ...", flush=True)
        results[name] = run_borg(image, work, churner(image), encryption)
        image.unlink()
        print(f"{name}:", results[name], flush=True)
    assert len({tuple(map(tuple, ranges)) for ranges in churn_log.values()}) == 1, "every tool saw the same churn"
    for name in TOOLS:
        for key in ("full_s", "incremental_s", "restore_s", "peak_rss_mb"):
            results[name][key] = round(results[name][key], 3)
    results["image"] = {"size_bytes": size, "never_written": 0.45, "text_like": 0.30, "random": 0.25,
                        "churn": "1% in scattered 64 KiB writes"}
    (bench_dir / "backup.json").write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
