"""What every command handler gets: the store (opened on first use) and output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..api import Queue
from ..store import is_postgres, resolve


class Context:
    def __init__(self, db: str | None, json: bool = False) -> None:
        self.db = db
        self.json = json
        self._queue: Queue | None = None
        # A store is created on first use (seed scripts rely on it), but a typo in --db or
        # QUEUECTL_DB must not pass for an empty queue: every command that creates one says so.
        self.announce_created = True

    def queue(self, create: bool = False) -> Queue:
        """Open the store only once the input is known to be valid.

        ``create``: the command writes and may create a store that does not exist yet
        (`init`, an enqueue, `worker start`/`stop`, `config set`/`unset`, `web`). Reading
        commands do so only on SQLite (seed scripts run `queuectl list` first); on
        PostgreSQL they read a missing schema as an empty store and create nothing, so
        that no read makes one behind the back of workers whose schema an administrator
        dropped.
        """
        if create and self._queue is not None and self._queue.missing:
            self.close()
        if self._queue is None:
            url = resolve(self.db)
            create = create or not is_postgres(url)
            self._queue = Queue(url, create=create, missing_ok=True, on_wait=self.tell)
            if self._queue.created and self.announce_created:
                sys.stderr.write(f"created a new empty store at {self._queue.location}\n")
        return self._queue

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    def emit_json(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    def say(self, text: str) -> None:
        sys.stdout.write(text + "\n")

    def tell(self, text: str) -> None:
        """A note for the person at the terminal (what a wait is for): stderr, terminals only."""
        if sys.stderr.isatty():
            sys.stderr.write(text + "\n")
            sys.stderr.flush()


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def seconds(text: str) -> float:
    from ..timeutil import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
