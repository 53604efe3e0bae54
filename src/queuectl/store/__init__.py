"""Opening a store from a path or URL.

A plain path or ``sqlite:///path`` is SQLite; ``postgresql://`` or ``postgres://`` is
PostgreSQL. The PostgreSQL driver is imported only when such a URL is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypedDict

from ..errors import UsageError
from .base import Store, Waker

__all__ = [
    "Store",
    "Waker",
    "default_location",
    "is_postgres",
    "open_store",
    "resolve",
    "without_password",
]

PG_SCHEMES = ("postgresql://", "postgres://")


def xdg_dir(variable: str, fallback: str) -> str:
    """``$XDG_DATA_HOME`` and friends; as the XDG spec says, a relative path is ignored."""
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return value
    return os.path.join(os.path.expanduser("~"), fallback)


def default_location() -> str:
    return os.path.join(xdg_dir("XDG_DATA_HOME", ".local/share"), "queuectl", "queuectl.db")


def is_postgres(url: str) -> bool:
    return url.startswith(PG_SCHEMES)


def without_password(url: str, mask: str | None = "***") -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by
    ``mask``, or left out when ``mask`` is None. A path comes back unchanged."""
    if not is_postgres(url):
        return url
    from urllib.parse import unquote

    scheme, _, rest = url.partition("://")
    base, _, query = rest.partition("?")
    authority, slash, path = base.partition("/")
    if "@" in authority:
        userinfo, hosts = authority.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        if colon:
            authority = f"{user}@{hosts}" if mask is None else f"{user}:{mask}@{hosts}"
    params = []
    for item in query.split("&") if query else []:
        if unquote(item.partition("=")[0]) != "password":
            params.append(item)
        elif mask is not None:
            params.append(f"password={mask}")
    return f"{scheme}://{authority}{slash}{path}" + ("?" + "&".join(params) if params else "")


def resolve(db: str | os.PathLike[str] | None) -> str:
    """The store a command uses: ``--db``, else ``QUEUECTL_DB``, else the default path.

    SQLite paths come back absolute (relative ones are taken from the current directory),
    so a detached worker that changes directory still finds the same file.
    """
    raw = os.fspath(db) if db is not None else os.environ.get("QUEUECTL_DB") or ""
    if not raw:
        return default_location()
    if is_postgres(raw):
        return raw
    if raw.startswith("sqlite:"):
        # The usual URL convention (SQLAlchemy's): sqlite:///queue.db is relative to the
        # current directory, sqlite:////var/lib/queue.db absolute; sqlite:queue.db works too.
        raw = raw[len("sqlite:") :]
        if raw.startswith("//"):
            if not raw.startswith("///"):
                raise UsageError(
                    "a sqlite:// URL has no host: use sqlite:///relative/path.db or"
                    " sqlite:////absolute/path.db"
                )
            raw = raw[3:]
        if not raw:
            raise UsageError("sqlite: URL without a path")
    elif "://" in raw:
        scheme = raw.split("://", 1)[0]
        raise UsageError(f"unsupported store URL scheme {scheme!r}; use a path or postgresql://")
    return os.path.abspath(os.path.expanduser(raw))


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
