"""Pack files: many chunks' frames in one file, each pack ending with its own index. ``packs/<2 hex>/<32 hex>.pack``.

Frames are appended to pack files of about ``PACK_TARGET`` bytes (writer.py), so a full backup creates a few dozen
files instead of one per chunk (creating a file cost ~0.5 ms of kernel time here, more than compressing the
chunk). Layout::

    frame 0 | frame 1 | ... | index: count x (32-byte name, u64 offset, u32 length, u32 raw length)
    | footer: b"RSVPACK1", u64 index offset, u32 count, 32-byte BLAKE3 of the index

A frame is one zstd frame of the chunk's bytes; in an encrypted store it is that frame sealed
(``crypto.StoreKey.seal_frame``: its length, a nonce, the AES-GCM ciphertext and tag). A chunk's name is the BLAKE3
of its bytes, keyed in an encrypted store. A pack appears under its name only once complete and durable, so a pack
that has a name has a trustworthy index; one whose index fails its check was damaged since, and its index is
rebuilt from the frames.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import blake3
import zstandard

from vaultstore.crypto import FRAME_HEADER, FRAME_OVERHEAD, InvalidTag, StoreKey

HASH_NAME = "blake3"
DIGEST_HEX_LEN = 64
MAX_CHUNK = 64 << 20
MAX_FRAME_READ = MAX_CHUNK + (1 << 20)  # a frame is at most a chunk plus zstd's overhead
PACK_SUFFIX = ".pack"
PACK_MAGIC = b"RSVPACK1"
ENTRY = struct.Struct("<32sQII")
FOOTER = struct.Struct("<8sQI32s")


def chunk_hash(data: bytes | bytearray | memoryview) -> str:
    """A chunk's name in an unencrypted store. BLAKE3 and not SHA-256: it measured ~3x faster per core here, and
    hashing runs on every chunk of every backup and restore. It releases the GIL on large inputs, so worker threads
    hash in parallel."""
    return blake3.blake3(data).hexdigest()


class Location(NamedTuple):
    """Where a chunk's frame is. A tuple: the index holds one per chunk, and a frozen dataclass took four times
    as long to make (opening a store makes one per chunk) and a fifth more memory."""

    pack: str
    offset: int
    length: int       # stored (compressed) bytes
    raw_length: int   # the chunk's bytes


@dataclass
class Pack:
    id: str
    path: Path
    size: int
    mtime: float
    entries: list[tuple[str, Location]]
    rebuilt: bool = False  # its index was damaged and was rebuilt from its frames


def pack_index(entries: Iterable[tuple[str, Location]]) -> bytes:
    return b"".join(ENTRY.pack(bytes.fromhex(name), where.offset, where.length, where.raw_length) for name, where in entries)


def pack_footer(index: bytes, index_offset: int, count: int) -> bytes:
    return FOOTER.pack(PACK_MAGIC, index_offset, count, blake3.blake3(index).digest())


def read_pack(path: Path, key: StoreKey | None = None) -> Pack | None:
    """A pack's index, or None when the file is gone.

    A pack has a name only once complete and durable, so an index that fails its check (or a footer that does
    not add up) means the file was damaged since: its index is then rebuilt from the frames (``rebuild_index``),
    and the pack is marked ``rebuilt`` so Verify reports it. The store never pretends whole chunks are gone.
    """
    pack_id = path.name[:-len(PACK_SUFFIX)]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        stat = os.fstat(fd)
        index = _checked_index(fd, stat.st_size)
        if index is None:
            return Pack(pack_id, path, stat.st_size, stat.st_mtime, rebuild_index(fd, pack_id, stat.st_size, key),
                        rebuilt=True)
    finally:
        os.close(fd)
    entries = [(raw.hex(), Location(pack_id, offset, length, raw_length))
               for raw, offset, length, raw_length in ENTRY.iter_unpack(index)]
    return Pack(pack_id, path, stat.st_size, stat.st_mtime, entries)


def _checked_index(fd: int, size: int) -> bytes | None:
    """The pack's index when its footer adds up and its checksum holds, else None."""
    if size < FOOTER.size:
        return None
    magic, index_offset, count, checksum = FOOTER.unpack(os.pread(fd, FOOTER.size, size - FOOTER.size))
    index_length = count * ENTRY.size
    if magic != PACK_MAGIC or index_offset + index_length + FOOTER.size != size:
        return None
    index = os.pread(fd, index_length, index_offset)
    return index if blake3.blake3(index).digest() == checksum else None


FRAME_PIECE = 256 << 10  # what the index rebuild reads at a time: about one frame


def rebuild_index(fd: int, pack_id: str, size: int, key: StoreKey | None = None) -> list[tuple[str, Location]]:
    """The entries of a pack whose index is damaged, found from its frames.

    Frames are read in order from the start: each is one zstd frame (sealed in an encrypted store, and then it must
    open with the store's key), and its chunk's name is the (keyed) BLAKE3 of what it decompresses to, so the name
    is recomputed from the bytes rather than trusted. The scan stops at the
    first place that is not a whole frame (the old index, or damage): chunks after damage are missing, and
    Verify names the points that need them.
    """
    entries: list[tuple[str, Location]] = []
    offset = 0
    name_of: Callable[[bytes], str] = key.name if key is not None else chunk_hash
    while offset < size and (frame := _frame_at(fd, offset, size) if key is None
                             else _sealed_frame_at(fd, offset, size, key)) is not None:
        data, length = frame
        entries.append((name_of(data), Location(pack_id, offset, length, len(data))))
        offset += length
    return entries


def _sealed_frame_at(fd: int, offset: int, size: int, key: StoreKey) -> tuple[bytes, int] | None:
    """The chunk in the sealed frame at ``offset`` and the frame's length, or None where no whole frame opens."""
    if offset + FRAME_OVERHEAD > size:
        return None
    (sealed_length,) = FRAME_HEADER.unpack(os.pread(fd, FRAME_HEADER.size, offset))
    length = FRAME_HEADER.size + sealed_length
    if length < FRAME_OVERHEAD or length > MAX_FRAME_READ or offset + length > size:
        return None  # a length no frame has: damage, or the old index
    try:
        compressed = key.open_frame(os.pread(fd, length, offset))
        return zstandard.ZstdDecompressor().decompress(compressed, max_output_size=MAX_CHUNK), length
    except (InvalidTag, zstandard.ZstdError):
        return None


def _frame_at(fd: int, offset: int, size: int) -> tuple[bytes, int] | None:
    """The chunk in the zstd frame that starts at ``offset`` and the frame's length, or None where none does.

    The frame is fed to the decompressor a piece at a time, so what is read past its end is at most one piece.
    """
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    parts: list[bytes] = []
    fed = 0
    while not decompressor.eof:
        if fed >= MAX_FRAME_READ or offset + fed >= size:
            return None  # the rest is not a whole frame
        piece = os.pread(fd, min(FRAME_PIECE, size - offset - fed), offset + fed)
        try:
            if not fed and len(piece) >= 18 and zstandard.frame_content_size(piece) > MAX_CHUNK:
                return None  # a header that claims more than any chunk is damage, not a frame
            parts.append(decompressor.decompress(piece))
        except zstandard.ZstdError:
            return None
        fed += len(piece)
    return b"".join(parts), fed - len(decompressor.unused_data)
