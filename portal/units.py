"""Quantities as the classic portal wrote them."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

# The one name of each size the pages show (job properties, the protected item's page, restore results), so a
# disk's provisioned size is never read as the data in it. Job properties keep these untranslated names (they are
# stored); the pages translate them as they show them.
DISK_SIZE = gettext_noop("Disk size (provisioned)")     # the disks' full size, empty space included
DATA_BACKED_UP = gettext_noop("Data backed up")          # the bytes in use on the disks the point holds
DATA_TRANSFERRED = gettext_noop("Data transferred")      # the bytes a backup read from the disks this time
NEW_DATA_STORED = gettext_noop("New data stored")        # the bytes the point added to the vault, compressed
DATA_RESTORED = gettext_noop("Data restored")            # the bytes a restore wrote to the new disks


def human_bytes(count: int) -> str:
    """1536000 -> "1.5 MB" (decimal units, as the classic portal showed sizes)."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return _("%(count)d bytes") % {"count": int(size)} if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return _("%(count)d bytes") % {"count": count}


def human_rate(bytes_per_second: float) -> str:
    """112400000.0 -> "112.4 MB/s"."""
    return f"{human_bytes(int(max(0.0, bytes_per_second)))}/s"


def human_duration(seconds: float) -> str:
    """65 -> "1 min 5 s", 4000 -> "1 h 6 min": short enough for a chart's axis and its table."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        if rest:
            return _("%(min)d min %(s)d s") % {"min": minutes, "s": rest}
        return _("%(min)d min") % {"min": minutes}
    hours, minutes = divmod(seconds // 60, 60)
    if minutes:
        return _("%(h)d h %(min)d min") % {"h": hours, "min": minutes}
    return _("%(h)d h") % {"h": hours}


def human_time_left(seconds: float) -> str:
    """An estimate worded as one: "a few seconds left", "less than a minute left", "about 2 min left"."""
    if seconds < 10:
        return _("a few seconds left")
    if seconds < 60:
        return _("less than a minute left")
    if seconds < 3600:
        return _("about %(min)d min left") % {"min": max(1, round(seconds / 60))}
    hours, minutes = divmod(round(seconds / 60), 60)
    if minutes:
        return _("about %(h)d h %(min)d min left") % {"h": hours, "min": minutes}
    return _("about %(h)d h left") % {"h": hours}
