"""``Store``: what the engine's operations need of a store.

``VaultStore`` (store.py) provides it and calls the operations (the backup session, restore, verify,
replication, garbage collection); they take a ``Store`` rather than import the class that calls them, so the
engine's modules form no import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from vaultstore.chunks import ChunkStore
from vaultstore.manifest import RecoveryPoint


class Store(Protocol):
    path: Path
    chunks: ChunkStore
    chunk_size: int
    workers: int
    read_batch: int
    lock_timeout: float | None

    @property
    def lock_path(self) -> Path: ...

    @property
    def points_dir(self) -> Path: ...

    @property
    def pending_dir(self) -> Path: ...

    def point_path(self, point_id: str) -> Path: ...

    def point_ids(self) -> list[str]: ...

    def has_point(self, point_id: str) -> bool: ...

    def load_point(self, point_id: str) -> RecoveryPoint: ...

    def encode_point(self, point: RecoveryPoint) -> bytes: ...

    def delete_points(self, point_ids: Iterable[str]) -> int: ...
