"""The retry backoff: a pure function, no clock and no store.

After the k-th failed attempt the delay before the next one is::

    delay = min(max_backoff, backoff_base ** k) * (1 + backoff_jitter * u),  u in [0, 1)

Whether there is a next attempt at all is the lifecycle's decision
(``lifecycle.after_attempt``).
"""

from __future__ import annotations

import math
from collections.abc import Callable


def backoff_delay(
    failures: int,
    base: float,
    cap: float,
    jitter: float = 0.0,
    rand: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait after the ``failures``-th failed attempt (``failures`` >= 1);
    ``rand`` draws ``u`` (default ``random.random``)."""
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
        if rand is None:
            import random  # only here: the CLI's start-up does not need it

            rand = random.random
        delay += delay * jitter * rand()
    return delay
