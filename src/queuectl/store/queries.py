"""Named SQL statements, one file per dialect.

Each statement in ``sql/<dialect>/queries.sql`` starts with a ``-- name: <name>`` line.
Code refers to statements by name only, and no statement is ever built from user text.
Migrations are the numbered files in ``sql/<dialect>/migrations``.

Statements never spell a job state: they name it after the lifecycle's table, and loading
renders that (see ``render_states``), so SQL and Python guard every move by one rule:

* ``{claimable}``, ``{live}``, ``{dlq}``: ``state IN (...)`` over that set of ``lifecycle``
  (``state = '...'`` when it has one state; prefix a table alias as ``j.{live}``);
* ``{from:EVENT}`` (or ``{from:EVENT|EVENT}``): the states the event may start from;
* ``{to:EVENT}``: the state the event leads to, and ``{initial}`` a new job's, as literals.

Migrations keep their literals: they are history, and a changed set needs a new one.
"""

from __future__ import annotations

import os
import re

from .. import lifecycle
from ..lifecycle import Event, State

SQL_DIR = os.path.join(os.path.dirname(__file__), "sql")
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")
_STATES = re.compile(r"\{(claimable|live|dlq|initial|from:[a-z|]+|to:[a-z]+)\}")

#: The sets a statement may name, as ``{name}``.
NAMED_SETS: dict[str, frozenset[State]] = {
    "claimable": lifecycle.CLAIMABLE,
    "live": lifecycle.LIVE,
    "dlq": lifecycle.DLQ,
}


def literal(state: State) -> str:
    return f"'{state.value}'"


def condition(states: frozenset[State]) -> str:
    """``state = 'a'`` or ``state IN ('a', 'b')``, in the order ``State`` declares them:
    SQLite uses a partial index only for a query that repeats its predicate as written."""
    ordered = [s for s in State if s in states]
    if not ordered:
        raise ValueError("a guard over no state at all")
    if len(ordered) == 1:
        return f"state = {literal(ordered[0])}"
    return f"state IN ({', '.join(map(literal, ordered))})"


def render_states(text: str) -> str:
    """``text`` with its lifecycle placeholders rendered (see the module docstring)."""

    def one(match: re.Match[str]) -> str:
        kind, _, arg = match.group(1).partition(":")
        if kind == "from":
            return condition(lifecycle.sources(*(Event(e) for e in arg.split("|"))))
        if kind == "to":
            return literal(lifecycle.target(Event(arg)))
        if kind == "initial":
            return literal(lifecycle.INITIAL)
        return condition(NAMED_SETS[kind])

    return _STATES.sub(one, text)


def load_queries(dialect: str) -> dict[str, str]:
    with open(os.path.join(SQL_DIR, dialect, "queries.sql"), encoding="utf-8") as f:
        text = render_states(f.read())
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
