"""``VaultStore``: one vault's store directory and the operations jobs call on it.

Layout::

    <store>/store.json          format, chunk size, hash, compression, encryption (fixed at creation)
    <store>/lock                the lease (locks.py)
    <store>/packs/ab/ab12....pack  pack files of chunks (chunks.py, writer.py)
    <store>/packs/damaged.json  chunks verify found damaged
    <store>/points/<id>.json    recovery points (manifest.py), published by rename

An encrypted store (``key`` given at creation) seals every frame and every point file with the vault's key and
names chunks by keyed hashes (crypto.py); ``store.json`` holds only the key's fingerprint, so the store cannot be
read without the key, and opening it with another key fails before anything is read.
    <store>/pending/<s>.json    intent records of unpublished backups (locks.py)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from vaultstore.chunks import ChunkStore
from vaultstore.collect import DEFAULT_GRACE_SECONDS, DEFAULT_REPACK_THRESHOLD, GcReport, collect_garbage
from vaultstore.crypto import CIPHER_NAME, InvalidTag, StoreKey, short_fingerprint
from vaultstore.durable import atomic_write, full_disk_as_store_error, unlink_durably
from vaultstore.errors import CorruptManifestError, PointNotFoundError, StoreError, StoreKeyError
from vaultstore.locks import abandon_sessions
from vaultstore.manifest import POINT_ID, DiskManifest, RecoveryPoint
from vaultstore.packs import HASH_NAME
from vaultstore.pool import CancelFn, PlannedFn, ProgressFn
from vaultstore.replication import ReplicationReport, repair_chunks, replicate
from vaultstore.restore import RestoreResult, restore_disk
from vaultstore.session import BackupSession
from vaultstore.sinks import DiskSink
from vaultstore.sources import DiskSource
from vaultstore.verify import VerifyReport, verify_store

STORE_FORMAT = "rsv-store-2"
# 256 KiB: measured in bench/store.py. Scattered 64 KiB writes dirty one chunk each, so the bytes an incremental
# backup re-stores grow with the chunk size (4x less than 1 MiB, 16x less than borg's 4 MiB), while 64 KiB chunks
# made a full backup hash, index and manifest four times as many pieces (65536 entries per 4 GiB).
DEFAULT_CHUNK_SIZE = 256 << 10
# zstd level 1: compression is the largest CPU cost of a full backup, and decompression a large one of a restore.
# Measured per core here (zstandard 0.25) on 256 KiB chunks of bench/store.py's text: levels -7 to 1 all compress
# at 300-330 MB/s (`perf` shows the fast match finder as most of that time); level 1 gives ratio 0.309 against 0.331 at
# -1 and decompresses at 1.0 against 0.88 GB/s. Incompressible chunks: 3.8 GB/s against 4.3. In one bench run
# against -1, full backups took the same time and restores about 3% less.
DEFAULT_LEVEL = 1
DEFAULT_READ_BATCH = 4 << 20


class VaultStore:
    def __init__(self, path: Path | str, *, key: StoreKey | None = None, workers: int | None = None,
                 lock_timeout: float | None = 600.0, read_batch: int = DEFAULT_READ_BATCH) -> None:
        """Open an existing store (see ``create`` / ``open_or_create`` for a new one); ``key`` opens an encrypted one."""
        self.path = Path(path)
        try:
            config = json.loads((self.path / "store.json").read_bytes())
        except FileNotFoundError:
            raise StoreError(f"There is no vault store at {self.path}.") from None
        if config.get("format") == "rsv-store-1":
            raise StoreError(f"The vault store at {self.path} uses the old one-file-per-chunk format, which this version "
                             "no longer reads.", recommendation="Restore what you need with the previous version, or "
                             "delete the vault's backup data and back up again.")
        if config.get("format") != STORE_FORMAT or config.get("hash") != HASH_NAME:
            raise StoreError(f"The vault store at {self.path} has an unsupported format: {config}.")
        _check_key(self.path, config.get("encryption"), key)
        self.key = key
        self.chunk_size = int(config["chunk_size"])
        self.level = int(config["level"])
        self.workers = workers or os.cpu_count() or 2
        self.lock_timeout = lock_timeout
        self.read_batch = max(read_batch, self.chunk_size)
        self.chunks = ChunkStore(self.path / "packs", level=self.level, key=key)

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    @classmethod
    def create(cls, path: Path | str, *, chunk_size: int = DEFAULT_CHUNK_SIZE, level: int = DEFAULT_LEVEL,
               key: StoreKey | None = None, **options: Any) -> VaultStore:
        path = Path(path)
        if chunk_size <= 0 or chunk_size % 512:
            raise ValueError("the chunk size must be a positive multiple of 512 bytes")
        with full_disk_as_store_error(path):
            for sub in ("packs", "points", "pending"):
                (path / sub).mkdir(parents=True, exist_ok=True)
            if not (path / "store.json").exists():
                config: dict[str, Any] = {"format": STORE_FORMAT, "chunk_size": chunk_size, "hash": HASH_NAME,
                                          "compression": "zstd", "level": level}
                if key is not None:
                    config["encryption"] = {"cipher": CIPHER_NAME, "key_fingerprint": key.fingerprint}
                atomic_write(path / "store.json", json.dumps(config).encode())
        return cls(path, key=key, **options)

    @classmethod
    def open_or_create(cls, path: Path | str, **options: Any) -> VaultStore:
        return cls.create(path, **options) if not (Path(path) / "store.json").exists() else cls(path, **{
            name: value for name, value in options.items() if name not in ("chunk_size", "level")})

    @staticmethod
    def key_fingerprint_at(path: Path | str) -> str | None:
        """The fingerprint of the key the store at ``path`` is encrypted with; None when it is not encrypted.
        ``FileNotFoundError`` when there is no store there yet."""
        config = json.loads((Path(path) / "store.json").read_bytes())
        return (config.get("encryption") or {}).get("key_fingerprint")

    # --- layout ----------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.path / "lock"

    @property
    def points_dir(self) -> Path:
        return self.path / "points"

    @property
    def pending_dir(self) -> Path:
        return self.path / "pending"

    def point_path(self, point_id: str) -> Path:
        if not POINT_ID.match(point_id):
            raise PointNotFoundError(f"Recovery point {point_id!r} is not a valid id.")
        return self.points_dir / f"{point_id}.json"

    # --- recovery points -------------------------------------------------

    def point_ids(self) -> list[str]:
        return sorted(entry.name[:-5] for entry in os.scandir(self.points_dir)
                      if entry.name.endswith(".json") and not entry.name.startswith("."))

    def has_point(self, point_id: str) -> bool:
        return self.point_path(point_id).exists()

    def load_point(self, point_id: str) -> RecoveryPoint:
        try:
            raw = self.point_path(point_id).read_bytes()
        except FileNotFoundError:
            raise PointNotFoundError(f"Recovery point {point_id} does not exist in the vault store at {self.path}.") from None
        if self.key is not None:
            try:
                raw = self.key.open_manifest(point_id, raw)
            except InvalidTag:
                raise CorruptManifestError(point_id, f"Recovery point {point_id} has a corrupt manifest: it fails "
                                                     "authentication (its file was changed).") from None
        return RecoveryPoint.from_json(point_id, raw)

    def encode_point(self, point: RecoveryPoint) -> bytes:
        """The bytes of a point's file: its JSON, sealed in an encrypted store."""
        raw = point.to_json()
        return raw if self.key is None else self.key.seal_manifest(point.id, raw)

    def points(self) -> list[RecoveryPoint]:
        """Every readable point, oldest first. A damaged manifest is skipped here (a listing must not fail on it);
        ``verify()`` reports it and ``collect_garbage()`` refuses to run until it is dealt with."""
        found = []
        for point_id in self.point_ids():
            try:
                found.append(self.load_point(point_id))
            except (CorruptManifestError, PointNotFoundError):  # damaged, or deleted while listing
                continue
        return sorted(found, key=lambda point: point.created)

    def delete_points(self, point_ids: Iterable[str]) -> int:
        """Retention / delete backup data: the points disappear now, their chunks at the next GC."""
        return unlink_durably(self.point_path(point_id) for point_id in point_ids)

    def abandon(self, point_id: str) -> tuple[int, int]:
        """The backup that was making ``point_id`` died: remove its pending records and temp packs now rather than
        at a garbage collection an hour later. Returns (records removed, temp packs removed)."""
        return abandon_sessions(self.pending_dir, point_id, self.chunks.root)

    def stored_bytes(self) -> int:
        """Bytes actually held: compressed chunks plus manifests."""
        points = sum(entry.stat().st_size for entry in os.scandir(self.points_dir) if entry.name.endswith(".json"))
        return self.chunks.stored_bytes() + points

    # --- backup ----------------------------------------------------------

    def session(self, point_id: str | None = None, *, created: datetime | None = None) -> BackupSession:
        return BackupSession(self, point_id, created=created)

    def back_up(self, disks: Sequence[tuple[str, DiskSource]], *, previous: RecoveryPoint | None = None,
                consistency: str = "crash", metadata: dict[str, Any] | None = None, point_id: str | None = None,
                created: datetime | None = None, progress: ProgressFn | None = None,
                planned: PlannedFn | None = None, cancel: CancelFn | None = None) -> RecoveryPoint:
        """Back up every disk and publish one point: the one entry point of every backup.

        Each disk is incremental against its disk in ``previous`` when ``usable_base`` allows, else full (which
        still deduplicates against the store). ``planned(total, incremental)`` is called once the bytes to read
        are known; ``progress(done, total)`` counts bytes read from the sources across all disks.
        """
        with self.session(point_id, created=created) as session:
            # From here the lease is held, so chunks that exist now stay until this point is published.
            bases = {name: self.usable_base(previous, name, source) for name, source in disks}
            plans = [session.plan(name, source, bases[name]) for name, source in disks]
            grand_total = sum(plan.read_total for plan in plans)
            if planned is not None:
                planned(grand_total, any(plan.previous is not None for plan in plans))
            offset = 0
            for plan in plans:
                def disk_progress(done: int, _total: int, base: int = offset) -> None:
                    if progress is not None:
                        progress(base + done, grand_total)
                session.run(plan, progress=disk_progress, cancel=cancel)
                offset += plan.read_total
            return session.publish(consistency=consistency, metadata=metadata)

    def usable_base(self, previous: RecoveryPoint | None, name: str, source: DiskSource) -> DiskManifest | None:
        """The previous point's disk ``name``, if an incremental backup of ``source`` can build on it; else None.

        The one place this is decided. The base must have the source's size and the store's chunk size, and the
        source must be able to list its changes since the snapshot the base was taken from. When retention
        deleted the previous point after the caller loaded it, a GC may have removed its chunks: then every
        chunk must still be here, else the disk is backed up in full rather than reference a ghost.
        """
        disk = previous.disk(name) if previous is not None else None
        if disk is None or disk.size != source.size or disk.chunk_size != self.chunk_size:
            return None
        if not source.can_diff_from(disk.source_snapshot):
            return None
        if self.has_point(previous.id):
            return disk
        return disk if all(self.chunks.has(chunk) for chunk in disk.referenced()) else None

    # --- restore and maintenance -----------------------------------------

    def restore_disk(self, disk: DiskManifest, sink: DiskSink, *, secondary: VaultStore | None = None,
                     progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> RestoreResult:
        return restore_disk(self, disk, sink, secondary=secondary, progress=progress, cancel=cancel)

    def verify(self, *, quarantine: bool = True, progress: ProgressFn | None = None,
               cancel: CancelFn | None = None) -> VerifyReport:
        return verify_store(self, quarantine=quarantine, progress=progress, cancel=cancel)

    def repair_from(self, secondary: VaultStore, chunks: Iterable[str]) -> list[str]:
        """Copy the named chunks (e.g. ``verify().bad_chunks``) back from a sound secondary copy; returns those repaired."""
        return repair_chunks(self, secondary, sorted(chunks))

    def collect_garbage(self, *, grace_seconds: float = DEFAULT_GRACE_SECONDS, timeout: float | None = 60.0,
                        repack_threshold: float = DEFAULT_REPACK_THRESHOLD) -> GcReport:
        return collect_garbage(self, grace_seconds=grace_seconds, timeout=timeout, repack_threshold=repack_threshold)

    def replicate_to(self, secondary: VaultStore, *, prune: bool = True, progress: ProgressFn | None = None,
                     cancel: CancelFn | None = None) -> ReplicationReport:
        return replicate(self, secondary, prune=prune, progress=progress, cancel=cancel)


def _check_key(path: Path, encryption: dict[str, Any] | None, key: StoreKey | None) -> None:
    """Refuse, before anything is read, a key that is not the store's: none for an encrypted store, another one, or
    one for a store that was made unencrypted (sealing new data there would leave it half readable)."""
    if encryption is None:
        if key is not None:
            raise StoreKeyError(f"The vault store at {path} is not encrypted, but a key was given to open it.",
                                recommendation="Open it without a key.")
        return
    if encryption.get("cipher") != CIPHER_NAME:
        raise StoreError(f"The vault store at {path} uses an unsupported cipher: {encryption.get('cipher')!r}.")
    expected = str(encryption.get("key_fingerprint", ""))
    if key is None:
        raise StoreKeyError(f"The vault store at {path} is encrypted, and its key (fingerprint "
                            f"{short_fingerprint(expected)}) is not available.")
    if key.fingerprint != expected:
        raise StoreKeyError(f"The vault store at {path} is encrypted with another key: its key's fingerprint is "
                            f"{short_fingerprint(expected)}, the key given is {key.short_fingerprint}.")
