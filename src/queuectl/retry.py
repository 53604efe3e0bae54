"""The retry policy: pure functions, no clock and no store.

After the k-th failed attempt the delay before the next one is::

    delay = min(max_backoff, backoff_base ** k) * (1 + backoff_jitter * u),  u in [0, 1)

``max_retries`` is the most attempts a job gets, as the seed READMEs define it: after a
failed attempt, a job with ``attempts >= max_retries`` is dead. So 3 means at most 3 runs,
and 0 and 1 both mean one run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import NamedTuple

from .states import Event


def backoff_delay(
    failures: int,
    base: float,
    cap: float,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the ``failures``-th failed attempt (``failures`` >= 1)."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    # base ** k overflows a float long before k gets large; compare in log space instead.
    if base <= 1.0:
        delay = min(cap, 1.0)
    elif failures * math.log(base) >= math.log(cap):
        delay = cap
    else:
        delay = base**failures
    if jitter > 0.0:
        delay += delay * jitter * rand()
    return delay


class Decision(NamedTuple):
    """What happens to a job after a failed attempt."""

    event: Event  # RETRY or BURY
    delay: float | None  # seconds until the retry; None when buried


def decide(
    attempts: int,
    max_retries: int,
    base: float,
    cap: float,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> Decision:
    """Decide after the ``attempts``-th attempt failed (``attempts`` >= 1)."""
    if attempts >= max_retries:
        return Decision(Event.BURY, None)
    return Decision(Event.RETRY, backoff_delay(attempts, base, cap, jitter, rand))
