"""Quantities as the classic portal wrote them."""

from __future__ import annotations


def human_bytes(count: int) -> str:
    """1536000 -> "1.5 MB" (decimal units, as the classic portal showed sizes)."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} bytes"
