"""One line per event on stderr, as ``key=value`` pairs that are easy to grep and parse."""

from __future__ import annotations

import os
import sys

from ..timeutil import now, to_iso


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t') and len(text) <= 200:
        return text
    if len(text) > 200:
        text = text[:197] + "..."
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class EventLog:
    def __init__(self, who: str, fd: int | None = None, quiet: bool = False) -> None:
        self.who = who
        self.fd = sys.stderr.fileno() if fd is None else fd
        self.quiet = quiet

    def __call__(self, action: str, **fields: object) -> None:
        if self.quiet:
            return
        parts = [to_iso(now()) or "", self.who, f"action={action}"]
        parts.extend(f"{k}={_quote(v)}" for k, v in fields.items() if v is not None)
        line = (" ".join(parts) + "\n").encode("utf-8", "replace")
        try:
            os.write(self.fd, line)  # one write per line keeps lines whole across processes
        except OSError:
            pass
