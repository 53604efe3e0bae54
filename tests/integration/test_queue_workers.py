"""``Queue`` is the boundary for workers too: a program starts, lists and stops a pool with
it as the CLI does, and bad input is refused before anything starts or changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl import Queue, ValidationError
from queuectl.api import retry_targets, worker_queues
from queuectl.store.queries import load_migrations

from ..helpers import Cli, alive, wait_for

# A program of its own: start_workers forks, which a test process must not do.
PROGRAM = """
import json, sys
from queuectl import Queue

db, action = sys.argv[1], sys.argv[2]
with Queue(db) as q:
    if action == "start":
        pool = q.start_workers(2, queues=["a", "b"], log_file=sys.argv[3], quiet=True)
        q.enqueue("true", id="after-start", queue="a")  # the handle still works after the fork
        print(json.dumps(pool._asdict()))
    elif action == "list":
        print(json.dumps([[w.pid, w.queues] for w in q.workers()]))
    else:
        report = q.stop_workers(timeout=20)
        print(json.dumps([len(report.stopped), len(report.lost), len(report.remaining)]))
"""


def program(db: str, *args: str) -> object:
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, db, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_program_starts_lists_and_stops_a_pool(
    cli: Cli, tmp_path: Path, supervisors: list[int]
) -> None:
    log = tmp_path / "pool.log"
    pool = program(cli.db, "start", str(log))
    assert isinstance(pool, dict)
    supervisors.append(pool["pid"])
    assert pool["workers"] == 2 and pool["log"] == str(log)
    wait_for(lambda: cli.state("after-start") == "completed", what="the pool to run a job")
    listed = program(cli.db, "list")
    assert isinstance(listed, list) and len(listed) == 2
    assert all(queues == ["a", "b"] for _, queues in listed)
    assert program(cli.db, "stop") == [2, 0, 0]
    wait_for(lambda: not alive(pool["pid"]), what="the supervisor to exit")
    assert "action=supervisor_stopped" in log.read_text()


def test_schema_version_is_the_latest_migration(db_url: str) -> None:
    with Queue(db_url) as q:
        kind = "postgres" if db_url.startswith("postgresql") else "sqlite"
        assert q.schema_version() == len(load_migrations(kind))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda q: q.run_workers(0), "count: must be at least 1, got 0"),
        (lambda q: q.start_workers(queues=["a b"]), "queues: "),
        (lambda q: q.stop_workers(timeout=-1), "timeout: must be >= 0"),
        (lambda q: q.dlq_retry(["x"], all=True), "give job ids or --all, not both"),
        (lambda q: q.dlq_retry([]), "give at least one job id, or --all"),
    ],
)
def test_bad_worker_and_retry_calls_are_refused_before_anything_happens(
    tmp_path: Path, call: object, message: str
) -> None:
    with Queue(tmp_path / "q.db") as q:
        q.enqueue("true", id="kept")
        with pytest.raises(ValidationError, match=message):
            call(q)  # type: ignore[operator]
        assert q.workers() == [] and [j.id for j in q.list()] == ["kept"]


def test_worker_queues_are_checked_and_kept_once_in_order() -> None:
    assert worker_queues(None) is None and worker_queues([]) is None
    assert worker_queues(["b", " a", "b"]) == ("b", "a")
    with pytest.raises(ValidationError, match=r"^--queue: "):
        worker_queues(["ok", "not ok"], label="--queue")


def test_retry_targets() -> None:
    assert retry_targets([], all=True) is None
    assert retry_targets(["a", "b", "a"], all=False) == ["a", "b"]


@pytest.mark.parametrize(
    "args",
    [["dlq", "retry"], ["dlq", "retry", "x", "--all"], ["worker", "start", "--queue", "a,b c"]],
)
def test_the_cli_refuses_what_the_api_refuses_before_making_a_store(
    tmp_path: Path, args: list[str]
) -> None:
    cli = Cli.fresh(str(tmp_path / "never.db"), tmp_path)
    result = cli.run(*args)
    assert result.code == 2 and result.err.startswith("error: ")
    assert len(result.err.splitlines()) == 1
    assert not (tmp_path / "never.db").exists()
