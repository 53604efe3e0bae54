"""Where a store is: paths and URLs, as users write them and as the stores need them.

A plain path or ``sqlite:///path`` is SQLite; ``postgresql://`` or ``postgres://`` is
PostgreSQL. Nothing here connects to anything; a PostgreSQL URL is split with the driver's
own parser, imported only then.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from ..errors import UsageError

DEFAULT_SCHEMA = "queuectl"
SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
NAME_LIMIT = 63  # PostgreSQL truncates identifiers (and refuses channel names) beyond this

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
    from urllib.parse import unquote  # only here: `import queuectl` stays without it

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


# --- PostgreSQL ---------------------------------------------------------------------


class Target(NamedTuple):
    """What a PostgreSQL store URL says, split for libpq, for people and for messages."""

    conninfo: str  # the URL without the ``schema`` parameter, for libpq
    schema: str
    location: str  # the URL with any password masked
    where: str  # host:port/db, for error messages
    secrets: tuple[str, ...]  # text that must never appear in a message


def validate_schema(name: str) -> str:
    if not SCHEMA_PATTERN.fullmatch(name) or name.startswith("pg_"):
        raise UsageError(
            f"invalid schema name {name!r} in the PostgreSQL URL: use 1-63 lowercase letters,"
            " digits and underscores, not starting with a digit or 'pg_'"
        )
    return name


def parse_url(url: str) -> Target:
    """Split ``postgresql://user:pw@host:port/db?schema=NAME&...`` (see ``Target``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UsageError("a PostgreSQL URL starts with postgresql:// or postgres://")
    from urllib.parse import unquote

    base, _, query = rest.partition("?")
    secrets: list[str] = []

    authority, slash, path = base.partition("/")
    if "@" in authority:
        user, colon, password = authority.rsplit("@", 1)[0].partition(":")
        if colon:
            secrets.append(unquote(password))

    kept: list[str] = []
    schemas: list[str] = []
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        key = unquote(key)
        if key == "schema":
            schemas.append(unquote(value))
            continue
        kept.append(item)
        if key == "password":
            secrets.append(unquote(value))
    if len(schemas) > 1:
        raise UsageError("the PostgreSQL URL names more than one schema")
    schema = validate_schema(schemas[0] if schemas else DEFAULT_SCHEMA)

    location = without_password(url)
    conninfo = f"{scheme}://{authority}{slash}{path}" + ("?" + "&".join(kept) if kept else "")
    found = [s for s in secrets if s]
    import psycopg  # only here: parsing a PostgreSQL URL needs its driver anyway
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise UsageError(
            f"invalid PostgreSQL URL {location}: {one_line(exc, tuple(found))}"
        ) from None
    if params.get("password"):
        found.append(str(params["password"]))
    host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    user = str(params.get("user") or os.environ.get("PGUSER") or _os_user())
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    return Target(conninfo, schema, location, f"{host}:{port}/{dbname}", tuple(found))


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def one_line(exc: BaseException, secrets: tuple[str, ...]) -> str:
    text = " ".join(str(exc).split())
    for prefix in ("connection failed: ", "consuming input failed: "):
        text = text.removeprefix(prefix)
    for secret in secrets:
        # libpq never quotes a password back; this is a second line of defence, which a
        # password of one or two characters would turn into unreadable noise.
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text or type(exc).__name__


def channel_for(schema: str) -> str:
    # Two long schema names sharing a prefix would share a channel: that only costs
    # spurious wake-ups, never a missed one.
    return f"queuectl_{schema}"[:NAME_LIMIT]
