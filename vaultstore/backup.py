"""The backup engine for one disk: plan what to read, then read, chunk, hash, dedup, compress and store it.

Work is spread over a thread pool: reads (``os.pread``, HTTP), BLAKE3, zstd and
fsync all release the GIL, so N threads use N cores. At most ``2 x workers``
batches of ``read_batch`` bytes are in flight, which bounds memory whatever
the disk size (a 4 GiB disk backs up in well under 500 MB RSS). Each thread
reads into one buffer it keeps (``read_into``), and chunks are views of it:
a fresh 4 MiB buffer per read, faulted in page by page and copied out again,
cost more CPU than the transfer itself.

Incremental backup reads only the changed ranges from the source. A chunk that
is entirely rewritten is read whole; a partly-changed chunk starts from the
previous point's chunk, read back from the store (and verified), with the
changed ranges laid over it; an unchanged chunk keeps its previous name, so it
is referenced and never copied.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from vaultstore.chunks import ChunkStore
from vaultstore.errors import ChunkError
from vaultstore.manifest import DiskManifest, chunk_count, chunk_length, data_length, disk_digest
from vaultstore.pool import CancelFn, ProgressFn, is_zero, run_bounded, thread_buffer
from vaultstore.ranges import Range, coalesce, normalize, runs, split_by_chunk, total
from vaultstore.sources import DiskSource, read_into
from vaultstore.writer import ChunkWriter


@dataclass
class DiskPlan:
    """What one disk's backup will read: known before any byte moves, so progress has a total."""

    name: str
    source: DiskSource
    size: int
    chunk_size: int
    previous: DiskManifest | None       # set only when the backup is incremental
    spans: dict[int, list[Range]]       # chunk index -> absolute ranges to read inside it
    read_total: int
    healed: int = 0                     # unchanged chunks read again because the store no longer holds them whole


def plan_disk(name: str, source: DiskSource, chunk_size: int, previous: DiskManifest | None,
              sound: Callable[[str], bool] | None = None) -> DiskPlan:
    """``previous`` is the base ``VaultStore.usable_base`` chose (None: a full backup).

    An incremental backup reads the ranges that changed, and also every chunk of ``previous`` that the store does
    not hold whole (``sound(name)`` is False: marked damaged, missing from the index, or in a pack whose index
    could not be read): the snapshot still has those bytes, so they are read again and stored anew rather than
    referenced. A point therefore never names a chunk the store cannot serve, and the next backup after Verify
    found damage heals the item.
    """
    size = source.size
    if size <= 0:
        raise ValueError(f"disk {name}: size {size} is not a disk")
    if previous is None:
        wanted = normalize(source.ranges(), size)
        return DiskPlan(name, source, size, chunk_size, None, split_by_chunk(wanted, chunk_size), total(wanted))
    heal = [index for index, chunk in enumerate(previous.chunks)
            if chunk is not None and sound is not None and not sound(chunk)]
    whole = [(index * chunk_size, index * chunk_size + chunk_length(index, size, chunk_size)) for index in heal]
    wanted = normalize([*source.changed_ranges(), *whole], size)
    return DiskPlan(name, source, size, chunk_size, previous, split_by_chunk(wanted, chunk_size), total(wanted),
                    healed=len(heal))


def _chunk_bytes(plan: DiskPlan, chunks: ChunkStore, index: int, pieces: list[tuple[int, memoryview]],
                 starts: list[int]) -> bytes | bytearray | memoryview:
    """Chunk ``index`` as the new point holds it: the bytes read (``pieces``, which begin at ``starts``) laid over
    the previous point's chunk, or over zeros; a fully read chunk is a view of the read, not a copy."""
    size, chunk_size, previous = plan.size, plan.chunk_size, plan.previous
    start = index * chunk_size
    length = chunk_length(index, size, chunk_size)
    spans = plan.spans[index]
    if total(spans) == length:
        base: bytearray | None = None
    elif previous is not None and previous.chunks[index] is not None:
        try:
            base = bytearray(chunks.get(previous.chunks[index], length))
        except ChunkError:
            # The previous point's chunk is damaged: take the whole chunk from the snapshot instead, so the
            # new point is sound (verify still reports the old one).
            return plan.source.read(start, length)
    else:
        base = bytearray(length)
    for span_start, span_end in spans:
        piece_start, data = pieces[bisect.bisect_right(starts, span_start) - 1]
        part = data[span_start - piece_start:span_end - piece_start]
        if base is None:
            return part  # whole chunk in one piece (spans of a fully covered chunk are merged)
        base[span_start - start:span_end - start] = part
    return base


def transfer_disk(plan: DiskPlan, chunks: ChunkStore, writer: ChunkWriter, *, workers: int, read_batch: int,
                  progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> DiskManifest:
    size, chunk_size, previous = plan.size, plan.chunk_size, plan.previous
    entries: list[str | None] = list(previous.chunks) if previous is not None else [None] * chunk_count(size, chunk_size)
    zero = bytes(chunk_size)
    stored = 0

    def work(batch: list[int]) -> list[tuple[int, str | None, int, int]]:
        reads = coalesce([span for index in batch for span in plan.spans[index]])
        buffer = thread_buffer(sum(end - start for start, end in reads))
        pieces, used = [], 0
        for start, end in reads:
            piece = buffer[used:used + end - start]
            read_into(plan.source, start, piece)
            pieces.append((start, piece))
            used += end - start
        starts = [start for start, _ in pieces]
        done, frames = [], []
        for index in batch:
            data = _chunk_bytes(plan, chunks, index, pieces, starts)
            read = total(plan.spans[index])
            if is_zero(data, zero):
                done.append((index, None, 0, read))  # all-zero: recorded in the manifest, never stored
                continue
            name = chunks.name_of(data)
            written = 0
            if writer.claim(name):
                frame = chunks.encode(data)
                frames.append((name, frame, len(data)))
                written = len(frame)
            done.append((index, name, written, read))
        writer.write_frames(frames)  # the batch's new chunks side by side in the pack
        return done

    batches = runs(plan.spans.keys(), max(1, read_batch // chunk_size))
    read_done = 0

    def collect(results: list[tuple[int, str | None, int, int]]) -> None:
        nonlocal stored, read_done
        for index, name, written, read in results:
            entries[index] = name
            stored += written
            read_done += read
        if writer.needs_commit:
            writer.commit()  # bounds the temp files a crash can leave, and lets other backups dedup sooner
        if progress is not None:
            progress(read_done, plan.read_total)

    run_bounded(workers, batches, work, collect, cancel, "backup")
    if progress is not None and not batches:
        progress(0, 0)

    return DiskManifest(name=plan.name, size=size, chunk_size=chunk_size, chunks=entries,
                        digest=disk_digest(size, chunk_size, entries, chunks.name_of), source_snapshot=plan.source.snapshot_id,
                        data_bytes=data_length(size, chunk_size, entries), stored_bytes=stored, read_bytes=plan.read_total,
                        incremental=previous is not None, healed_chunks=plan.healed)
