"""A bounded thread pool loop shared by backup, restore, verify and replication.

Hashing, zstd, file and network I/O release the GIL, so threads use every core.
At most ``2 x workers`` jobs are in flight, so memory stays bounded however big
the disk; results are collected in submission order on the calling thread,
which is where progress and cancellation are handled.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from vaultstore.errors import OperationCancelled

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], object]
PlannedFn = Callable[[int, bool], None]  # (bytes to read, whether any disk is incremental)


_buffers = threading.local()


def thread_buffer(size: int) -> memoryview:
    """This thread's work buffer, at least ``size`` bytes, valid until the thread's next job.

    Reusing it matters here: a fresh multi-MiB buffer per job is faulted in page by page (and zeroed) by the
    kernel, which cost more CPU than moving the bytes through it.
    """
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _buffers.buffer = bytearray(size)
    return memoryview(buffer)[:size]


def is_zero(data: bytes | bytearray | memoryview, zero: bytes) -> bool:
    """All zero bytes? (``zero`` is at least as long.) A memoryview compared element by element is ~60x slower
    than bytes, so most data is told apart by its first bytes and only candidates are copied and compared whole."""
    return not any(data[:64]) and bytes(data) == zero[:len(data)]


def check_cancel(cancel: CancelFn | None, what: str) -> None:
    """Run the caller's check: it may raise its own exception, or return True to stop."""
    if cancel is not None and cancel():
        raise OperationCancelled(f"The {what} was cancelled; nothing was published.")


def run_bounded(workers: int, jobs: Iterable[Any], work: Callable[[Any], Any], collect: Callable[[Any], None],
                cancel: CancelFn | None, what: str) -> None:
    inflight: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=what) as pool:
        try:
            for job in jobs:
                check_cancel(cancel, what)
                while len(inflight) >= 2 * workers:
                    collect(inflight.popleft().result())
                inflight.append(pool.submit(work, job))
            while inflight:
                check_cancel(cancel, what)
                collect(inflight.popleft().result())
        except BaseException:
            # Queued jobs are dropped; running ones finish before the pool exits (they are short).
            for future in inflight:
                future.cancel()
            raise
