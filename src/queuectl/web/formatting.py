"""How values read on a page: times, ages, durations, sizes and captured output.

Each is a Jinja2 filter. They return plain text; the templates escape it like any other value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import config as cfg
from ..timeutil import now, to_iso

__all__ = ["FILTERS", "now"]


def iso(ts: float | None) -> str:
    text = to_iso(ts)
    return "" if text is None else text[:19].replace("T", " ") + "Z"


def span(seconds: float) -> str:
    """``850ms``, ``12s``, ``4m 10s``, ``3h 5m``, ``2d 4h``."""
    s = abs(seconds)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    units = ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s"))
    for size, name, sub, sub_name in units:
        if s >= size:
            whole, rest = divmod(int(s), size)
            return f"{whole}{name} {rest // sub}{sub_name}" if rest // sub else f"{whole}{name}"
    return f"{s:.0f}s"


def ago(ts: float | None) -> str:
    """``12s ago`` or ``in 4m`` relative to now."""
    if ts is None:
        return ""
    delta = now() - ts
    return f"{span(delta)} ago" if delta >= 0 else f"in {span(delta)}"


def duration(seconds: float | None) -> str:
    return "" if seconds is None else span(seconds)


def output(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def number(value: Any) -> str:
    return cfg.format_value(value) if isinstance(value, int | float) else str(value)


FILTERS: dict[str, Callable[..., str]] = {
    "iso": iso,
    "ago": ago,
    "duration": duration,
    "output": output,
    "number": number,
}
