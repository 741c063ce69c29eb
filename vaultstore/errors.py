"""Errors of the vault store: each carries a code, a sentence and what to do next."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the vault store raises."""

    code = "VaultStoreError"
    recommendation = "Retry the operation; if it fails again, run Verify on the vault."

    def __init__(self, message: str, *, recommendation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if recommendation is not None:
            self.recommendation = recommendation

    def __str__(self) -> str:
        return self.message


class ChunkError(StoreError):
    """A chunk cannot be used: it is corrupt or missing. ``chunk`` names it (hex digest)."""

    code = "VaultChunkUnreadable"
    recommendation = ("Run Verify on the vault to see which recovery points are affected; "
                      "restore from another point or from the secondary region.")

    def __init__(self, chunk: str, message: str) -> None:
        super().__init__(message)
        self.chunk = chunk


class CorruptChunkError(ChunkError):
    """The chunk's bytes do not decompress or do not hash to its name."""

    code = "VaultChunkCorrupt"


class MissingChunkError(ChunkError):
    """A manifest names a chunk the store does not hold."""

    code = "VaultChunkMissing"


class CorruptManifestError(StoreError):
    """A recovery point's file cannot be parsed or fails its checksum."""

    code = "VaultManifestCorrupt"

    def __init__(self, point_id: str, message: str) -> None:
        super().__init__(message)
        self.point_id = point_id


class StoreKeyError(StoreError):
    """An encrypted store was opened without its key, or with another key; or a key was given for a store that is
    not encrypted. Nothing was read or written."""

    code = "VaultStoreKey"
    recommendation = ("Import the vault's exported key on its CONFIGURE page (an administrator), then run the "
                      "operation again.")


class PointNotFoundError(StoreError):
    code = "RecoveryPointNotFound"
    recommendation = "Refresh the list of recovery points; the point may have expired and been removed by retention."


class DigestMismatchError(StoreError):
    """Restored bytes do not hash to the digest recorded at backup time."""

    code = "RestoreDigestMismatch"
    recommendation = ("Delete the restored disk and restore again, from the secondary region if the vault is GRS; "
                      "run Verify on the vault.")


class StoreFullError(StoreError):
    """The filesystem holding the store ran out of space (ENOSPC or quota)."""

    code = "VaultStoreFull"
    recommendation = ("Free space on the volume that holds the vault store, or move the vault store to a larger volume, "
                      "then run the backup again. Nothing partial was published.")


class StoreBusyError(StoreError):
    """A lock on the store could not be taken in time (garbage collection vs a running backup)."""

    code = "VaultStoreBusy"
    recommendation = "Another operation holds the vault store; the job will be retried when it finishes."


class OperationCancelled(StoreError):
    """The caller's cancellation check asked to stop. Nothing was published."""

    code = "OperationCancelled"
    recommendation = "Start the operation again when needed."
