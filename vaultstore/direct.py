"""Reading pack bytes around the page cache.

Pack bytes are read once per restore, verify or incremental backup, usually
long after they were written, so they are cold. Read through the page cache,
each GiB cost ~1.9 s of kernel CPU here (new page-cache pages), more than
decompressing and hashing it; read with ``O_DIRECT`` it cost ~0.1 s and the
disk delivered them faster too. A direct read must be aligned, so the
enclosing aligned span is read into this thread's page-aligned buffer and the
asked bytes are copied out. Filesystems that refuse ``O_DIRECT`` (tmpfs), and
systems without it, get an ordinary read.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
from pathlib import Path

ALIGN = 4096
_MIN_BUFFER = 4 << 20
_local = threading.local()


def _aligned_buffer(size: int) -> mmap.mmap:
    """This thread's page-aligned buffer (an anonymous mapping starts on a page), at least ``size`` bytes."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None or len(buffer) < size:
        if buffer is not None:
            buffer.close()
        buffer = _local.buffer = mmap.mmap(-1, max(_MIN_BUFFER, -(-size // ALIGN) * ALIGN))
    return buffer


def _open_direct(path: Path) -> int | None:
    """An O_DIRECT descriptor, or None where the filesystem or system has none (FileNotFoundError propagates)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC | flag)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return None
        raise


def read_uncached(path: Path, offset: int, length: int) -> bytes:
    """``length`` bytes of ``path`` at ``offset`` (fewer at its end), leaving nothing in the page cache."""
    fd = _open_direct(path)
    if fd is not None:
        try:
            start = offset - offset % ALIGN
            span = -(-(offset + length - start) // ALIGN) * ALIGN
            buffer = _aligned_buffer(span)
            try:
                got = os.preadv(fd, [memoryview(buffer)[:span]], start)
                return buffer[offset - start:min(offset - start + length, got)]
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: this device wants another alignment; read it below
                    raise
        finally:
            os.close(fd)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.pread(fd, length, offset)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)  # read once: let the pages go at once
        return data
    finally:
        os.close(fd)
