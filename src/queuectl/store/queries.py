"""Named SQL statements, one file per dialect.

Each statement in ``sql/<dialect>/queries.sql`` starts with a ``-- name: <name>`` line.
Code refers to statements by name only, and no statement is ever built from user text.
Migrations are the numbered files in ``sql/<dialect>/migrations``.
"""

from __future__ import annotations

import os
import re

SQL_DIR = os.path.join(os.path.dirname(__file__), "sql")
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")


def load_queries(dialect: str) -> dict[str, str]:
    with open(os.path.join(SQL_DIR, dialect, "queries.sql"), encoding="utf-8") as f:
        text = f.read()
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise RuntimeError(f"query {name!r} is defined twice in {dialect}/queries.sql")
        queries[name] = body.strip()
    return queries


def load_migrations(dialect: str) -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` in order; versions must run 1, 2, 3, ... without gaps."""
    folder = os.path.join(SQL_DIR, dialect, "migrations")
    found = []
    for name in sorted(os.listdir(folder)):
        match = _MIGRATION.match(name)
        if match:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                found.append((int(match.group(1)), match.group(2), f.read()))
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {version:04d}_{name} is out of sequence")
    return found
