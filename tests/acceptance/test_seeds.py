"""Every command shown in the five seed READMEs, spelled exactly as there.

Each seed gets its own store. Commands run through the real executable (and, for the
seed that uses them, through ``./bin/queuectl`` and ``python3 -m queuectl.cli``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ..helpers import QUEUECTL, Cli, Workers, detached_pid, wait_for

REPO = Path(__file__).resolve().parents[2]


def fast_retries(cli: Cli) -> None:
    """Failing seed jobs would back off for minutes; cap the delay for the test."""
    cli.ok("config", "set", "max_backoff", "0.05")


def test_seed_000_typer_sqlite(cli: Cli, workers: list[Workers]) -> None:
    fast_retries(cli)
    out = cli.ok("enqueue", "echo 'Test Job'", "--max-retries", "3").out.strip()
    assert cli.job(out)["max_retries"] == 3
    cli.ok("enqueue", "echo 'Hello from Docker!'")
    for args in (
        ["list"],
        ["list", "--state", "pending"],
        ["list", "--state", "completed"],
        ["list", "--state", "failed"],
    ):
        cli.ok(*args)
    pending = cli.ok("list", "--state", "pending").out
    assert "Test Job" in pending and " 0/3 " in pending  # attempts/max_retries, as in the seed
    w = cli.workers("--count", "2")
    workers.append(w)
    w.wait_ready(2)
    wait_for(lambda: cli.counts()["completed"] == 2)
    cli.ok("enqueue", '{"id":"broken","command":"exit 1","max_retries":0}')
    wait_for(lambda: cli.state("broken") == "dead")
    assert "broken" in cli.ok("dlq", "list").out
    cli.ok("dlq", "retry", "broken")
    wait_for(lambda: cli.state("broken") == "dead")
    assert cli.ok("dlq", "clear").out.strip() == "deleted 1 dead job(s)"
    cli.ok("config", "set", "max-retries", "5")
    cli.ok("config", "set", "worker-count", "4")
    assert cli.ok("config", "get", "max-retries").out.strip() == "5"
    listed = cli.ok("config", "list").out
    assert "max_retries" in listed and "worker_count" in listed


def test_seed_001_click_json(cli: Cli, workers: list[Workers]) -> None:
    fast_retries(cli)
    cli.ok("enqueue", "echo 'Hello World'")
    sleeper = cli.ok("enqueue", "sleep 5", "--max-retries", "3").out.strip()
    script = cli.ok("enqueue", "python script.py", "--timeout", "30").out.strip()
    assert cli.job(script)["timeout"] == 30
    assert cli.job(sleeper)["max_retries"] == 3
    start = subprocess.Popen(
        [QUEUECTL, "start", "--count", "3"],
        env=dict(cli.env, QUEUECTL_DB=cli.db),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(cli.json("worker", "list")) == 3, what="3 workers")
        cli.ok("status")
        cli.ok("list", "--state", "pending")
        wait_for(lambda: cli.state(script) == "dead", what="the failing python job")
        cli.ok("dlq", "list")
        cli.ok("dlq", "retry", script)
        cli.ok("config", "--key", "max_retries", "--value", "5")
        cli.ok("config", "--key", "backoff_base", "--value", "3")
        assert cli.json("config", "get") | {} == cli.json("config", "list")
        assert cli.json("config", "get", "max_retries") == {"max_retries": 5}
        assert cli.json("config", "get", "backoff_base") == {"backoff_base": 3.0}
        cli.ok("stop")  # graceful: waits for `sleep 5` to finish
        assert start.wait(30) == 0
    finally:
        if start.poll() is None:
            start.kill()
    assert cli.state(sleeper) == "completed"


def test_seed_002_argparse_bin_script(cli: Cli, supervisors: list[int]) -> None:
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    bin_queuectl = str(REPO / "bin" / "queuectl")

    def sh(line: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["sh", "-c", line],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        return proc

    assert "usage: queuectl" in sh("./bin/queuectl --help").stdout
    sh("""./bin/queuectl config set max_backoff 0.05""")
    sh("""./bin/queuectl enqueue '{"id":"job1","command":"echo Hello-QueueCTL","max_retries":2}'""")
    background = sh(f"./bin/queuectl worker start --count 2 > {cli.cwd}/w.log 2>&1 & echo $!")
    supervisors.append(int(background.stdout))
    wait_for(lambda: cli.state("job1") == "completed")
    sh("./bin/queuectl status")
    sh("./bin/queuectl list")
    assert "job1" in sh("./bin/queuectl list --state completed").stdout
    sh("./bin/queuectl dlq list")
    sh("""./bin/queuectl enqueue '{"id":"demo1","command":"echo Hello","max_retries":2}'""")
    sh("""./bin/queuectl enqueue '{"id":"demo2","command":"nonexistent-cmd","max_retries":2}'""")
    wait_for(lambda: cli.state("demo2") == "dead")
    listing = sh("./bin/queuectl dlq list").stdout
    assert "demo2" in listing
    assert cli.job("demo2")["attempts"] == 2  # max_retries 2: two runs, then the DLQ
    sh("./bin/queuectl dlq retry demo2")
    sh("./bin/queuectl config set backoff_base 1.5")
    sh("./bin/queuectl config set job_timeout 5")
    assert sh("./bin/queuectl config get backoff_base").stdout.strip() == "1.5"
    sh("./bin/queuectl worker stop")
    assert cli.json("worker", "list") == []
    # Jobs enqueued after `config set job_timeout 5` carry it; earlier ones keep theirs.
    later = cli.ok("enqueue", "true").out.strip()
    assert cli.job(later)["timeout"] == 5 and cli.job("demo1")["timeout"] is None
    # The seed's "Terminal A": the module entry point runs a worker in the foreground.
    proc = subprocess.Popen(
        [sys.executable, "-m", "queuectl.cli", "worker", "start", "--count", "1"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: cli.state(later) == "completed")
        sh(f"{bin_queuectl} worker stop")
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_seed_003_menu_seed_commands(cli: Cli, workers: list[Workers]) -> None:
    fast_retries(cli)
    cli.ok("enqueue", '{"id":"job1","command":"echo Hello World"}')
    cli.ok("enqueue", '{"command":"sleep 2"}')
    (cli.cwd / "job.json").write_text(json.dumps({"id": "from-file", "command": "echo file"}))
    cli.ok("enqueue", "--file", "job.json")
    cli.ok("enqueue", '{"id":"test1","command":"echo Success"}')
    cli.ok("enqueue", '{"id":"test2","command":"exit 1","max_retries":3}')
    cli.ok("enqueue", '{"id":"test3","command":"exit 1","max_retries":2}')
    for i in (1, 2, 3):
        cli.ok("enqueue", json.dumps({"id": f"job{i}x", "command": "sleep 1"}))
    cli.ok("enqueue", '{"id":"persist1","command":"echo test"}')
    # A job record as the seed's storage shows one, pasted back in: it enqueues as new.
    record = {
        "id": "unique-job-id",
        "command": "echo 'Hello World'",
        "state": "pending",
        "attempts": 0,
        "max_retries": 3,
        "created_at": "2025-11-04T10:30:00Z",
        "updated_at": "2025-11-04T10:30:00Z",
        "next_retry_at": None,
    }
    assert cli.ok("enqueue", json.dumps(record)).out == "unique-job-id\n"
    pasted = cli.job("unique-job-id")
    assert (pasted["state"], pasted["attempts"], pasted["max_retries"]) == ("pending", 0, 3)
    assert not pasted["created_at"].startswith("2025-11-04")
    refused = cli.run("enqueue", json.dumps(dict(record, id="done-job", state="completed")))
    assert refused.code == 2 and "a new job starts pending with 0 attempts" in refused.err
    for state in ("pending", "processing", "completed", "failed", "dead"):
        cli.ok("list", "--state", state)
    cli.ok("config", "get")
    assert cli.ok("config", "get", "max_retries").out.strip() == "3"
    cli.ok("config", "set", "max-retries", "5")
    cli.ok("config", "set", "backoff-base", "3.0")
    cli.ok("config", "set", "worker-count", "4")
    w = cli.workers("--count", "3")
    workers.append(w)
    wait_for(lambda: cli.state("test3") == "dead" and cli.state("test2") == "dead", timeout=30)
    # As seed 003 says: dead once attempts >= max_retries.
    assert cli.job("test3")["attempts"] == 2 and cli.job("test2")["attempts"] == 3
    cli.ok("dlq", "list")
    cli.ok("dlq", "retry", "test3")
    cli.ok("list", "--state", "pending")
    status = cli.ok("status").out
    assert status.startswith("Queue Status:\n  Jobs:\n    Pending: ")
    assert re.search(r"^    Dead: (\d+)\n    Total: \d+\n  DLQ: \1 jobs$", status, re.M), status
    cli.ok("worker", "stop")
    assert w.wait(20) == 0
    default = cli.workers()  # `queuectl worker start`: the count comes from config (4)
    workers.append(default)
    wait_for(lambda: len(cli.json("worker", "list")) == 4, what="4 workers")
    cli.ok("worker", "stop")


def test_seed_004_sqlalchemy_style(
    cli: Cli, workers: list[Workers], supervisors: list[int]
) -> None:
    fast_retries(cli)
    init = cli.ok("init").out
    assert cli.db in init
    cli.ok("enqueue", '{"command":"echo Hello World"}')
    cli.ok("enqueue", '{"command":"echo Hello"}')
    cli.ok(
        "enqueue",
        """{
  "id": "job-123",
  "command": "python script.py",
  "priority": 10,
  "run_at": "2025-12-31T23:59:59Z",
  "timeout_s": 300,
  "max_retries": 5,
  "backoff_base": 2.0
}""",
    )
    job = cli.job("job-123")
    assert (job["priority"], job["timeout"], job["max_retries"]) == (10, 300, 5)
    (cli.cwd / "jobs.json").write_text(
        json.dumps([{"command": "echo a"}, {"command": "echo b", "priority": 3}])
    )
    assert len(cli.ok("enqueue", "--file", "jobs.json").out.split()) == 2
    cli.ok("enqueue", '{"command":"urgent_task","priority":100}')
    cli.ok("enqueue", '{"command":"normal_task","priority":10}')
    cli.ok("enqueue", '{"command":"low_task","priority":1}')
    cli.ok("enqueue", '{"command":"python backup.py","run_at":"2099-12-01T00:00:00Z"}')
    ready = cli.json("list", "--pending-ready-only")
    assert all(j["command"] != "python backup.py" for j in ready)
    assert [j["id"] for j in ready] == [j["id"] for j in cli.json("list", "--ready")]
    cli.ok("list", "--pending-ready-only")
    cli.ok("status")
    status = cli.json("status")
    assert set(status) == {"jobs", "dlq", "workers"}
    w = cli.workers("--count", "5")
    workers.append(w)
    w.wait_ready(5)
    wait_for(lambda: cli.state("job-123") == "dead", timeout=30)
    cli.ok("logs", "job-123")
    cli.ok("dlq", "list")
    assert "job-123" in [j["id"] for j in cli.json("dlq", "list")]
    cli.ok("dlq", "retry", "job-123")
    cli.ok("config", "get")
    cli.ok("config", "get", "max_retries")
    cli.ok("config", "set", "max_retries", "5")
    cli.ok("config", "set", "backoff_base", "3.0")
    supervisors.append(detached_pid(cli.ok("worker", "start", "--count", "3", "--detach").out))
    cli.ok("list")
    cli.ok("worker", "stop")
    assert w.wait(20) == 0


def test_seed_003_python_main_py(cli: Cli) -> None:
    """`python main.py ...` from the checkout, as seed 003 spells it."""
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    (cli.cwd / "job.json").write_text('{"id": "from-main", "command": "echo hi"}')

    def main_py(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO / "main.py"), *args],
            env=env,
            cwd=cli.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert main_py("enqueue", '{"id":"job1","command":"echo Hello World"}').stdout == "job1\n"
    assert main_py("enqueue", "--file", "job.json").stdout == "from-main\n"
    assert "job1" in main_py("list").stdout
    menu = main_py("--interactive", stdin="1\n0\n")
    assert menu.returncode == 0 and "queuectl: job queue manager" in menu.stdout
    assert main_py("-i", stdin="0\n").returncode == 0
