"""The vault store: the backup data engine (chunks, manifests, recovery points), with no Django and no Celery.

A backup job, through the one entry point (the engine chooses each disk's incremental base)::

    store = VaultStore.open_or_create(store_dir / vault.store_key)
    previous = store.load_point(newest_point_id) if store.has_point(newest_point_id) else None
    sources = [(name, PageBlobSource(client, media_link, snapshot, prev_snapshot=base_snapshot))
               for name, media_link, snapshot, base_snapshot in disks]
    point = store.back_up(sources, previous=previous, consistency="application", point_id=f"job-{job_id}",
                          metadata={"item": item_key}, progress=job.progress, cancel=job.check_cancelled)

A restore job::

    point = store.load_point(point_id)
    for disk in point.disks:
        store.restore_disk(disk, PageBlobSink(client, new_url), secondary=grs_store, progress=..., cancel=...)

Maintenance: ``store.delete_points(ids)``, ``store.collect_garbage()``, ``store.verify()``,
``store.replicate_to(secondary)``, ``store.repair_from(secondary, report.bad_chunks)``, ``store.stored_bytes()``.
"""

from __future__ import annotations

from vaultstore.blobs import PageBlobSink, PageBlobSource
from vaultstore.collect import GcReport
from vaultstore.crypto import KeyFormatError, StoreKey, short_fingerprint
from vaultstore.errors import (
    ChunkError,
    CorruptChunkError,
    CorruptManifestError,
    DigestMismatchError,
    MissingChunkError,
    OperationCancelled,
    PointNotFoundError,
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreKeyError,
)
from vaultstore.manifest import DIGEST_ALGORITHM, DiskManifest, RecoveryPoint, disk_digest
from vaultstore.replication import ReplicationReport, replicate
from vaultstore.restore import RestoreResult, measure_digest
from vaultstore.session import BackupSession
from vaultstore.sinks import DiskSink, FileSink, MemorySink
from vaultstore.sources import DiskSource, FileSource, MemoryDisk, MemorySource
from vaultstore.store import DEFAULT_CHUNK_SIZE, VaultStore
from vaultstore.verify import VerifyReport

__all__ = [
    "DEFAULT_CHUNK_SIZE", "DIGEST_ALGORITHM", "BackupSession", "ChunkError", "CorruptChunkError", "CorruptManifestError",
    "DigestMismatchError", "DiskManifest", "DiskSink", "DiskSource", "FileSink", "FileSource", "GcReport",
    "KeyFormatError", "MemoryDisk", "MemorySink", "MemorySource", "MissingChunkError", "OperationCancelled",
    "PageBlobSink", "PageBlobSource", "PointNotFoundError", "RecoveryPoint", "ReplicationReport", "RestoreResult",
    "StoreBusyError", "StoreError", "StoreFullError", "StoreKey", "StoreKeyError", "VaultStore", "VerifyReport",
    "disk_digest", "measure_digest", "replicate", "short_fingerprint",
]
