"""Byte ranges ``(start, end_exclusive)``: normalising what sources report and cutting it into chunks."""

from __future__ import annotations

from collections.abc import Iterable

Range = tuple[int, int]


def normalize(ranges: Iterable[Range], size: int) -> list[Range]:
    """Sorted, clipped to ``[0, size)``, overlapping and touching ranges merged, empty ones dropped."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(size, e)) for s, e in ranges):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def total(ranges: Iterable[Range]) -> int:
    return sum(end - start for start, end in ranges)


def split_by_chunk(ranges: Iterable[Range], chunk_size: int) -> dict[int, list[Range]]:
    """Chunk index -> the absolute sub-ranges of ``ranges`` inside that chunk (ranges must be normalised)."""
    spans: dict[int, list[Range]] = {}
    for start, end in ranges:
        position = start
        while position < end:
            index = position // chunk_size
            stop = min(end, (index + 1) * chunk_size)
            spans.setdefault(index, []).append((position, stop))
            position = stop
    return spans


def runs(indices: Iterable[int], max_len: int) -> list[list[int]]:
    """Consecutive indices grouped into runs of at most ``max_len``: one read or write per run."""
    grouped: list[list[int]] = []
    for index in sorted(indices):
        if grouped and index == grouped[-1][-1] + 1 and len(grouped[-1]) < max_len:
            grouped[-1].append(index)
        else:
            grouped.append([index])
    return grouped


def coalesce(ranges: Iterable[Range]) -> list[Range]:
    """Merge touching ranges (already sorted and disjoint), e.g. the per-chunk pieces of one run."""
    out: list[list[int]] = []
    for start, end in ranges:
        if out and start == out[-1][1]:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [(start, end) for start, end in out]
