"""The worker log: one line per event, as ``key=value`` pairs that are easy to grep and
parse, or (``json``) as JSON Lines, one object per event.

``quiet`` drops the routine per-job events (a job started, completed, failed or went to the
DLQ); lifecycle lines (started, stopping, stopped, crashes, store outages) and the rare
per-job warnings (a job interrupted, recovered or abandoned) always stay.
"""

from __future__ import annotations

import json
import os
import sys

from ..timeutil import now, to_iso

ROUTINE = frozenset({"job_started", "job_completed", "job_failed", "job_dead"})


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t') and len(text) <= 200:
        return text
    if len(text) > 200:
        text = text[:197] + "..."
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class EventLog:
    def __init__(
        self, who: str, fd: int | None = None, quiet: bool = False, json: bool = False
    ) -> None:
        self.who = who  # "supervisor=PID" or "worker=PID"
        self.fd = sys.stderr.fileno() if fd is None else fd
        self.quiet = quiet
        self.json = json

    def renamed(self, who: str) -> EventLog:
        """The same log for another process (a worker forked by the supervisor)."""
        return EventLog(who, self.fd, self.quiet, self.json)

    def __call__(self, action: str, **fields: object) -> None:
        if self.quiet and action in ROUTINE:
            return
        stamp = to_iso(now()) or ""
        if self.json:
            role, _, pid = self.who.partition("=")
            doc: dict[str, object] = {"time": stamp, role: int(pid), "action": action}
            doc.update((k, v) for k, v in fields.items() if v is not None)
            line = json.dumps(doc, ensure_ascii=False, default=str) + "\n"
        else:
            parts = [stamp, self.who, f"action={action}"]
            parts.extend(f"{k}={_quote(v)}" for k, v in fields.items() if v is not None)
            line = " ".join(parts) + "\n"
        try:
            # One write per line keeps lines whole across processes.
            os.write(self.fd, line.encode("utf-8", "replace"))
        except OSError:
            pass
