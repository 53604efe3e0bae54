"""End to end through the installed `queuectl`: workers, retries, DLQ, signals, crashes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..helpers import (
    QUEUECTL,
    Cli,
    Workers,
    alive,
    detached_pid,
    enqueue_long_first_run,
    proc_state,
    wait_for,
)


def iso_seconds(text: str) -> float:
    from queuectl.timeutil import parse_iso

    return parse_iso(text)


def test_a_successful_job_completes(cli: Cli, workers: list[Workers]) -> None:
    job_id = cli.ok("enqueue", "echo hello; echo oops >&2").out.strip()
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.state(job_id) == "completed", what="completion")
    job = cli.job(job_id)
    assert (job["attempts"], job["exit_code"], job["last_error"]) == (1, 0, None)
    assert [a["exit_code"] for a in job["history"]] == [0]
    assert job["history"][0]["timed_out"] is False
    logs = cli.json("logs", job_id)
    assert (logs["stdout"], logs["stderr"], logs["attempt"]) == ("hello\n", "oops\n", 1)
    raw = cli.ok("logs", job_id)
    assert (raw.out, raw.err) == ("hello\n", "oops\n")


def test_failures_back_off_then_dead_then_revived(cli: Cli, workers: list[Workers]) -> None:
    marker = cli.cwd / "fixed"
    cli.ok("config", "set", "backoff_base", "1.5")
    cli.ok("enqueue", f"test -f {marker} || exit 4", "--id", "flaky", "--max-retries", "3")
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.state("flaky") == "dead", timeout=20, what="the DLQ")
    job = cli.job("flaky")
    history = job["history"]
    assert [a["attempt"] for a in history] == [1, 2, 3]  # max_retries 3: at most 3 runs
    assert job["attempts"] == job["max_retries"] == 3
    assert all(a["exit_code"] == 4 and a["error"] == "exit code 4" for a in history)
    starts = [iso_seconds(a["started_at"]) for a in history]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # base 1.5: the waits are 1.5 s then 2.25 s (never shorter, a little longer at most)
    assert 1.5 <= gaps[0] < 2.5 and 2.25 <= gaps[1] < 3.5 and gaps[1] > gaps[0]
    assert [j["id"] for j in cli.json("dlq", "list")] == ["flaky"]
    assert cli.counts()["dead"] == 1

    marker.touch()
    cli.ok("dlq", "retry", "flaky")
    wait_for(lambda: cli.state("flaky") == "completed", what="the revived job")
    job = cli.job("flaky")
    assert job["attempts"] == 1  # a fresh budget...
    assert [a["attempt"] for a in job["history"]] == [1, 2, 3, 4]  # ...and the history kept
    assert cli.json("dlq", "list") == []


def test_one_attempt_numbering_after_a_dlq_retry(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "echo number $QUEUECTL_ATTEMPT; exit 3", "--id", "j", "--max-retries", "0")
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: cli.state("j") == "dead", what="the DLQ")
    cli.ok("dlq", "retry", "j")
    wait_for(lambda: cli.state("j") == "dead" and len(cli.job("j")["history"]) == 2)
    # The log, show, logs --attempt and the job's own environment agree: this was attempt 2,
    # the first of the fresh budget.
    assert "action=job_started job=j attempt=2 budget=1/" in w.log()
    assert [a["attempt"] for a in cli.job("j")["history"]] == [1, 2]
    assert cli.ok("logs", "j", "--attempt", "2").out == "number 2\n"
    assert cli.ok("logs", "j").out == "number 2\n"
    assert "2 in the history" in cli.ok("show", "j").out


def test_jobs_see_only_stdio_and_their_environment(cli: Cli, workers: list[Workers]) -> None:
    cli.ok(
        "enqueue",
        'ls /proc/$$/fd; echo "$GREETING $QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT"',
        "--id",
        "peek",
        "--env",
        "GREETING=hi",
    )
    workers.append(cli.workers())
    wait_for(lambda: cli.state("peek") == "completed")
    *fds, greeting, job_id, attempt = cli.json("logs", "peek")["stdout"].split()
    assert sorted(int(fd) for fd in fds) == [0, 1, 2]  # no store, socket or pipe leaks in
    assert (greeting, job_id, attempt) == ("hi", "peek", "1")


def test_unknown_command_is_127_and_dead(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", '{"id":"nope","command":"no-such-command-here","max_retries":0}')
    workers.append(cli.workers())
    wait_for(lambda: cli.state("nope") == "dead", what="the DLQ")
    job = cli.job("nope")
    assert job["exit_code"] == 127
    assert job["last_error"] == "command not found (exit 127)"
    assert "not found" in cli.json("logs", "nope")["stderr"]


def test_three_workers_run_300_jobs_exactly_once(cli: Cli, workers: list[Workers]) -> None:
    out = cli.cwd / "ran.txt"
    lines = [
        json.dumps({"id": f"job-{i}", "command": f"echo job-{i} >> {out}"}) for i in range(300)
    ]
    ids = cli.ok("enqueue", "--file", "-", input="\n".join(lines)).out.split()
    assert len(ids) == 300
    workers.append(cli.workers("--count", "3"))
    wait_for(lambda: cli.counts()["completed"] == 300, timeout=60, what="300 completions")
    ran = out.read_text().split()
    assert sorted(ran) == sorted(f"job-{i}" for i in range(300))
    assert len(set(ran)) == 300
    done = {w: 0 for w in workers[0].worker_pids()}
    assert len(done) == 3


def test_data_survives_restarts(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "true", "--id", "before")
    # In a queue the first supervisor does not serve: it waits for the restart however
    # slowly the machine runs (a short --delay raced the stop under load).
    cli.ok("enqueue", "true", "--id", "later", "--queue", "later", "--delay", "1")
    first = cli.workers("--count", "1", "--queue", "default")
    workers.append(first)
    wait_for(lambda: cli.state("before") == "completed", what="the first job")
    cli.ok("worker", "stop")
    assert first.wait(10) == 0
    assert cli.state("later") == "pending"
    second = cli.workers("--count", "1")
    workers.append(second)
    wait_for(lambda: cli.state("later") == "completed", what="the delayed job after a restart")
    assert cli.state("before") == "completed" and cli.counts()["total"] == 2


def test_sigterm_lets_the_running_job_finish(cli: Cli, workers: list[Workers]) -> None:
    release = cli.cwd / "release"
    # The job ends when the test says, after the stop began (a 1.5 s sleep could end first
    # on a loaded machine, and the test then proved nothing).
    cli.ok("enqueue", f"until [ -f {release} ]; do sleep 0.02; done; echo finished", "--id", "long")
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: "action=job_started job=long" in w.log(), what="the job to start")
    w.signal(signal.SIGTERM)
    wait_for(lambda: "mode=graceful" in w.log(), what="the graceful stop")
    release.touch()
    assert w.wait(20) == 0
    assert cli.state("long") == "completed"
    assert cli.json("logs", "long")["stdout"] == "finished\n"
    assert cli.json("worker", "list") == []


def test_second_signal_keeps_the_interrupted_attempt_unspent(
    cli: Cli, workers: list[Workers]
) -> None:
    cli.ok("enqueue", "echo begun; sleep 30", "--id", "long", "--max-retries", "0")
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: cli.run("logs", "long").out == "begun\n", what="the job's first output")
    w.signal(signal.SIGINT)
    # The second Ctrl+C once the first is handled: two signals pending at once are one.
    wait_for(lambda: "mode=graceful" in w.log(), what="the graceful stop")
    w.signal(signal.SIGINT)
    assert w.wait(20) == 0
    job = cli.job("long")
    assert (job["state"], job["attempts"]) == ("pending", 0)  # the budget is untouched
    (attempt,) = job["history"]  # ...but the attempt that ran is history, not deleted
    assert attempt["attempt"] == 1 and attempt["interrupted"] is True
    assert attempt["error"].startswith("interrupted by a forced stop")
    assert attempt["finished_at"] is not None
    assert cli.ok("logs", "long").out == "begun\n"
    assert "interrupted" in cli.ok("show", "long").out
    assert "action=job_interrupted job=long attempt=1" in w.log()


def test_forced_stop_keeps_the_attempt_and_the_next_run_is_numbered_after_it(
    cli: Cli, workers: list[Workers]
) -> None:
    cli.ok(
        "enqueue",
        "echo run $QUEUECTL_ATTEMPT; [ $QUEUECTL_ATTEMPT = 2 ] || sleep 30",
        "--id",
        "long",
        "--max-retries",
        "0",
    )
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: cli.run("logs", "long").out == "run 1\n", what="the first attempt")
    cli.ok("worker", "stop", "--force")
    assert w.wait(20) == 0
    again = cli.workers("--count", "1")
    workers.append(again)
    wait_for(lambda: cli.state("long") == "completed", what="the second attempt")
    job = cli.job("long")
    assert job["attempts"] == 1  # one run allowed, and the interrupted one was not counted
    assert [(a["attempt"], a["interrupted"]) for a in job["history"]] == [(1, True), (2, False)]
    assert cli.ok("logs", "long", "--attempt", "1").out == "run 1\n"
    assert cli.ok("logs", "long").out == "run 2\n"
    assert "action=job_started job=long attempt=2 budget=1/" in again.log()


def test_killed_worker_is_recovered_after_the_lease(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("config", "set", "lease_timeout", "2")
    pidfile = enqueue_long_first_run(cli, "victim")
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the first attempt")
    first_job_pid = int(pidfile.read_text())
    (worker_pid,) = w.worker_pids()
    killed_at = time.monotonic()
    os.kill(worker_pid, signal.SIGKILL)
    # The supervisor terminates the orphaned command at once...
    wait_for(lambda: not alive(first_job_pid), timeout=10, what="the orphaned command to die")
    # ...and the job comes back once its lease expires.
    wait_for(lambda: cli.state("victim") == "completed", timeout=20, what="recovery")
    assert time.monotonic() - killed_at >= 2
    job = cli.job("victim")
    first, second = job["history"]
    assert first["error"] == "worker lost: its lease expired" and first["exit_code"] is None
    assert second["exit_code"] == 0
    assert job["attempts"] == 2
    assert 'cause="killed by SIGKILL" then=restart' in w.log()
    assert "action=worker_restarted" in w.log()


def test_timeout_kills_grandchildren_end_to_end(cli: Cli, workers: list[Workers]) -> None:
    pidfile = cli.cwd / "gc.pid"
    cli.ok(
        "enqueue",
        f"(trap '' TERM; echo $(exec sh -c 'echo $PPID') > {pidfile}; sleep 60) & sleep 60",
        "--timeout",
        "1",
        "--max-retries",
        "0",
        "--id",
        "slow",
    )
    workers.append(cli.workers())
    wait_for(lambda: cli.state("slow") == "dead", timeout=20, what="the timeout")
    job = cli.job("slow")
    assert job["history"][0]["timed_out"] is True
    assert job["last_error"] == "timed out after 1s"
    grandchild = int(pidfile.read_text())
    wait_for(lambda: not alive(grandchild), timeout=5, what="the grandchild to die")


def test_supervisor_death_stops_workers_and_their_jobs(cli: Cli, workers: list[Workers]) -> None:
    pidfile = cli.cwd / "job.pid"
    cli.ok("enqueue", f"echo $$ > {pidfile}; sleep 60", "--id", "orphan", "--max-retries", "0")
    w = cli.workers("--count", "2")
    workers.append(w)
    w.wait_ready(2)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the job")
    job_pid = int(pidfile.read_text())
    pids = w.worker_pids()
    os.kill(w.pid, signal.SIGKILL)
    for pid in [*pids, job_pid]:
        wait_for(lambda p=pid: not alive(p), timeout=10, what=f"process {pid} to exit")
    job = cli.job("orphan")
    assert job["state"] == "dead"
    assert job["last_error"] == "worker lost: its supervisor exited"


def test_idle_workers_wake_on_enqueue(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("config", "set", "poll_interval", "30")  # so only a wake-up can be quick
    cli.ok("enqueue", "true", "--id", "first")
    w = cli.workers("--count", "1")
    workers.append(w)
    # With its first job done, the worker has found the queue empty: it waits for a wake-up,
    # or for its next look at the store 30 s on.
    wait_for(lambda: cli.state("first") == "completed", what="the first job")
    cli.ok("enqueue", "true", "--id", "woken")
    wait_for(
        lambda: cli.state("woken") == "completed",
        timeout=25,
        what="the new job (a poll would take 30 s: only a wake-up is sooner)",
    )
    job = cli.job("woken")
    waited = iso_seconds(job["history"][0]["started_at"]) - iso_seconds(job["created_at"])
    assert waited < 10, f"claimed {waited:.1f} s after its enqueue: not woken"


def test_priority_and_run_at_order_the_claims(cli: Cli, workers: list[Workers]) -> None:
    from queuectl.timeutil import to_iso

    out = cli.cwd / "order.txt"
    # "later" is not due before the test ends, however slowly the others are run (a run_at
    # 3 s on was due before the fourth claim on a loaded machine, and rightly went first).
    specs = [
        {"command": f"echo low >> {out}", "priority": 1},
        {
            "id": "later",
            "command": f"echo later >> {out}",
            "priority": 100,
            "run_at": to_iso(time.time() + 3600),
        },
        {"command": f"echo high >> {out}", "priority": 10},
        {"command": f"echo mid-old >> {out}", "priority": 5},
        {"command": f"echo mid-new >> {out}", "priority": 5},
    ]
    cli.ok("enqueue", "--file", "-", input=json.dumps(specs))  # one batch: the clock is ours
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.counts()["completed"] == 4, what="the four due jobs")
    assert out.read_text().split() == ["high", "mid-old", "mid-new", "low"]
    # Passed over, its priority notwithstanding, and never started.
    later = cli.job("later")
    assert (later["state"], later["history"]) == ("pending", [])
    # A job that falls due while the worker is idle runs then, not before.
    cli.ok("enqueue", f"echo soon >> {out}", "--id", "soon", "--priority", "100", "--delay", "1")
    wait_for(lambda: cli.state("soon") == "completed", what="the delayed job")
    soon = cli.job("soon")
    assert iso_seconds(soon["history"][0]["started_at"]) >= iso_seconds(soon["run_at"])
    assert out.read_text().split()[4:] == ["soon"] and cli.state("later") == "pending"


def test_queues_route_jobs(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "true", "--id", "mail", "--queue", "emails")
    cli.ok("enqueue", "true", "--id", "report", "--queue", "reports")
    cli.ok("enqueue", "true", "--id", "plain")
    workers.append(cli.workers("--queue", "emails,other", "--queue", "reports"))
    wait_for(lambda: cli.state("mail") == "completed" and cli.state("report") == "completed")
    assert cli.state("plain") == "pending"
    (info,) = cli.json("worker", "list")
    assert info["queues"] == ["emails", "other", "reports"]


def test_detach_list_and_stop(cli: Cli, supervisors: list[int]) -> None:
    result = cli.ok("worker", "start", "--count", "2", "--detach", "--json").json()
    supervisor = result["pid"]
    supervisors.append(supervisor)
    assert result["workers"] == 2 and Path(result["log"]).exists()
    listed = cli.json("worker", "list")
    assert len(listed) == 2 and {w["state"] for w in listed} <= {"idle", "busy"}
    assert all(w["current_job"] is None for w in listed)
    status = cli.json("status")
    assert len(status["workers"]) == 2
    stop = cli.ok("worker", "stop")
    assert stop.out.strip() == "stopped 2 worker(s)"
    wait_for(lambda: not alive(supervisor), timeout=5, what="the supervisor to exit")
    assert cli.json("worker", "list") == []
    again = cli.ok("worker", "stop")
    assert again.out.strip() == "no workers are running"


def test_shell_backgrounded_start_then_stop(cli: Cli, supervisors: list[int]) -> None:
    job = cli.ok("enqueue", "echo hi").out.strip()
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    script = f"{QUEUECTL} worker start --count 2 > {cli.cwd}/bg.log 2>&1 & echo $!"
    shell = subprocess.run(
        ["sh", "-c", script], env=env, cwd=cli.cwd, check=True, timeout=10, capture_output=True
    )
    supervisors.append(int(shell.stdout))
    wait_for(lambda: cli.state(job) == "completed", what="the job")
    wait_for(lambda: len(cli.json("worker", "list")) == 2, what="both workers to register")
    cli.ok("worker", "stop")
    assert cli.json("worker", "list") == []
    pids = [
        int(line.split("worker=")[1].split()[0])
        for line in (cli.cwd / "bg.log").read_text().splitlines()
        if "action=worker_started" in line
    ]
    assert len(pids) == 2 and not any(alive(p) for p in pids)


def test_force_stop_puts_jobs_back(cli: Cli, supervisors: list[int]) -> None:
    cli.ok("enqueue", "sleep 60", "--id", "long")
    supervisors.append(detached_pid(cli.ok("worker", "start", "--detach").out))
    wait_for(lambda: cli.state("long") == "processing", what="the job to start")
    cli.ok("worker", "stop", "--force")
    job = cli.job("long")
    assert (job["state"], job["attempts"]) == ("pending", 0)


def test_logs_follow_streams_until_the_attempt_ends(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "echo one; sleep 1.5; echo two", "--id", "chatty")
    workers.append(cli.workers())
    follow = subprocess.run(
        [QUEUECTL, "logs", "chatty", "--follow"],
        capture_output=True,
        text=True,
        env=dict(cli.env, QUEUECTL_DB=cli.db),
        timeout=30,
    )
    assert follow.returncode == 0
    assert follow.stdout == "one\ntwo\n"
    # On a finished job it prints and returns at once.
    started = time.monotonic()
    assert cli.ok("logs", "chatty", "--follow").out == "one\ntwo\n"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("entry", [["python", "-m", "queuectl"], ["python", "-m", "queuectl.cli"]])
def test_module_entry_points(cli: Cli, entry: list[str]) -> None:
    import sys

    cmd = [sys.executable, *entry[1:], "enqueue", "true", "--id", "via-module"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=dict(cli.env, QUEUECTL_DB=cli.db), timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "via-module"


def test_zombie_free_after_stop(cli: Cli, supervisors: list[int]) -> None:
    supervisors.append(detached_pid(cli.ok("worker", "start", "--count", "2", "--detach").out))
    pids = [w["pid"] for w in cli.json("worker", "list")]
    cli.ok("worker", "stop")
    for pid in pids:
        assert proc_state(pid) in (None, "Z")


def test_many_processes_may_be_the_first_users_of_a_store(cli: Cli, workers: list[Workers]) -> None:
    """A supervisor, 8 enqueues and 4 `status` calls started together on a store that does
    not exist yet: all succeed (SPEC §6)."""
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    supervisor = cli.workers("--count", "2")
    workers.append(supervisor)
    calls = [
        subprocess.Popen(
            [QUEUECTL, *args],
            env=env,
            cwd=cli.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in [["enqueue", "true"]] * 8 + [["status", "--json"]] * 4
    ]
    failed = []
    for call in calls:
        _, err = call.communicate(timeout=60)
        if call.returncode != 0:
            failed.append((call.args[1:], err))
    assert failed == []
    wait_for(lambda: cli.counts()["completed"] == 8, what="the 8 jobs")
    assert "error" not in supervisor.log()


def test_stop_right_after_a_backgrounded_start_stops_it(cli: Cli) -> None:
    """`worker start --count 2 & worker stop; wait $!` ends, on every try: `worker stop`
    stops every supervisor started before it, also one that is still starting (SPEC §6)."""
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    script = (
        f"{QUEUECTL} worker start --count 2 2>>{cli.cwd}/start.log &"
        f" {QUEUECTL} worker stop; wait $!; echo start=$?"
    )
    for attempt in range(6):
        # A session of its own: on a hang, one killpg takes the shell, supervisor and workers.
        shell = subprocess.Popen(
            ["bash", "-c", script],
            env=env,
            cwd=cli.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = shell.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.communicate()
            out, err = "", f"try {attempt + 1}: `worker start &` outlived `worker stop`"
        finally:
            try:  # whatever is left of this try, also when the test fails
                os.killpg(shell.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert out.endswith("start=0\n"), (out, err)
        assert cli.json("worker", "list") == []
