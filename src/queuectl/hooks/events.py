"""Event names, the body every hook receives, and when a failed delivery is tried again."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..timeutil import to_iso

#: The job events a hook can subscribe to (``--events``), in lifecycle order.
JOB_EVENTS = ("enqueued", "started", "completed", "failed", "dead", "cancelled")
DEFAULT_EVENTS = ("completed", "dead")
#: What ``hook test`` sends.
TEST_EVENT = "hook.test"

RETRY_FIRST = 1.0  # seconds before the first retry
RETRY_CAP = 600.0  # the longest wait between two tries
DEFAULT_RETRY_WINDOW = 86400.0  # config hook_retry_window: how long a delivery keeps trying


def event_type(name: str) -> str:
    """``completed`` -> ``job.completed``: dotted, as Standard Webhooks recommends."""
    return f"job.{name}"


def parse_events(text: str) -> tuple[str, ...]:
    """``--events completed,dead`` (``job.completed`` also accepted) -> names in lifecycle
    order, each once."""
    names = {part.strip().removeprefix("job.") for part in text.split(",") if part.strip()}
    if not names:
        raise ValidationError(f"--events needs at least one of {', '.join(JOB_EVENTS)}")
    for name in sorted(names - set(JOB_EVENTS)):
        close = difflib.get_close_matches(name, JOB_EVENTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValidationError(f"unknown event {name!r}{hint}; events are {', '.join(JOB_EVENTS)}")
    return tuple(name for name in JOB_EVENTS if name in names)


def body(
    type_: str,
    timestamp: float,
    job: Mapping[str, Any] | None,
    attempt: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON body of SPEC §13, compact: the bytes sent are the bytes signed, so the
    body is built once and stored with the event, never re-serialised per try."""
    event = {
        "type": type_,
        "timestamp": to_iso(timestamp),
        "data": {"job": job, "attempt": attempt},
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def retry_delay(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failed try: 1, 2, 4, ... capped at 10 min."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    # 2 ** 10 s already passes the cap; stopping there keeps the power small.
    return min(RETRY_CAP, RETRY_FIRST * float(2 ** min(failures - 1, 10)))


def next_try(
    first_try_at: float, last_try_at: float, failures: int, window: float = DEFAULT_RETRY_WINDOW
) -> float | None:
    """When to try again after a failed try, or None once that would pass the retry window
    (measured from the first try, so time spent waiting for a supervisor is not counted):
    the delivery is then marked failed."""
    at = last_try_at + retry_delay(failures)
    return at if at <= first_try_at + window else None
