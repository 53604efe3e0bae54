"""Leases: a healthy worker never loses its job, however the lease is set or the store
delays it; a lost worker's job comes back."""

from __future__ import annotations

import time

from queuectl.store import open_store

from ..helpers import Cli, Workers, store_locked, wait_for


def test_a_lease_too_short_to_honour_is_refused_or_raised(cli: Cli, workers: list[Workers]) -> None:
    result = cli.run("config", "set", "lease_timeout", "0.02")
    assert result.code == 2 and "lease_timeout: must be >= 1" in result.err
    # A value stored by an older version is raised to the floor, not half honoured.
    store = open_store(cli.db)
    store.config_set("lease_timeout", "0.02")
    store.close()
    specs = "\n".join(f'{{"id": "j{i}", "command": "sleep 0.3"}}' for i in range(3))
    cli.ok("enqueue", "--file", "-", input=specs)
    workers.append(cli.workers("--count", "2"))
    wait_for(lambda: cli.counts()["completed"] == 3, timeout=20, what="three jobs")
    for i in range(3):
        assert [a["error"] for a in cli.job(f"j{i}")["history"]] == [None]


def test_a_lock_longer_than_the_lease_loses_no_live_job(cli: Cli, workers: list[Workers]) -> None:
    """An administrator's lock (VACUUM FULL, ALTER TABLE, a stuck transaction) holds up
    every heartbeat for three leases: the busy worker keeps its job, the idle one recovers
    nothing, and a CLI call gives up within its store timeout with one error line."""
    cli.ok("config", "set", "lease_timeout", "2")
    cli.ok("enqueue", "sleep 12; echo done", "--id", "long")
    w = cli.workers("--count", "2")
    workers.append(w)
    wait_for(lambda: "action=job_started" in w.log(), what="the job to start")
    impatient = Cli(cli.db, cli.cwd, dict(cli.env, QUEUECTL_STORE_TIMEOUT="2"))
    with store_locked(cli.db):
        started = time.monotonic()
        result = impatient.run("enqueue", "true", "--id", "blocked", timeout=30)
        assert result.code == 1 and time.monotonic() - started < 10, result
        assert result.err.startswith("error: ") and len(result.err.splitlines()) == 1
        assert "locked" in result.err
        time.sleep(max(0.0, 6 - (time.monotonic() - started)))  # the lock's length
    wait_for(lambda: cli.state("long") == "completed", timeout=30, what="the job")
    job = cli.job("long")
    assert [(a["exit_code"], a["error"]) for a in job["history"]] == [(0, None)]
    assert "job_recovered" not in w.log()
    assert cli.run("show", "blocked").code == 1  # the refused enqueue left nothing behind
