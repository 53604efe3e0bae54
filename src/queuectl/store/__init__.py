"""Opening a store from a path or URL (see ``urls``).

The PostgreSQL driver is imported only when such a URL is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypedDict

from ..errors import UsageError
from .base import Store, Waker
from .urls import default_location, is_postgres, resolve, without_password, xdg_dir

__all__ = [
    "Store",
    "Waker",
    "default_location",
    "is_postgres",
    "open_store",
    "resolve",
    "without_password",
    "xdg_dir",
]


def store_timeout() -> float:
    """Seconds a call waits out a locked or unreachable store: ``QUEUECTL_STORE_TIMEOUT``
    (default 30, enough to ride out a database restart)."""
    raw = os.environ.get("QUEUECTL_STORE_TIMEOUT", "")
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise UsageError(
            f"QUEUECTL_STORE_TIMEOUT: expected seconds between 0 and 86400, got {raw!r}"
        )
    return value


class _Options(TypedDict):
    """What both stores' constructors take besides the location."""

    create: bool
    missing_ok: bool
    durable: bool
    busy_budget: float
    on_wait: Callable[[str], None] | None


def open_store(
    url: str,
    *,
    create: bool = True,
    missing_ok: bool = False,
    durable: bool = True,
    busy_budget: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Store:
    """Open (creating and migrating on first use) the store at a resolved location.

    ``create``: make the store if it does not exist yet; otherwise that is an error, or,
    with ``missing_ok``, the store reads as an empty one that refuses writes (``missing``).
    ``durable``: commit with a full sync (enqueues); workers pass False for cheaper commits.
    ``busy_budget``: how long one call may wait out a locked or unreachable store before it
    raises ``StoreUnavailable`` (default: ``store_timeout()``).
    ``on_wait``: told once, in a sentence, when a call starts waiting for the store (locked,
    or not answering), so that a person is not left looking at silence.
    """
    options = _Options(
        create=create,
        missing_ok=missing_ok,
        durable=durable,
        busy_budget=store_timeout() if busy_budget is None else busy_budget,
        on_wait=on_wait,
    )
    if is_postgres(url):
        from ..extras import require

        require("postgres", "a postgresql:// store")
        from .postgres import PostgresStore

        return PostgresStore(url, **options)
    from .sqlite import SqliteStore

    if create and url == default_location():
        os.makedirs(os.path.dirname(url), mode=0o700, exist_ok=True)
    return SqliteStore(url, **options)
