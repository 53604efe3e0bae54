"""The stores' SQL agrees with the lifecycle table: every state guard in the named statements
is rendered from it, and the migrated schema (the ``state`` CHECK constraint and the partial
indexes) says what the table says. Adding a state without its migration fails here."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from queuectl import lifecycle
from queuectl.lifecycle import CLAIMABLE, LIVE, Event, State
from queuectl.store import Store
from queuectl.store.queries import NAMED_SETS, SQL_DIR, condition, load_queries, render_states

DIALECTS = ("sqlite", "postgres")
#: The partial indexes on jobs, and the set of the lifecycle each one serves.
PARTIAL_INDEXES = {
    "jobs_claim": CLAIMABLE,
    "jobs_claim_queue": CLAIMABLE,
    "jobs_due": CLAIMABLE,
    "jobs_lease": LIVE,
}
STATE_LITERAL = re.compile("|".join(f"'{s.value}'" for s in State))
PLACEHOLDER = re.compile(r"\{([a-z]+(?::[a-z|]+)?)\}")
# A rendered guard: ``state = 'x'`` or ``state IN ('x', 'y')``, with an optional alias.
GUARD = re.compile(r"(?:\w+\.)?state (?:= '(\w+)'|IN \(((?:'\w+'(?:, )?)+)\))")


def raw(dialect: str) -> str:
    return (Path(SQL_DIR) / dialect / "queries.sql").read_text()


def states_in(text: str) -> frozenset[State]:
    return frozenset(State(name) for name in re.findall(r"'(\w+)'", text))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_statement_spells_a_state(dialect: str) -> None:
    assert STATE_LITERAL.findall(raw(dialect)) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_placeholder_renders_from_the_table(dialect: str) -> None:
    found = set(PLACEHOLDER.findall(raw(dialect))) - {
        "job_columns",  # not a state: the job columns
        "pick",  # PostgreSQL's claim templates
        "claim_ctes",
        "schema",  # identifiers, composed by psycopg
        "channel",
    }
    assert found, "statements guard their moves"
    for name in found:
        kind, _, arg = name.partition(":")
        rendered = render_states("{" + name + "}")
        if kind == "from":
            expected = lifecycle.sources(*(Event(e) for e in arg.split("|")))
            assert rendered == condition(expected)
        elif kind == "to":
            assert rendered == f"'{lifecycle.target(Event(arg))}'"
        elif kind == "initial":
            assert rendered == f"'{lifecycle.INITIAL}'"
        else:
            assert rendered == condition(NAMED_SETS[kind]), name


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_rendered_guard_is_a_set_of_the_table(dialect: str) -> None:
    """What reaches the database: each ``state`` condition of each statement is one of the
    table's sets, listed in the order that partial indexes are written in."""
    known = set(NAMED_SETS.values()) | {lifecycle.sources(e) for e in Event}
    known |= {lifecycle.sources(*lifecycle.RESULTS)} | {frozenset({s}) for s in State}
    guards = 0
    for name, text in load_queries(dialect).items():
        for one, several in GUARD.findall(text):
            states = states_in(several) if several else frozenset({State(one)})
            assert states in known, (name, states)
            assert (several or f"'{one}'") in condition(states), name
            guards += 1
    assert guards >= 25


def test_an_unknown_event_or_set_is_refused() -> None:
    with pytest.raises(ValueError):
        render_states("{from:explode}")
    assert render_states("{nothing}") == "{nothing}"  # not ours: left for its owner


def test_sqlite_statements_repeat_their_partial_index_predicate() -> None:
    """SQLite uses a partial index (and allows INDEXED BY it) only for a query whose WHERE
    clause contains the index's predicate as written."""
    checked = 0
    for name, text in load_queries("sqlite").items():
        for index in re.findall(r"INDEXED BY (\w+)", text):
            if index in PARTIAL_INDEXES:
                assert condition(PARTIAL_INDEXES[index]) in text, (name, index)
                checked += 1
    assert checked >= 6


# --- the migrated schema ----------------------------------------------------------------


def schema_of(store: Store) -> tuple[set[State], dict[str, str]]:
    """The states the CHECK constraint allows, and each index's predicate (or "")."""
    if store.url.startswith("postgres"):
        from queuectl.store.urls import parse_url

        target = parse_url(store.url)
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            (check,) = conn.execute(
                "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint AS c"
                " JOIN pg_namespace AS n ON n.oid = c.connamespace"
                " WHERE n.nspname = %s AND c.conrelid = (%s || '.jobs')::regclass"
                " AND c.contype = 'c'",
                (target.schema, target.schema),
            ).fetchone() or ("",)
            rows = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = %s AND tablename = 'jobs'",
                (target.schema,),
            ).fetchall()
        indexes = {name: d.split(" WHERE ", 1)[1] if " WHERE " in d else "" for name, d in rows}
        return set(states_in(check)), indexes
    conn = sqlite3.connect(store.url)
    try:
        (table,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'jobs'").fetchone()
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'jobs'"
            " AND sql IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    check = re.search(r"CHECK \(state IN\s*\(([^)]*)\)\)", table)
    assert check is not None
    indexes = {name: sql.split(" WHERE ", 1)[1] if " WHERE " in sql else "" for name, sql in rows}
    return set(states_in(check.group(1))), indexes


def test_the_schema_agrees_with_the_table(store: Store) -> None:
    allowed, indexes = schema_of(store)
    assert allowed == set(State), "a new state needs a migration that allows it"
    for name, predicate in indexes.items():
        if "state" not in predicate:
            continue  # not partial on a state (the primary key, jobs_state, ...)
        assert name in PARTIAL_INDEXES, f"{name}: say which set it serves in PARTIAL_INDEXES"
        assert states_in(predicate) == PARTIAL_INDEXES[name], name
    assert set(PARTIAL_INDEXES) <= set(indexes)
