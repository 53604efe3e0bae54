"""PostgreSQL as the meeting point of workers on several hosts, and across a restart."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from queuectl import Attempt, Queue

from ..helpers import Cli, Workers, wait_for
from ..pg import Cluster, schema_url

pytestmark = pytest.mark.postgres


def enqueue_appenders(cli: Cli, count: int, out: Path, extra: str = "") -> None:
    lines = [
        json.dumps({"id": f"j{i}", "command": f"{extra}echo j{i} >> {out}"}) for i in range(count)
    ]
    assert len(cli.ok("enqueue", "--file", "-", input="\n".join(lines)).out.split()) == count


def successes(cli: Cli) -> dict[str, list[Attempt]]:
    """Every job's attempt history (read in-process: 2000 CLI calls would take minutes)."""
    with Queue(cli.db) as q:
        return {job.id: q.history(job.id) for job in q.list(limit=None)}


@pytest.mark.parametrize("store_kind", ["postgres"])
def test_two_hosts_share_one_queue(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("config", "set", "lease_timeout", "3")
    out = cli.cwd / "ran.txt"
    enqueue_appenders(cli, 2000, out)
    host_a = Workers(cli, "--count", "2", "--quiet", env={"QUEUECTL_HOSTNAME": "host-a"})
    host_b = Workers(cli, "--count", "2", "--quiet", env={"QUEUECTL_HOSTNAME": "host-b"})
    workers.extend([host_a, host_b])
    wait_for(lambda: cli.counts()["completed"] >= 400, timeout=60, what="a good start")
    hosts = {w["host"] for w in cli.json("worker", "list")}
    assert hosts == {"host-a", "host-b"}

    # Host A is lost: supervisor and workers die at once, as with a power cut.
    os.killpg(host_a.pid, signal.SIGKILL)
    lost_at = time.monotonic()
    wait_for(lambda: cli.counts()["completed"] == 2000, timeout=120, what="all 2000 jobs")
    histories = successes(cli)
    ran = Counter(out.read_text().split())
    assert set(ran) == {f"j{i}" for i in range(2000)}
    assert len(histories) == 2000
    for job_id, history in histories.items():
        assert [a.exit_code for a in history].count(0) == 1  # completed exactly once
        if ran[job_id] > 1:
            # Only a job whose first worker was lost may have run a second time.
            assert any(a.error == "worker lost: its lease expired" for a in history)
    recovered = [h for h in histories.values() if len(h) > 1]
    assert all(str(a.worker_id).startswith("host-a:") for h in recovered for a in h[:-1])
    if recovered:
        assert time.monotonic() - lost_at >= 3  # they waited for the lease

    # A third machine stops the survivor through the store alone (no signal can reach it).
    third = Cli(cli.db, cli.cwd, dict(cli.env, QUEUECTL_HOSTNAME="host-c"))
    assert third.ok("worker", "stop").out.startswith("stopped 2 worker(s)")
    assert host_b.wait(30) == 0
    assert cli.json("worker", "list") == []


def test_database_restart_during_a_run(private_cluster: Cluster, tmp_path: Path) -> None:
    cli = Cli.fresh(schema_url(private_cluster.url, "restart_test"), tmp_path)
    out = cli.cwd / "ran.txt"
    enqueue_appenders(cli, 300, out, extra="sleep 0.02; ")
    w = cli.workers("--count", "2")
    try:
        wait_for(lambda: cli.counts()["completed"] >= 50, timeout=60, what="the run to start")
        private_cluster.stop_server("fast")
        # The outage itself: longer than a worker's store patience (5 s), so it must say so.
        time.sleep(6)
        private_cluster.start_server()
        wait_for(lambda: cli.counts()["completed"] == 300, timeout=120, what="all 300 jobs")
    finally:
        w.stop()
    assert Counter(out.read_text().split()) == Counter(f"j{i}" for i in range(300))
    histories = successes(cli)
    assert len(histories) == 300
    for history in histories.values():
        assert [a.exit_code for a in history] == [0]  # ran once, recorded once
    log = w.log()
    assert "action=store_unavailable" in log and "action=store_available" in log
