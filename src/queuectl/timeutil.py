"""Time as float seconds since the epoch (UTC), and its text forms."""

from __future__ import annotations

import math
import re
import time

now = time.time

# ISO 8601 (and so every timestamp queuectl prints or reads) has four-digit years: 1-9999.
EARLIEST = -62135596800.0  # 0001-01-01T00:00:00Z
LATEST = 253402300799.999  # 9999-12-31T23:59:59.999Z
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*")


def to_iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a ``Z``: ``2026-11-22T09:30:00.250Z``."""
    if ts is None:
        return None
    whole = math.floor(ts)
    millis = min(999, round((ts - whole) * 1000))
    t = time.gmtime(whole)
    # Not strftime("%Y"): it leaves years before 1000 unpadded, which no parser accepts.
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"
    )


def check_time(ts: float, text: str) -> float:
    """``ts`` if it can be written as ISO 8601 (years 1-9999 in UTC), else ValueError."""
    if not EARLIEST <= ts <= LATEST:
        raise ValueError(
            f"{text} is outside the years 1-9999 (UTC), which is all a timestamp can hold"
        )
    return ts


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 timestamp that names its zone (``Z`` or an offset)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected an ISO 8601 timestamp such as 2030-01-31T09:00:00Z")
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 timestamp (e.g. 2030-01-31T09:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z for UTC or an offset like +02:00")
    return check_time(parsed.timestamp(), repr(text))


def parse_duration(text: str) -> float:
    """Seconds from ``30``, ``2.5``, ``90s``, ``5m``, ``2h`` or ``1d``."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (use seconds, or a number with s, m, h or d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float | None) -> str:
    """Short human form: ``850ms``, ``12.5s``, ``4m05s``, ``3h10m``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{seconds / 86400:.1f}d"
