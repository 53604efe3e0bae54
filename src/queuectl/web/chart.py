"""The overview's chart: attempts completed and failed per minute, drawn on the server.

The geometry is computed here and the template writes it out as SVG ``rect`` elements with
classes (the Content-Security-Policy allows no inline style), so the chart needs no script
and no chart library.
"""

from __future__ import annotations

from typing import NamedTuple

from ..models import MinuteCount
from ..timeutil import to_iso

WIDTH = 600.0
HEIGHT = 120.0
GAP = 1.0


class Bar(NamedTuple):
    x: float
    width: float
    ok_y: float
    ok_height: float
    bad_y: float
    bad_height: float
    label: str  # the tooltip: the minute and its counts


class Chart(NamedTuple):
    bars: list[Bar]
    top: int  # the value at the top edge
    completed: int
    failed: int
    width: float = WIDTH
    height: float = HEIGHT


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def draw(minutes: list[MinuteCount]) -> Chart:
    """Stacked bars, completed below failed, one per minute, oldest on the left."""
    top = nice_ceiling(max([m.completed + m.failed for m in minutes] + [1]))
    slot = WIDTH / max(len(minutes), 1)
    scale = HEIGHT / top
    bars = []
    for i, m in enumerate(minutes):
        ok_height = m.completed * scale
        bad_height = m.failed * scale
        when = (to_iso(m.start) or "")[11:16]
        bars.append(
            Bar(
                x=round(i * slot + GAP / 2, 2),
                width=round(max(slot - GAP, 0.5), 2),
                ok_y=round(HEIGHT - ok_height, 2),
                ok_height=round(ok_height, 2),
                bad_y=round(HEIGHT - ok_height - bad_height, 2),
                bad_height=round(bad_height, 2),
                label=f"{when} UTC: {m.completed} completed, {m.failed} failed",
            )
        )
    return Chart(
        bars,
        top,
        completed=sum(m.completed for m in minutes),
        failed=sum(m.failed for m in minutes),
    )
