"""Restore: stream a disk's chunks back into a sink, verified, and prove the result by its digest.

Zero chunks are skipped (a new page blob or sparse file is already zero);
non-zero chunks are decompressed and re-hashed (a corrupt chunk raises
``CorruptChunkError``), consecutive ones written as one run. When a
chunk in the primary store is missing or corrupt and a secondary copy (GRS) is
given, the chunk is read from there. The digest is rebuilt from the hashes of
the bytes actually written and must equal the one recorded at backup time.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from vaultstore.base import Store
from vaultstore.chunks import chunk_hash
from vaultstore.errors import ChunkError, DigestMismatchError
from vaultstore.locks import lease
from vaultstore.manifest import DiskManifest, NameFn, chunk_count, chunk_length, data_length, disk_digest
from vaultstore.pool import CancelFn, ProgressFn, is_zero, run_bounded, thread_buffer
from vaultstore.ranges import runs, split_by_chunk
from vaultstore.sinks import DiskSink
from vaultstore.sources import DiskSource, read_into


@dataclass
class RestoreResult:
    disk: str
    digest: str
    written_bytes: int
    chunks_from_secondary: int


def restore_disk(store: Store, disk: DiskManifest, sink: DiskSink, *, secondary: Store | None = None,
                 progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> RestoreResult:
    size, chunk_size = disk.size, disk.chunk_size
    nonzero = [index for index, name in enumerate(disk.chunks) if name is not None]
    write_total = data_length(size, chunk_size, disk.chunks)
    verified: list[str | None] = [None] * chunk_count(size, chunk_size)
    written = fallbacks = 0

    def work(batch: list[int]) -> tuple[list[int], list[str], int, int]:
        names = [disk.chunks[index] for index in batch]
        fetched = _read_run(store, secondary, names, [chunk_length(index, size, chunk_size) for index in batch])
        pieces = [data for data, _ in fetched]
        # The run goes to the sink as the chunks it is made of, copied at most once on the way.
        sink.write(batch[0] * chunk_size, pieces)
        # get() hashed these very bytes and proved the hash equals the name, so the name is the hash of what is
        # written: the digest below is rebuilt from the written bytes without hashing them twice.
        return batch, names, sum(len(data) for data in pieces), sum(from_secondary for _, from_secondary in fetched)

    def collect(result: tuple[list[int], list[str], int, int]) -> None:
        nonlocal written, fallbacks
        batch, names, length, used_secondary = result
        for index, name in zip(batch, names, strict=True):
            verified[index] = name
        written += length
        fallbacks += used_secondary
        if progress is not None:
            progress(written, write_total)

    with ExitStack() as stack:
        # The shared lease keeps garbage collection away while chunks are read (even if retention deletes the point).
        stack.enter_context(lease(store.lock_path, exclusive=False, timeout=store.lock_timeout))
        if secondary is not None:
            stack.enter_context(lease(secondary.lock_path, exclusive=False, timeout=secondary.lock_timeout))
            secondary.chunks.refresh()
        store.chunks.refresh()
        sink.begin(size)
        run_bounded(store.workers, runs(nonzero, max(1, store.read_batch // chunk_size)), work, collect, cancel, "restore")
        sink.finish()

    digest = disk_digest(size, chunk_size, verified, store.chunks.name_of)
    if digest != disk.digest:
        raise DigestMismatchError(f"The restored disk {disk.name} does not match its backup: digest {digest} "
                                  f"instead of {disk.digest}.")
    return RestoreResult(disk=disk.name, digest=digest, written_bytes=written, chunks_from_secondary=fallbacks)


def _read_run(store: Store, secondary: Store | None, names: list[str],
              lengths: list[int]) -> list[tuple[bytes, bool]]:
    """The chunks of one run, each with whether it came from the secondary copy."""
    try:
        return [(data, False) for data in store.chunks.get_many(names, lengths)]
    except ChunkError:
        # One at a time, to find the bad one and use the secondary.
        return [_read_chunk(store, secondary, name, length) for name, length in zip(names, lengths, strict=True)]


def _read_chunk(store: Store, secondary: Store | None, name: str, length: int) -> tuple[bytes, bool]:
    try:
        return store.chunks.get(name, length), False
    except ChunkError as primary_error:
        if secondary is None:
            raise
        try:
            return secondary.chunks.get(name, length), True
        except ChunkError as secondary_error:
            raise type(primary_error)(name, f"{primary_error} The secondary copy is unusable too: {secondary_error}") \
                from secondary_error


def measure_digest(source: DiskSource, chunk_size: int, *, workers: int = 2, read_batch: int = 4 << 20,
                   name_of: NameFn = chunk_hash, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> str:
    """The digest of any disk, read through a source (e.g. the restored page blob), to compare with a manifest's.
    ``name_of`` is the store's (``ChunkStore.name_of``): an encrypted store's digests use its keyed names.
    ``progress(done, total)`` counts the bytes read back (the chunks the source holds data in)."""
    size = source.size
    touched = split_by_chunk(source.ranges(), chunk_size)
    hashes: list[str | None] = [None] * chunk_count(size, chunk_size)
    zero = bytes(chunk_size)
    read_total = sum(chunk_length(index, size, chunk_size) for index in touched)
    read_done = 0

    def work(batch: list[int]) -> list[tuple[int, str | None]]:
        start = batch[0] * chunk_size
        end = min(size, (batch[-1] + 1) * chunk_size)
        data = thread_buffer(end - start)
        read_into(source, start, data)
        out = []
        for index in batch:
            part = data[(index - batch[0]) * chunk_size:(index - batch[0]) * chunk_size + chunk_length(index, size, chunk_size)]
            out.append((index, None if is_zero(part, zero) else name_of(part)))
        return out

    def collect(result: list[tuple[int, str | None]]) -> None:
        nonlocal read_done
        for index, name in result:
            hashes[index] = name
            read_done += chunk_length(index, size, chunk_size)
        if progress is not None:
            progress(read_done, read_total)

    run_bounded(workers, runs(touched.keys(), max(1, read_batch // chunk_size)), work, collect, cancel, "digest")
    return disk_digest(size, chunk_size, hashes, name_of)
