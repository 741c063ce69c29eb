"""Lab fabric benchmark: snapshot and diff of a 16 GiB disk with 1% churn, and ranged reads over loopback.

Run with the project's virtualenv: ``.venv/bin/python bench/fabric.py``. It
starts its own fabric (state under ``var/bench/fabric-state/fabric``), prints a
table and writes ``var/bench/fabric.json`` (``snapshot_s``, ``diff_s``,
``read_mb_s`` and a few more figures).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import free_port, wait_port  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from vaults.cloud.pageblob import PageBlobClient  # noqa: E402

GIB, MIB = 1 << 30, 1 << 20
DISK = 16 * GIB
FILLED = 512 * MIB  # data already on the disk before the first snapshot
CHURN = DISK // 100  # 1% of the disk rewritten between the two snapshots
WRITE = 64 * 1024
READ_PIECE = 8 * MIB


def start_fabric(var_dir: Path) -> tuple[subprocess.Popen, str]:
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    env = {**os.environ, "VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    manage = [sys.executable, str(ROOT / "manage.py"), "fabric"]
    subprocess.run([*manage, "seed"], env=env, cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen([*manage, "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait_port(port, 30):
        return process, f"http://127.0.0.1:{port}"
    process.kill()
    raise RuntimeError("the fabric did not start")


def timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    var_dir = ROOT / "var" / "bench" / "fabric-state"
    process, base = start_fabric(var_dir)
    disks = PageBlobClient(timeout=(5, 300))
    url = f"{base}/labstoreeastus/bench/disk16.vhd"
    try:
        rng = random.Random(1)
        disks.create(url, DISK)
        block = rng.randbytes(4 * MIB)
        fill_s, _ = timed(lambda: [disks.write_pages(url, offset, block) for offset in range(0, FILLED, len(block))])
        base_snapshot = disks.snapshot(url)

        payload = rng.randbytes(WRITE)
        offsets = [rng.randrange(DISK // WRITE) * WRITE for _ in range(CHURN // WRITE)]
        churn_s, _ = timed(lambda: [disks.write_pages(url, offset, payload) for offset in offsets])

        snapshot_s, snapshot = timed(lambda: disks.snapshot(url))
        diff_s, changed = timed(lambda: disks.page_ranges(url, snapshot=snapshot, prev_snapshot=base_snapshot))
        changed_bytes = sum(end - start for start, end in changed)

        buffer = memoryview(bytearray(READ_PIECE))
        total = 2 * FILLED

        def read_all() -> None:
            for _ in range(total // FILLED):
                for offset in range(0, FILLED, READ_PIECE):
                    disks.read_into(url, offset, buffer, snapshot=snapshot)

        read_s, _ = timed(read_all)
        sparse_s, _ = timed(lambda: [disks.read_into(url, DISK - GIB + offset, buffer) for offset in range(0, GIB, READ_PIECE)])
    finally:
        process.terminate()
        process.wait(15)
        shutil.rmtree(var_dir, ignore_errors=True)

    figures = {
        "snapshot_s": round(snapshot_s, 4),
        "diff_s": round(diff_s, 4),
        "read_mb_s": round(total / MIB / read_s, 1),
        "sparse_read_mb_s": round(GIB / MIB / sparse_s, 1),
        "write_mb_s": round(FILLED / MIB / fill_s, 1),
        "churn_writes_per_s": round(len(offsets) / churn_s, 1),
        "disk_gib": DISK // GIB,
        "churn_bytes": CHURN,
        "diff_changed_bytes": changed_bytes,
        "diff_ranges": len(changed),
    }
    out = ROOT / "var" / "bench" / "fabric.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(map(len, figures))
    print(f"{'figure':<{width}}  value")
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
