"""The supervisor keeps its pool at --count, whatever happens to one worker, until it is
itself told to stop; and a stop always ends the workers in time."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from pathlib import Path

from ..helpers import (
    QUEUECTL,
    Cli,
    Workers,
    alive,
    enqueue_long_first_run,
    store_locked,
    wait_for,
)


def exits(w: Workers) -> list[str]:
    return [line for line in w.log().splitlines() if "action=worker_exited" in line]


def test_a_removed_start_directory_changes_nothing(
    cli: Cli, workers: list[Workers], tmp_path: Path
) -> None:
    start = tmp_path / "started-here"
    start.mkdir()
    w = Workers(cli, "--count", "1", cwd=start)
    workers.append(w)
    w.wait_ready(1)
    cli.ok("enqueue", "true", "--id", "before")
    wait_for(lambda: cli.state("before") == "completed", what="the first job")
    start.rmdir()  # a temporary or CI directory, cleaned up under the running workers
    cli.ok("enqueue", "sleep 0.5; pwd", "--id", "after")
    wait_for(lambda: cli.state("after") == "completed", timeout=20, what="the second job")
    job = cli.job("after")
    assert [(a["exit_code"], a["error"]) for a in job["history"]] == [(0, None)]
    assert cli.json("logs", "after")["stdout"] == f"{cli.cwd}\n"  # its own directory
    assert w.proc.poll() is None and exits(w) == []


def test_a_worker_stopped_alone_is_replaced(cli: Cli, workers: list[Workers]) -> None:
    w = cli.workers("--count", "2")
    workers.append(w)
    w.wait_ready(2)
    # A job that signals its own worker (its shell's parent), three times over.
    for i in range(3):
        cli.ok("enqueue", "kill $PPID", "--id", f"term-{i}")
    for i in range(3):
        wait_for(lambda i=i: cli.state(f"term-{i}") == "completed", timeout=20, what=f"term-{i}")
    wait_for(lambda: len(exits(w)) == 3, what="three exits")
    # An administrator's SIGUSR1 to one pid from `worker list`.
    wait_for(lambda: len(cli.json("worker", "list")) == 2, what="two workers again")
    os.kill(cli.json("worker", "list")[0]["pid"], signal.SIGUSR1)
    wait_for(lambda: len(exits(w)) == 4, what="the fourth exit")
    cli.ok("enqueue", "true", "--id", "later")
    wait_for(lambda: cli.state("later") == "completed", timeout=20, what="a later job")
    wait_for(lambda: len(cli.json("worker", "list")) == 2, what="a full pool")
    assert w.proc.poll() is None
    lines = exits(w)
    assert all('cause="stopped by a signal sent to that worker alone"' in x for x in lines)
    assert all("then=restart" in x for x in lines)
    assert w.log().count("action=worker_restarted") == 4
    # It still stops when it is itself told to.
    w.signal(signal.SIGTERM)
    assert w.wait(20) == 0
    assert "cause=stopped then=none" in w.log()


# A bug that makes a worker raise while it runs a job (here injected into the first run,
# once that run has written its pid: killed earlier, it would leave no pid to watch).
CRASH_ONCE = """
import sys, time
from pathlib import Path
from queuectl.worker import runner

marker = Path(sys.argv[1])
pidfile = marker.with_name("victim.pid")
real_wait = runner.Execution.wait

def wait(self, *args):
    if not marker.exists():
        marker.touch()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (pidfile.exists() and pidfile.read_text()):
            time.sleep(0.01)
        raise RuntimeError("injected bug")
    return real_wait(self, *args)

runner.Execution.wait = wait
from queuectl.cli import main
main(["worker", "start", *sys.argv[2:]])
"""


def test_a_crashed_worker_is_restarted_and_its_job_recovered(
    cli: Cli, workers: list[Workers]
) -> None:
    cli.ok("config", "set", "lease_timeout", "1")
    pidfile = enqueue_long_first_run(cli, "victim")
    argv = [sys.executable, "-c", CRASH_ONCE, str(cli.cwd / "crashed")]
    w = Workers(cli, "--count", "1", argv=argv)
    workers.append(w)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the first run")
    first = int(pidfile.read_text())
    # The supervisor ends the crashed worker's command at once, then restarts the worker.
    wait_for(lambda: not alive(first), timeout=10, what="the orphaned command to end")
    wait_for(lambda: cli.state("victim") == "completed", timeout=20, what="the recovery")
    log = w.log()
    assert 'action=worker_crashed error="RuntimeError: injected bug"' in log
    assert 'cause="crashed (exit 1)" then=restart' in log
    assert "action=worker_restarted" in log and "supervisor_failed" not in log
    assert w.proc.poll() is None
    history = cli.job("victim")["history"]
    assert [a["error"] for a in history] == ["worker lost: its lease expired", None]


# A stop signal that lands after the pool has stopped, on the way out: as from a `worker
# stop` that found a worker still registered while the pool was stopping on its own.
LATE_STOP = """
import os, signal, sys
from queuectl.worker.supervisor import Supervisor

real_run = Supervisor.run

def run(self):
    code = real_run(self)
    os.kill(os.getpid(), signal.SIGTERM)
    return code

Supervisor.run = run
from queuectl.cli import main
main(["worker", "start", *sys.argv[1:]])
"""


def test_a_stop_signal_after_the_pool_stopped_does_not_kill_worker_start(
    cli: Cli, workers: list[Workers]
) -> None:
    """`worker start & worker stop; wait $!` is 0, also when the stop's signal comes late."""
    w = Workers(cli, "--count", "1", argv=[sys.executable, "-c", LATE_STOP])
    workers.append(w)
    w.wait_ready(1)
    cli.ok("worker", "stop")
    assert w.wait(20) == 0


def test_worker_stop_from_inside_a_job(cli: Cli, workers: list[Workers]) -> None:
    out = cli.cwd / "stop.out"
    w = cli.workers("--count", "2")
    workers.append(w)
    w.wait_ready(2)
    stop = f"{QUEUECTL} --db {shlex.quote(cli.db)} worker stop --timeout 20"
    cli.ok("enqueue", f"{stop} > {out} 2>&1; echo exit=$? >> {out}", "--id", "stopper")
    started = time.monotonic()
    assert w.wait(40) == 0
    assert time.monotonic() - started < 15  # not the 20 s of --timeout
    text = out.read_text()
    assert "stopped 1 worker(s)" in text and "stops when it ends" in text
    assert text.endswith("exit=0\n")
    assert cli.state("stopper") == "completed"


def test_a_forced_stop_ends_a_worker_holding_a_result_it_cannot_record(
    cli: Cli, workers: list[Workers]
) -> None:
    cli.ok("config", "set", "lease_timeout", "2")
    cli.ok("enqueue", "sleep 2", "--id", "held")
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: "action=job_started" in w.log(), what="the job to start")
    with store_locked(cli.db):
        # The job ends; its result cannot be written.
        wait_for(lambda: "action=job_completed" not in w.log(), what="the job to end")
        wait_for(lambda: "action=store_unavailable" in w.log(), timeout=30, what="the outage")
        w.signal(signal.SIGTERM)  # graceful: the worker keeps trying to record the result
        wait_for(lambda: "mode=graceful" in w.log(), what="the graceful stop")
        w.signal(signal.SIGTERM)  # the second one forces the stop
        assert w.wait(15) == 0
    assert "action=job_result_dropped" in w.log() and "forced stop" in w.log()
    # The job was left to its lease: another worker recovers it and runs it again.
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.state("held") == "completed", timeout=20, what="the recovery")
    history = cli.job("held")["history"]
    assert [a["error"] for a in history] == ["worker lost: its lease expired", None]
