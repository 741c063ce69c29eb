"""Benchmark of the vault store engine alone (no fabric, no HTTP): full, incremental, restore, and the machine's limits.

    .venv/bin/python bench/store.py [--size-gib 4] [--chunk-kib 256] [--keep] [--compare]

Builds a sparse raw image under var/bench/ (45% never written, 30% text-like,
25% random, in 1 MiB blocks), backs it up in full from a file source, churns 1%
of it with scattered 64 KiB writes, backs up incrementally (the source reports
exactly the churned ranges, as a page-range diff would), restores to a sparse
file, and measures reading, SHA-256 and ``zstd -1 -T2`` of the same image.
Prints a table and writes var/bench/store.json. ``--compare`` also runs the
chunk-size and hash measurements behind the engine's defaults on a smaller image.
``build_image`` and ``churn`` are importable for bench/backup.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import blake3  # noqa: E402

from vaultstore import FileSink, FileSource, VaultStore  # noqa: E402

MIB = 1 << 20
BLOCK = MIB


# --- the image -----------------------------------------------------------

def text_corpus(rng: random.Random, size: int) -> bytes:
    """Log- and document-like text: a Zipf-ish vocabulary of pseudo-words, numbers and line breaks."""
    syllables = ["ba", "ck", "up", "va", "ul", "t", "re", "co", "ve", "ry", "po", "in", "di", "sk", "er", "on", "an", "st"]
    vocabulary = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    vocabulary += ["INFO", "WARN", "2026-11-24", "GET", "/api/v1/items", "200", "\n", "\n", "\n"]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    words = rng.choices(vocabulary, weights=weights, k=size // 5)
    return " ".join(words).encode()[:size]


def build_image(path: Path, size: int, seed: int = 7) -> dict[str, int]:
    """A sparse image: per 1 MiB block, 45% never written, 30% text-like, 25% random (exact counts, shuffled)."""
    rng = random.Random(seed)
    blocks = size // BLOCK
    kinds = ["zero"] * (blocks * 45 // 100) + ["text"] * (blocks * 30 // 100)
    kinds += ["random"] * (blocks - len(kinds))
    rng.shuffle(kinds)
    corpus = text_corpus(rng, 32 * MIB)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)
        for index, kind in enumerate(kinds):
            if kind == "random":
                os.pwrite(fd, os.urandom(BLOCK), index * BLOCK)
            elif kind == "text":
                # 16 KiB slices from random places of the corpus: compressible like text, never identical blocks.
                starts = [rng.randrange(0, len(corpus) - 16384) for _ in range(BLOCK // 16384)]
                os.pwrite(fd, b"".join(corpus[start:start + 16384] for start in starts), index * BLOCK)
        os.fsync(fd)
    finally:
        os.close(fd)
    return {kind: kinds.count(kind) * BLOCK for kind in ("zero", "text", "random")}


def churn(path: Path, percent: float, seed: int = 11, write: int = 64 << 10) -> list[tuple[int, int]]:
    """Scattered random 64 KiB writes over ``percent`` of the image; returns the ranges written."""
    rng = random.Random(seed)
    size = path.stat().st_size
    slots = rng.sample(range(size // write), int(size * percent / 100) // write)
    fd = os.open(path, os.O_WRONLY)
    try:
        for slot in slots:
            os.pwrite(fd, os.urandom(write), slot * write)
        os.fsync(fd)
    finally:
        os.close(fd)
    return sorted((slot * write, slot * write + write) for slot in slots)


# --- measurements --------------------------------------------------------

def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def read_all(path: Path, hasher=None) -> None:
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(8 * MIB)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            if hasher is not None:
                hasher.update(view[:count])


def limits(image: Path) -> dict[str, float]:
    read_s, _ = timed(read_all, image)
    sha_s, _ = timed(read_all, image, hashlib.sha256())
    zstd_s, _ = timed(subprocess.run, ["/usr/bin/zstd", "-1", "-T2", "-q", "-c", str(image)], stdout=subprocess.DEVNULL,
                      check=True)
    return {"read_s": round(read_s, 3), "sha256_s": round(sha_s, 3), "zstd_s": round(zstd_s, 3)}


def hash_speeds(sample: bytes, chunk: int) -> dict[str, float]:
    """Per-core MB/s of each candidate chunk hash on chunk-sized pieces."""
    speeds = {}
    for name, function in (("sha256", lambda data: hashlib.sha256(data).digest()),
                           ("blake3", lambda data: blake3.blake3(data).digest())):
        start = time.perf_counter()
        for offset in range(0, len(sample), chunk):
            function(sample[offset:offset + chunk])
        speeds[name] = round(len(sample) / MIB / (time.perf_counter() - start))
    return speeds


def run_engine(image: Path, work: Path, chunk_size: int, churn_percent: float) -> dict:
    store_path = work / "vault"
    restored = work / "restored.img"
    shutil.rmtree(store_path, ignore_errors=True)
    restored.unlink(missing_ok=True)
    store = VaultStore.create(store_path, chunk_size=chunk_size)
    with FileSource(image, snapshot_id="snap-1") as source:
        full_s, full = timed(store.back_up, [("os", source)])
    churned = churn(image, churn_percent)
    with FileSource(image, changed=churned, snapshot_id="snap-2") as source:
        incremental_s, incremental = timed(store.back_up, [("os", source)], previous=full)
    restore_s, result = timed(store.restore_disk, incremental.disks[0], FileSink(restored))
    figures = {
        "full_s": round(full_s, 3), "incremental_s": round(incremental_s, 3), "restore_s": round(restore_s, 3),
        "stored_bytes": store.stored_bytes(), "full_stored_bytes": full.stored_bytes,
        "incremental_stored_bytes": incremental.stored_bytes, "incremental_read_bytes": incremental.read_bytes,
        "restored_digest_ok": result.digest == incremental.disks[0].digest, "chunk_size": chunk_size,
    }
    shutil.rmtree(store_path, ignore_errors=True)
    restored.unlink(missing_ok=True)
    return figures


def compare(work: Path, size: int) -> dict:
    """The measurements behind the defaults: chunk size (speed vs incremental stored bytes) and hash speed."""
    image = work / "compare.img"
    out: dict = {"image_bytes": size, "chunk_sizes": {}}
    for chunk_kib in (64, 256, 1024, 4096):
        build_image(image, size)
        out["chunk_sizes"][chunk_kib] = run_engine(image, work, chunk_kib << 10, 1.0)
    with open(image, "rb") as handle:
        sample = handle.read(256 * MIB)
    out["hash_mb_per_s_per_core"] = {f"{chunk_kib}KiB": hash_speeds(sample, chunk_kib << 10) for chunk_kib in (256, 1024)}
    image.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=4.0)
    parser.add_argument("--chunk-kib", type=int, default=256)
    parser.add_argument("--churn-percent", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the image under var/bench/")
    parser.add_argument("--compare", action="store_true", help="also measure chunk sizes and hashes (512 MiB image)")
    args = parser.parse_args()
    work = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "bench"
    work.mkdir(parents=True, exist_ok=True)
    image = work / "store-image.img"
    size = int(args.size_gib * 1024) * MIB

    build_s, layout = timed(build_image, image, size)
    print(f"image: {size / MIB:.0f} MiB built in {build_s:.1f}s ({ {k: v // MIB for k, v in layout.items()} } MiB)")
    figures = run_engine(image, work, args.chunk_kib << 10, args.churn_percent)
    figures["limits"] = limits(image)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["image_bytes"] = size
    figures["cpus"] = os.cpu_count()
    if args.compare:
        figures["compare"] = compare(work, 512 * MIB)
    if not args.keep:
        image.unlink(missing_ok=True)

    rows = [("full backup", f"{figures['full_s']:.2f} s", f"{size / MIB / figures['full_s']:.0f} MiB/s logical"),
            ("incremental (1% churn)", f"{figures['incremental_s']:.3f} s",
             f"read {figures['incremental_read_bytes'] / MIB:.0f} MiB, "
             f"stored {figures['incremental_stored_bytes'] / MIB:.1f} MiB"),
            ("restore", f"{figures['restore_s']:.2f} s", f"digest proven: {figures['restored_digest_ok']}"),
            ("stored bytes", f"{figures['stored_bytes'] / MIB:.0f} MiB", f"of {size / MIB:.0f} MiB logical"),
            ("peak RSS", f"{figures['peak_rss_mb']:.0f} MB", "whole bench process"),
            ("limit: read image", f"{figures['limits']['read_s']:.2f} s", "page cache warm"),
            ("limit: sha256 image", f"{figures['limits']['sha256_s']:.2f} s", "one stream, one core"),
            ("limit: zstd -1 -T2", f"{figures['limits']['zstd_s']:.2f} s", "CLI, 2 threads")]
    width = max(len(name) for name, *_ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    if args.compare:
        print(json.dumps(figures["compare"], indent=1))
    (work / "store.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {work / 'store.json'}")


if __name__ == "__main__":
    main()
