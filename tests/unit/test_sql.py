"""The named-query files: every statement parses and runs against a migrated store."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from queuectl.store.base import JOB_COLUMNS
from queuectl.store.queries import load_migrations, load_queries
from queuectl.store.sqlite import APPLICATION_ID, SqliteStore

SRC = Path(__file__).resolve().parents[2] / "src" / "queuectl"


def test_every_sqlite_query_is_valid(tmp_path: Path) -> None:
    SqliteStore(str(tmp_path / "q.db")).close()
    conn = sqlite3.connect(tmp_path / "q.db")
    queries = load_queries("sqlite")
    # The multi-row insert is a head and a row group, put together by the store.
    queries["insert_jobs"] += "\n" + ",\n".join([queries.pop("insert_job_row")] * 3)
    for name, sql in queries.items():
        sql = sql.replace("{job_columns}", JOB_COLUMNS)
        # EXPLAIN compiles the statement without running it; parameters need not be bound.
        named = set(re.findall(r"(?<!:):(\w+)", sql))
        if named:
            conn.execute(f"EXPLAIN {sql}", dict.fromkeys(named))
            continue
        params = re.findall(r"\?(\d*)", sql)
        count = max([int(p) for p in params if p] + [len([p for p in params if not p])] + [0])
        conn.execute(f"EXPLAIN {sql}", [None] * count)
        assert name.isidentifier()


def test_every_query_name_is_used() -> None:
    # base.py names the statements that both stores share (the dashboard's pages).
    code = (SRC / "store" / "sqlite.py").read_text() + (SRC / "store" / "base.py").read_text()
    unused = [name for name in load_queries("sqlite") if f'"{name}"' not in code]
    assert unused == []


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [v for v, _, _ in load_migrations("sqlite")]
    assert versions == list(range(1, len(versions) + 1))


def test_claim_uses_the_claim_index(tmp_path: Path) -> None:
    SqliteStore(str(tmp_path / "q.db")).close()
    conn = sqlite3.connect(tmp_path / "q.db")
    sql = load_queries("sqlite")["claim"].replace("{job_columns}", JOB_COLUMNS)
    plan = " ".join(str(r) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ["w", 1.0, 2.0]))
    assert "jobs_claim" in plan and "TEMP B-TREE" not in plan


def test_pages_read_by_key_without_sorting(tmp_path: Path) -> None:
    SqliteStore(str(tmp_path / "q.db")).close()
    conn = sqlite3.connect(tmp_path / "q.db")
    queries = load_queries("sqlite")
    params = dict.fromkeys(["state", "queue", "text", "error", "before", "floor", "limit"])
    for name, index in (("page_jobs", "PRIMARY KEY"), ("page_jobs_state", "jobs_state")):
        sql = queries[name].replace("{job_columns}", JOB_COLUMNS)
        plan = " ".join(str(r) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert index in plan and "TEMP B-TREE" not in plan, plan


def test_a_store_made_at_version_1_keeps_its_history_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    (_, _, first) = load_migrations("sqlite")[0]
    conn.executescript(first)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO attempts (job_id, attempt, started_at, exit_code) VALUES ('a', 1, 0, 1)"
    )
    conn.commit()
    conn.close()
    store = SqliteStore(str(path))
    try:
        assert store.schema_version() == len(load_migrations("sqlite"))
        (kept,) = store.attempts("a")
        assert (kept.attempt, kept.exit_code, kept.interrupted) == (1, 1, False)
    finally:
        store.close()
