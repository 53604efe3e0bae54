"""What a new user meets in the first hour on an ordinary terminal (issue 10): long waits
say what they wait for, the worker log keeps its lifecycle lines, and the CLI takes what
people type."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from ..helpers import QUEUECTL, Cli, Workers, wait_for


def test_ctrl_c_on_foreground_workers_says_what_it_waits_for(cli: Cli) -> None:
    cli.ok("enqueue", "sleep 30", "--id", "long")
    with cli.terminal("worker", "start", "--count", "2") as term:
        wait_for(lambda: cli.state("long") == "processing", what="the job to start")
        term.signal(signal.SIGINT)
        term.wait_for_text("waiting for 1 running job to finish; Ctrl+C again to stop them now")
        time.sleep(0.2)  # a person's second Ctrl+C
        term.signal(signal.SIGINT)
        term.wait_for_text("stopping 1 running job now")
        assert term.wait(20) == 0
    assert cli.state("long") == "pending"


def test_worker_stop_says_what_it_waits_for_and_suggests_force(
    cli: Cli, workers: list[Workers]
) -> None:
    cli.ok("enqueue", "sleep 30", "--id", "long")
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.state("long") == "processing", what="the job to start")
    with cli.terminal("worker", "stop", "--timeout", "2") as term:
        assert term.wait(20) == 1
    shown = term.output
    assert "waiting up to 2s for 1 worker(s) to finish 1 running job(s) (long)" in shown
    assert "error: 1 worker(s) still running after 2s" in shown
    assert "`queuectl worker stop --force` interrupts their running jobs" in shown
    # A second stop is a second signal, as a second Ctrl+C: it interrupts the job.
    assert cli.ok("worker", "stop").out == "stopped 1 worker(s)\n"
    assert cli.state("long") == "pending"


@pytest.mark.parametrize("store_kind", ["sqlite"])  # the PostgreSQL of the URL is unreachable
def test_an_unreachable_postgres_says_what_it_waits_for(cli: Cli) -> None:
    url = "postgresql://someone:Sup3rSecret@127.0.0.1:1/test"
    with cli.terminal("--db", url, "status", env={"QUEUECTL_STORE_TIMEOUT": "3"}) as term:
        term.wait_for_text("cannot reach PostgreSQL at 127.0.0.1:1/test", timeout=2.5)
        assert term.wait(20) == 1
    assert "retrying for up to" in term.output and "QUEUECTL_STORE_TIMEOUT" in term.output
    assert "error: cannot reach PostgreSQL" in term.output and "Sup3rSecret" not in term.output


def test_quiet_keeps_the_lifecycle_lines(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "true", "--id", "quick")
    w = cli.workers("--count", "1", "--quiet")
    workers.append(w)
    wait_for(lambda: cli.state("quick") == "completed")
    w.signal(signal.SIGTERM)
    assert w.wait(20) == 0
    log = w.log()
    for action in ("supervisor_started", "worker_started", "stopping", "worker_stopped"):
        assert f"action={action}" in log, action
    assert "job_started" not in log and "job_completed" not in log


def test_foreground_json_log_is_json_lines(cli: Cli) -> None:
    cli.ok("enqueue", "exit 3", "--id", "bad", "--max-retries", "0")
    proc = subprocess.Popen(
        [QUEUECTL, "worker", "start", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=dict(cli.env, QUEUECTL_DB=cli.db),
        cwd=cli.cwd,
        start_new_session=True,
    )
    try:
        wait_for(lambda: cli.state("bad") == "dead")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.decode().splitlines()]
    actions = [e["action"] for e in events]
    assert actions[0] == "supervisor_started" and actions[-1] == "supervisor_stopped"
    started = next(e for e in events if e["action"] == "job_started")
    assert (started["job"], started["attempt"], started["command"]) == ("bad", 1, "exit 3")
    dead = next(e for e in events if e["action"] == "job_dead")
    assert dead["exit"] == 3 and dead["time"].endswith("Z") and isinstance(dead["worker"], int)


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_detached_json_prints_the_start_as_json(cli: Cli) -> None:
    started = cli.json("worker", "start", "--detach")
    try:
        assert started["workers"] == 1 and started["log"].endswith("-worker.log")
    finally:
        cli.ok("worker", "stop")
