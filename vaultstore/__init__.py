"""The vault store: the backup data engine (chunks, manifests, recovery points), with no Django and no Celery.

A backup job::

    store = VaultStore.open_or_create(var_dir / "vaults" / str(vault.id))
    previous = store.load_point(item.last_point_id) if item.last_point_id else None
    sources = [(disk.name, PageBlobSource(client, disk.url, snapshot, previous and previous.snapshots[disk.name]))
               for disk in disks]
    point = store.back_up(sources, previous=previous, consistency="application",
                          metadata={"item": item.id, "expires": ...}, progress=job.progress, cancel=job.check_cancel)

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
    "DigestMismatchError", "DiskManifest", "DiskSink", "DiskSource", "FileSink", "FileSource", "GcReport", "MemoryDisk",
    "MemorySink", "MemorySource", "MissingChunkError", "OperationCancelled", "PageBlobSink", "PageBlobSource",
    "PointNotFoundError", "RecoveryPoint", "ReplicationReport", "RestoreResult", "StoreBusyError", "StoreError",
    "StoreFullError", "VaultStore", "VerifyReport", "disk_digest", "measure_digest", "replicate",
]
