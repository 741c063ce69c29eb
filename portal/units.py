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


def human_rate(bytes_per_second: float) -> str:
    """112400000.0 -> "112.4 MB/s"."""
    return f"{human_bytes(int(max(0.0, bytes_per_second)))}/s"


def human_duration(seconds: float) -> str:
    """65 -> "1 min 5 s", 4000 -> "1 h 6 min": short enough for a chart's axis and its table."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def human_time_left(seconds: float) -> str:
    """An estimate worded as one: "a few seconds left", "less than a minute left", "about 2 min left"."""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        return f"about {max(1, round(seconds / 60))} min left"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"
