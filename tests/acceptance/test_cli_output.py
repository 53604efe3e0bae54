"""Output contracts: the JSON shapes of SPEC §6, human tables, exit codes."""

from __future__ import annotations

import json

from ..helpers import Cli, Workers, alive, detached_pid, wait_for

JOB_KEYS = {
    "id",
    "command",
    "state",
    "queue",
    "priority",
    "attempts",
    "max_retries",
    "backoff_base",
    "timeout",
    "run_at",
    "next_run_at",
    "created_at",
    "updated_at",
    "exit_code",
    "last_error",
    "worker_id",
    "cwd",
}
ATTEMPT_KEYS = {
    "attempt",
    "worker_id",
    "started_at",
    "finished_at",
    "duration",
    "exit_code",
    "timed_out",
    "error",
    "interrupted",
}
WORKER_KEYS = {
    "id",
    "host",
    "pid",
    "queues",
    "state",
    "started_at",
    "heartbeat_at",
    "current_job",
    "jobs_done",
}


def test_enqueue_prints_the_id_or_the_job(cli: Cli) -> None:
    assert cli.ok("enqueue", "true", "--id", "plain").out == "plain\n"
    job = cli.json("enqueue", "echo hi", "--priority", "7", "--queue", "q1", "--env", "A=1")
    assert set(job) == JOB_KEYS
    assert (job["state"], job["priority"], job["queue"], job["attempts"]) == ("pending", 7, "q1", 0)
    assert job["created_at"].endswith("Z") and job["cwd"] == str(cli.cwd)
    assert "env" not in job  # values of env are not printed by default
    batch = cli.ok("enqueue", "--file", "-", "--json", input='{"command":"a"}\n{"command":"b"}')
    assert [j["command"] for j in batch.json()] == ["a", "b"]


def test_config_defaults_are_copied_at_enqueue(cli: Cli) -> None:
    cli.ok("config", "set", "max_retries", "7")
    cli.ok("config", "set", "job_timeout", "12")
    first = cli.json("enqueue", "true")
    cli.ok("config", "set", "max_retries", "1")
    assert cli.job(first["id"])["max_retries"] == 7
    assert cli.job(first["id"])["timeout"] == 12


def test_list_newest_first_with_limit_and_filters(cli: Cli) -> None:
    for i in range(5):
        cli.ok("enqueue", "true", "--id", f"j{i}", "--queue", "odd" if i % 2 else "even")
    assert [j["id"] for j in cli.json("list")] == ["j4", "j3", "j2", "j1", "j0"]
    assert [j["id"] for j in cli.json("list", "--limit", "2")] == ["j4", "j3"]
    assert [j["id"] for j in cli.json("list", "--queue", "odd")] == ["j3", "j1"]
    assert cli.json("list", "--state", "completed") == []
    table = cli.ok("list").out
    assert "j4" in table and "pending" in table and "ATTEMPTS" in table


def test_show_includes_history(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "exit 2", "--id", "x", "--max-retries", "0")
    workers.append(cli.workers())
    wait_for(lambda: cli.state("x") == "dead")
    doc = cli.json("show", "x")
    assert set(doc) == JOB_KEYS | {"history", "env"}
    (attempt,) = doc["history"]
    assert set(attempt) == ATTEMPT_KEYS
    assert attempt["attempt"] == 1 and isinstance(attempt["duration"], float)
    assert attempt["timed_out"] is False
    human = cli.ok("show", "x").out
    assert "History" in human and "exit code 2" in human


def test_status_and_worker_list_shapes(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "sleep 30", "--id", "busy")
    w = cli.workers("--count", "2")
    workers.append(w)
    wait_for(lambda: cli.state("busy") == "processing")
    status = cli.json("status")
    assert set(status["jobs"]) == {"pending", "processing", "completed", "failed", "dead", "total"}
    assert status["jobs"]["processing"] == 1 and status["jobs"]["total"] == 1
    assert status["dlq"] == 0
    assert len(status["workers"]) == 2
    for worker in status["workers"]:
        assert set(worker) == WORKER_KEYS
    assert sorted(str(x["current_job"]) for x in status["workers"]) == ["None", "busy"]
    listed = cli.json("worker", "list")
    assert {x["pid"] for x in listed} == set(w.worker_pids())
    human = cli.ok("status").out
    assert "    Processing: 1\n" in human and "  Workers: 2 alive\n" in human
    assert "busy" in human.split("Workers: 2 alive")[1]  # the workers table follows


def test_status_prints_the_seed_block(cli: Cli) -> None:
    """Seed 003's block, line for line, so that `status | grep 'Pending: 2'` works."""
    cli.ok("enqueue", "true")
    cli.ok("enqueue", "true")
    out = cli.ok("status").out
    block = (
        "Queue Status:\n"
        "  Jobs:\n"
        "    Pending: 2\n"
        "    Processing: 0\n"
        "    Completed: 0\n"
        "    Failed: 0\n"
        "    Dead: 0\n"
        "    Total: 2\n"
        "  DLQ: 0 jobs\n"
    )
    assert out.startswith(block), out
    assert "  Workers: 0 alive\n" in out


def test_config_shapes(cli: Cli) -> None:
    everything = cli.json("config", "list")
    assert set(everything) == {
        "max_retries",
        "backoff_base",
        "max_backoff",
        "backoff_jitter",
        "job_timeout",
        "worker_count",
        "lease_timeout",
        "poll_interval",
        "output_limit",
    }
    assert cli.ok("config", "set", "poll_interval_ms", "250").out == "poll_interval = 0.25\n"
    assert cli.ok("config", "get", "poll_interval_ms").out == "250\n"
    assert cli.json("config", "get", "poll-interval") == {"poll_interval": 0.25}
    assert cli.json("config", "unset", "poll_interval") == {"poll_interval": 0.5}
    assert cli.json("config", "get", "lock_timeout_s") == {"lease_timeout": 30.0}


def test_common_spellings_of_config_list_and_detach(cli: Cli, supervisors: list[int]) -> None:
    """`config show` is `config list`; `--daemon` and `--detached` are `--detach` (SPEC §6)."""
    cli.ok("config", "set", "max_retries", "4")
    assert cli.ok("config", "show").out == cli.ok("config", "list").out
    assert cli.json("config", "show") == cli.json("config", "list")
    for spelling in ("--daemon", "--detached"):
        out = cli.ok("worker", "start", "--count", "1", spelling).out
        pid = detached_pid(out)
        supervisors.append(pid)
        assert out.startswith("started 1 worker(s) in the background")
        assert len(cli.json("worker", "list")) == 1
        cli.ok("worker", "stop")
        wait_for(lambda p=pid: not alive(p), timeout=10, what="the supervisor to exit")


def test_dlq_clear_without_a_terminal_does_not_ask(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "false", "--max-retries", "0", "--id", "gone")
    workers.append(cli.workers())
    wait_for(lambda: cli.state("gone") == "dead")
    assert cli.json("dlq", "clear") == {"deleted": 1}
    assert cli.run("show", "gone").code == 1


def test_dlq_retry_all(cli: Cli, workers: list[Workers]) -> None:
    for i in range(3):
        cli.ok("enqueue", "false", "--max-retries", "0", "--id", f"d{i}")
    w = cli.workers()
    workers.append(w)
    wait_for(lambda: cli.counts()["dead"] == 3)
    cli.ok("worker", "stop")
    assert sorted(cli.json("dlq", "retry", "--all")["retried"]) == ["d0", "d1", "d2"]
    assert cli.counts()["pending"] == 3
    assert cli.ok("dlq", "retry", "--all").out.strip().startswith("the dead letter queue is empty")


def test_no_arguments_off_a_terminal_prints_help(cli: Cli) -> None:
    result = cli.run()
    assert result.code == 0 and "usage: queuectl" in result.out
    assert cli.ok("--version").out.startswith("queuectl ")


def test_group_without_action_is_a_usage_error(cli: Cli) -> None:
    assert cli.run("dlq").code == 2
    assert cli.run("worker").code == 2


def test_status_watch_refreshes_off_a_terminal(cli: Cli) -> None:
    import subprocess

    from ..helpers import QUEUECTL

    with subprocess.Popen(
        [QUEUECTL, "status", "--watch", "--interval", "0.1", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(cli.env, QUEUECTL_DB=cli.db),
    ) as proc:
        assert proc.stdout is not None
        docs = [json.loads(proc.stdout.readline()) for _ in range(3)]
        proc.send_signal(2)
        assert proc.wait(10) == 0
    assert all(d["jobs"]["total"] == 0 for d in docs)


def test_a_reader_that_leaves_early_is_not_an_error(cli: Cli) -> None:
    """`queuectl status | grep -q pending` under `set -o pipefail` (SPEC §6): exit 0, quiet.

    The pipe's read end is closed before queuectl writes, so every command meets the broken
    pipe on its first write, whatever the timing."""
    import os
    import subprocess

    from ..helpers import QUEUECTL

    cli.ok("enqueue", "true", "--id", "one")
    for args in (
        ["status"],
        ["list"],
        ["show", "one"],
        ["config", "list"],
        ["worker", "list"],
        ["dlq", "list"],
        ["list", "--json"],
    ):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = subprocess.run(
                [QUEUECTL, *args],
                stdout=write_end,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=dict(cli.env, QUEUECTL_DB=cli.db),
                text=True,
                timeout=60,
            )
        finally:
            os.close(write_end)
        assert (proc.returncode, proc.stderr) == (0, ""), args
    script = f"set -o pipefail; {QUEUECTL} status | grep -qi pending && {QUEUECTL} list | head -1"
    shell = subprocess.run(
        ["bash", "-c", script],
        env=dict(cli.env, QUEUECTL_DB=cli.db),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0, shell
