"""Process-wide allocator settings for processes that move disk bytes (workers, and the bench acting as one).

glibc returns large freed blocks to the kernel at once (each multi-MiB buffer
is its own mapping, and the top of the heap is trimmed past 128 KiB). The next
buffer of the same size is then faulted in again page by page and zeroed: in
a backup or a restore, which allocate and free MiB-sized buffers thousands of
times, that cost more kernel CPU than the copies themselves (measured with
bench/backup.py: about a second per GiB restored). Keeping blocks up to 32 MiB
in the heap, and up to 256 MiB of free heap before trimming, recycles the same
memory instead. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20   # glibc's largest allowed value
TRIM_THRESHOLD = 256 << 20


def recycle_large_buffers() -> bool:
    """Apply the settings above; False when the C library has no ``mallopt``."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
