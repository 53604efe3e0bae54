"""Numbered migrations applied to stores made by an older queuectl (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3

from queuectl.lifecycle import State
from queuectl.models import Outcome
from queuectl.store import open_store

from .conftest import StoreFactory
from .test_contract import T0, claim, new, result

MAX_RETRIES_COUNTS_ATTEMPTS = 5


def roll_back_to(url: str, version: int) -> None:
    """Make a current store look as if it had been made at schema ``version``."""
    if url.startswith("postgresql://"):
        import psycopg
        from psycopg import sql

        from queuectl.store.urls import parse_url

        target = parse_url(url)
        table = sql.Identifier(target.schema, "queuectl_migrations")
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE version > %s").format(table), (version,))
        return
    conn = sqlite3.connect(url, isolation_level=None)
    try:
        conn.execute("DELETE FROM queuectl_migrations WHERE version > ?", (version,))
        conn.execute(f"PRAGMA user_version={version:d}")
    finally:
        conn.close()


def test_an_old_store_keeps_the_runs_its_jobs_were_promised(
    open_new: StoreFactory, db_url: str
) -> None:
    """Before migration 4, max_retries=3 meant 4 runs; it now means 3. Jobs that may still
    run (and dead ones, which `dlq retry` revives) get one more, as does a stored default;
    completed jobs are history and keep theirs."""
    store = open_new()
    states = ["pending", "processing", "failed", "dead", "completed"]
    store.insert_jobs([new(s, max_retries=3) for s in reversed(states)])  # claims oldest first
    for state in ("completed", "dead", "failed", "processing"):
        job = claim(store)
        assert job is not None and job.id == state
        if state == "completed":
            store.finish(job, result(ok=True), Outcome(State.COMPLETED, None))
        elif state == "dead":
            store.finish(job, result(ok=False), Outcome(State.DEAD, None))
        elif state == "failed":
            store.finish(job, result(ok=False), Outcome(State.FAILED, T0 + 60))
    store.insert_jobs([new("zero", max_retries=0)])
    store.config_set("max_retries", "5")
    store.close()
    roll_back_to(db_url, MAX_RETRIES_COUNTS_ATTEMPTS - 1)

    migrated = open_store(db_url)
    try:
        assert migrated.schema_version() >= MAX_RETRIES_COUNTS_ATTEMPTS
        budgets = {s: migrated.get_job(s).max_retries for s in [*states, "zero"]}  # type: ignore[union-attr]
        assert budgets == {
            "pending": 4,
            "processing": 4,
            "failed": 4,
            "dead": 4,
            "completed": 3,
            "zero": 1,  # one run before, one run now
        }
        assert migrated.get_job("processing").state is State.PROCESSING  # type: ignore[union-attr]
        assert migrated.config_items() == {"max_retries": "6"}
    finally:
        migrated.close()
    again = open_store(db_url)  # applied once: opening again changes nothing
    try:
        assert again.get_job("pending").max_retries == 4  # type: ignore[union-attr]
    finally:
        again.close()
