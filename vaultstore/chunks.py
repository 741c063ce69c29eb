"""Content-addressed chunks, kept in pack files (packs.py): the index of a store's chunks, and their codec.

A chunk's name is the BLAKE3 digest of its uncompressed bytes (keyed by the vault's key in an encrypted store, see
crypto.py); it is stored as one zstd frame, sealed with AES-GCM in an encrypted store. Every read opens, decompresses
and re-hashes, so a flipped bit, a truncated pack or a frame under the wrong name is reported as
``CorruptChunkError``.

Chunks that verify found damaged are listed in ``damaged.json`` beside the
packs and left out of the index: dedup no longer trusts them, the next backup
that meets those bytes stores them again, and GC drops them from their pack.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import zstandard

from vaultstore.crypto import InvalidTag, StoreKey
from vaultstore.direct import read_uncached
from vaultstore.durable import atomic_write
from vaultstore.errors import CorruptChunkError, MissingChunkError
from vaultstore.packs import MAX_CHUNK, PACK_SUFFIX, Location, Pack, chunk_hash, read_pack


class _LastPacks:
    """The packs of the store this process indexed last, kept after its ChunkStore is gone.

    Every job opens its vault store anew; with these, a job after another on
    the same vault reads only the packs published since, not every pack's
    index again (a pack's file never changes once it has its name, and names
    are random, so a recreated store shares none). One store's packs only, the
    same objects its index holds: nothing more while that store is open, and
    between jobs about what opening it again would load (~340 bytes a chunk).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._packs: dict[str, Pack] = {}

    def get(self, root: Path) -> dict[str, Pack]:
        with self._lock:
            return dict(self._packs) if root == self._root else {}

    def put(self, root: Path, packs: dict[str, Pack]) -> None:
        with self._lock:
            self._root, self._packs = root, dict(packs)

    def add(self, root: Path, pack: Pack) -> None:
        with self._lock:
            if root == self._root:
                self._packs[pack.id] = pack


_last_packs = _LastPacks()


READ_GAP = 256 << 10   # frames at most this far apart are read together (reading a gap beats a second request)
READ_SPAN = 8 << 20    # and no read is longer than this


def _close_together(wheres: list[Location]) -> Iterator[list[int]]:
    """Indexes of ``wheres`` grouped into spans of one pack that are read together, in pack order."""
    span: list[int] = []
    start = end = 0
    for i in sorted(range(len(wheres)), key=lambda i: (wheres[i].pack, wheres[i].offset)):
        where = wheres[i]
        if span and (where.pack != wheres[span[0]].pack or where.offset - end > READ_GAP
                     or where.offset + where.length - start > READ_SPAN):
            yield span
            span = []
        if not span:
            start = end = where.offset
        span.append(i)
        end = max(end, where.offset + where.length)
    if span:
        yield span


def _unchanged(pack: Pack, path: Path) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return stat.st_size == pack.size and stat.st_mtime == pack.mtime


class ChunkStore:
    """The packs of one store and an in-memory index of their chunks. Thread-safe.

    The index is loaded on first use and ``refresh()``-ed whenever a caller
    takes the store's lease, so it sees packs other processes published and
    forgets packs garbage collection removed. Compressors are per thread.
    """

    def __init__(self, root: Path, *, level: int = 1, key: StoreKey | None = None) -> None:
        self.root = root
        self.level = level
        self.key = key
        self._local = threading.local()
        self._lock = threading.RLock()
        self._packs: dict[str, Pack] | None = None
        self._index: dict[str, Location] = {}
        self._damaged: dict[str, set[str]] = {}

    # --- the index ---------------------------------------------------------

    @property
    def damaged_path(self) -> Path:
        return self.root / "damaged.json"

    def pack_path(self, pack_id: str) -> Path:
        return self.root / pack_id[:2] / f"{pack_id}{PACK_SUFFIX}"

    def _pack_files(self) -> Iterator[Path]:
        try:
            subdirs = [entry for entry in os.scandir(self.root) if entry.is_dir()]
        except FileNotFoundError:
            return
        for subdir in subdirs:
            for entry in os.scandir(subdir.path):
                if entry.name.endswith(PACK_SUFFIX) and not entry.name.startswith("."):
                    yield Path(entry.path)

    def refresh(self) -> None:
        """Load packs published since the last look, drop those that are gone, re-read the damage list."""
        with self._lock:
            known = self._packs if self._packs is not None else _last_packs.get(self.root)
            current: dict[str, Pack] = {}
            for path in self._pack_files():
                pack_id = path.name[:-len(PACK_SUFFIX)]
                pack = known.get(pack_id)
                if pack is None or not _unchanged(pack, path):
                    pack = read_pack(path, self.key)
                if pack is not None:
                    current[pack_id] = pack
            try:
                raw = json.loads(self.damaged_path.read_bytes())
                self._damaged = {pack_id: set(names) for pack_id, names in raw.items()}
            except FileNotFoundError:
                self._damaged = {}
            self._packs = current
            self._rebuild()
            _last_packs.put(self.root, current)

    def _rebuild(self) -> None:
        index: dict[str, Location] = {}
        for pack in (self._packs or {}).values():
            bad = self._damaged.get(pack.id, ())
            for name, where in pack.entries:
                if name not in bad:
                    index[name] = where
        self._index = index

    def _loaded(self) -> dict[str, Pack]:
        if self._packs is None:
            self.refresh()
        return self._packs  # type: ignore[return-value]

    def add_pack(self, pack: Pack) -> None:
        """A pack this process just published (the writer calls it)."""
        with self._lock:
            self._loaded()[pack.id] = pack
            for name, where in pack.entries:
                self._index[name] = where
            _last_packs.add(self.root, pack)

    def packs(self) -> list[Pack]:
        with self._lock:
            return list(self._loaded().values())

    def has(self, name: str) -> bool:
        self._loaded()
        return name in self._index

    def locate(self, name: str) -> Location:
        self._loaded()
        where = self._index.get(name)
        if where is None:
            self.refresh()  # published by another process since we looked?
            where = self._index.get(name)
        if where is None:
            raise MissingChunkError(name, f"Chunk {name} is missing from the vault store at {self.root.parent}.")
        return where

    def path(self, name: str) -> Path:
        """The pack file that holds the chunk."""
        return self.pack_path(self.locate(name).pack)

    def names(self) -> set[str]:
        """Every chunk the store can serve (damaged ones excluded)."""
        self._loaded()
        return set(self._index)

    def rebuilt_packs(self) -> list[str]:
        """Packs whose index was damaged and was rebuilt from their frames when the store was opened."""
        return sorted(pack.id for pack in self._loaded().values() if pack.rebuilt)

    def damaged(self) -> dict[str, set[str]]:
        self._loaded()
        return {pack_id: set(names) for pack_id, names in self._damaged.items()}

    def quarantine(self, names: Iterable[str]) -> None:
        """Stop trusting these chunks (verify found them damaged): dedup and reads no longer see them."""
        with self._lock:
            self._loaded()
            for name in names:
                where = self._index.get(name)
                if where is not None:
                    self._damaged.setdefault(where.pack, set()).add(name)
            self._save_damaged()
            self._rebuild()

    def forget_damage(self, pack_ids: Iterable[str]) -> None:
        with self._lock:
            for pack_id in pack_ids:
                self._damaged.pop(pack_id, None)
            self._save_damaged()

    def _save_damaged(self) -> None:
        if self._damaged or self.damaged_path.exists():
            atomic_write(self.damaged_path, json.dumps({key: sorted(value) for key, value in self._damaged.items()
                                                        if value}).encode())

    # --- codecs, one per thread (zstd contexts are not thread-safe) ---

    def _compressor(self) -> zstandard.ZstdCompressor:
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = self._local.compressor = zstandard.ZstdCompressor(level=self.level, write_content_size=True)
        return compressor

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = self._local.decompressor = zstandard.ZstdDecompressor()
        return decompressor

    def name_of(self, data: bytes | bytearray | memoryview) -> str:
        """The chunk's name: its BLAKE3, keyed in an encrypted store."""
        return chunk_hash(data) if self.key is None else self.key.name(data)

    def encode(self, data: bytes | bytearray | memoryview) -> bytes:
        """The frame stored for a chunk: compressed, then sealed in an encrypted store."""
        frame = self._compressor().compress(data)
        return frame if self.key is None else self.key.seal_frame(frame)

    # --- read ------------------------------------------------------------

    def read_frame(self, name: str) -> bytes:
        return self.read_at(self.locate(name), name)

    def read_at(self, where: Location, name: str) -> bytes:
        return self._read_pack(where.pack, where.offset, where.length, name)

    def _read_pack(self, pack_id: str, offset: int, length: int, name: str) -> bytes:
        """Bytes of a pack; its chunk ``name`` is missing if the pack is gone."""
        try:
            return read_uncached(self.pack_path(pack_id), offset, length)
        except FileNotFoundError:
            raise MissingChunkError(name, f"Chunk {name} is missing from the vault store at {self.root.parent}: "
                                          f"its pack {pack_id} is gone.") from None

    def get(self, name: str, expected_size: int | None = None) -> bytes:
        """The chunk's bytes, decompressed and proven to hash to ``name``."""
        return self.decode(name, self.read_frame(name), expected_size)

    def get_many(self, names: list[str], sizes: list[int]) -> list[bytes]:
        """Several chunks' bytes, each proven as by ``get``. Frames that lie close together in one pack (a backup
        writes a batch's new chunks side by side) are read with one request to the disk, gaps included: a
        restore then asks the disk for a few MiB at a time instead of one frame at a time."""
        wheres = [self.locate(name) for name in names]
        frames: list[bytes | memoryview] = [b""] * len(names)
        for span in _close_together(wheres):
            first, last = wheres[span[0]], max((wheres[i] for i in span), key=lambda w: w.offset + w.length)
            data = memoryview(self._read_pack(first.pack, first.offset, last.offset + last.length - first.offset,
                                              names[span[0]]))
            for i in span:
                frames[i] = data[wheres[i].offset - first.offset:wheres[i].offset - first.offset + wheres[i].length]
        return [self.decode(name, frame, size) for name, frame, size in zip(names, frames, sizes, strict=True)]

    def decode(self, name: str, frame: bytes, expected_size: int | None = None) -> bytes:
        where = self.root.parent
        bad = f"Chunk {name} in the vault store at {where} is corrupt"
        if self.key is not None:
            try:
                frame = self.key.open_frame(frame)
            except InvalidTag:
                raise CorruptChunkError(name, f"{bad}: it fails authentication (its stored bytes were changed).") \
                    from None
        try:
            data = self._decompressor().decompress(frame, max_output_size=MAX_CHUNK)
        except zstandard.ZstdError as exc:
            raise CorruptChunkError(name, f"{bad}: it does not decompress ({exc}).") from exc
        if expected_size is not None and len(data) != expected_size:
            raise CorruptChunkError(name, f"{bad}: {len(data)} bytes instead of {expected_size}.")
        if self.name_of(data) != name:
            raise CorruptChunkError(name, f"{bad}: its content does not match its hash.")
        return data

    # --- size --------------------------------------------------------------

    def stored_bytes(self) -> int:
        return sum(pack.size for pack in self.packs())

