"""Slow faults, run by `make chaos` (and by CI), not by `make test`.

A PostgreSQL server unreachable for 30 s in the middle of a run: the CLI says so clearly
within its store timeout, workers log the outage and wait it out holding their results,
and once the server is back every job completes, each exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from queuectl import Queue

from ..helpers import Cli, wait_for
from ..pg import Cluster, schema_url

pytestmark = [pytest.mark.chaos, pytest.mark.postgres]

OUTAGE = 30.0


def test_postgres_away_for_30_seconds(private_cluster: Cluster, tmp_path: Path) -> None:
    url = schema_url(private_cluster.url, "outage")
    cli = Cli.fresh(url, tmp_path)
    out = cli.cwd / "ran.txt"
    lines = [f'{{"id": "j{i}", "command": "sleep 0.05; echo j{i} >> {out}"}}' for i in range(200)]
    cli.ok("enqueue", "--file", "-", input="\n".join(lines))
    w = cli.workers("--count", "2")
    try:
        wait_for(lambda: cli.counts()["completed"] >= 30, timeout=60, what="the run to start")
        private_cluster.stop_server("fast")
        down_at = time.monotonic()

        impatient = Cli(url, cli.cwd, dict(cli.env, QUEUECTL_STORE_TIMEOUT="3"))
        started = time.monotonic()
        result = impatient.run("status")
        assert result.code == 1 and time.monotonic() - started < 15
        assert result.err.startswith("error: cannot reach PostgreSQL at 127.0.0.1:")
        assert len(result.err.splitlines()) == 1 and "Traceback" not in result.err

        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))  # the outage itself
        private_cluster.start_server()
        wait_for(lambda: cli.counts()["completed"] == 200, timeout=180, what="all 200 jobs")
    finally:
        w.stop()
    assert Counter(out.read_text().split()) == Counter(f"j{i}" for i in range(200))
    with Queue(url) as q:
        for job in q.list(limit=None):
            assert [a.exit_code for a in q.history(job.id)] == [0]  # once, recorded once
    log = w.log()
    assert "action=store_unavailable" in log and "action=store_available" in log
    assert "Traceback" not in log
