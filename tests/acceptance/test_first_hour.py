"""What a new user meets in the first hour on an ordinary terminal (issue 10): long waits
say what they wait for, the worker log keeps its lifecycle lines, and the CLI takes what
people type."""

from __future__ import annotations

import argparse
import json
import re
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

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
def test_detached_json_prints_the_start_as_json(cli: Cli, supervisors: list[int]) -> None:
    started = cli.json("worker", "start", "--detach")
    supervisors.append(started["pid"])
    assert started["workers"] == 1 and started["log"].endswith("-worker.log")
    cli.ok("worker", "stop")


# --- input people type ----------------------------------------------------------------


def test_enqueue_takes_a_command_of_several_words(cli: Cli) -> None:
    def command_of(*args: str) -> dict[str, object]:
        doc: dict[str, object] = cli.ok("enqueue", "--json", *args).json()
        return doc

    assert command_of("echo", "hello", "world")["command"] == "echo hello world"
    job = command_of("ls", "-la", "--priority", "3")
    assert (job["command"], job["priority"]) == ("ls -la", 3)
    job = command_of("--queue", "mail", "grep", "-q", "x", "file", "-e")
    assert (job["command"], job["queue"]) == ("grep -q x file -e", "mail")
    job = command_of("--priority", "2", "--", "printf", "%s", "--priority")
    assert (job["command"], job["priority"]) == ("printf %s --priority", 2)
    # The spellings of the README and the seeds keep their meaning.
    job = command_of("echo 'Test Job'", "--max-retries", "3")
    assert (job["command"], job["max_retries"]) == ("echo 'Test Job'", 3)
    job = command_of('{"id":"j1","command":"sleep 2"}', "--priority", "5")
    assert (job["id"], job["command"], job["priority"]) == ("j1", "sleep 2", 5)
    typo = cli.run("enqueue", "echo", "hi", "--max-retry", "3")
    assert typo.code == 2 and "did you mean --max-retries?" in typo.err


def test_timeout_takes_durations_and_none(cli: Cli) -> None:
    cli.ok("config", "set", "job_timeout", "30")

    def timeout(*args: str) -> object:
        return cli.json("enqueue", "true", *args)["timeout"]

    assert timeout() == 30
    assert timeout("--timeout", "5m") == 300
    assert timeout("--timeout", "2.5") == 2.5
    assert timeout("--timeout", "0") is None
    assert timeout("--timeout", "none") is None


def test_logs_dash_f_follows(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "echo one; sleep 1; echo two", "--id", "chatty")
    workers.append(cli.workers())
    wait_for(lambda: cli.state("chatty") != "pending", what="the job to start")
    assert cli.ok("logs", "-f", "chatty").out == "one\ntwo\n"


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_sqlite_urls_follow_the_usual_convention(cli: Cli, tmp_path: Path) -> None:
    here = cli.cwd
    cli.ok("--db", "sqlite:///rel.db", "init")
    assert (here / "rel.db").is_file()
    absolute = tmp_path / "abs" / "q.db"
    absolute.parent.mkdir()
    cli.ok("--db", f"sqlite:///{absolute}", "init")  # i.e. sqlite:////tmp/.../q.db
    assert absolute.is_file()
    cli.ok("--db", "sqlite:nested.db", "init")
    assert (here / "nested.db").is_file()


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_a_relative_xdg_data_home_is_ignored(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = dict(cli.env, HOME=str(home), XDG_DATA_HOME="relative/data")
    env.pop("QUEUECTL_DB", None)
    done = subprocess.run(
        [QUEUECTL, "init"], env=env, cwd=cli.cwd, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    expected = home / ".local" / "share" / "queuectl" / "queuectl.db"
    assert str(expected) in done.stdout and expected.is_file()
    assert not (cli.cwd / "relative").exists()


def test_a_command_that_creates_a_store_says_so(cli: Cli, store_kind: str) -> None:
    first = cli.run("list")
    assert first.code == 0 and first.out == "No jobs.\n"
    if store_kind == "postgres":
        # A read never makes a PostgreSQL schema (docs/reliability.md); a write does.
        assert first.err == ""
        first = cli.run("config", "set", "max_retries", "3")
    assert first.err.startswith("created a new empty store at ")
    again = cli.ok("list")
    assert again.err == ""
    # A typo in --db, with show, status or init (which says it on stdout).
    typo = str(cli.cwd / "typo.db")
    missing = cli.run("--db", typo, "show", "nope")
    assert missing.code == 1
    assert missing.err.splitlines()[0] == f"created a new empty store at {typo}"
    assert cli.ok("--db", typo, "status").err == ""
    fresh = str(cli.cwd / "fresh.db")
    assert cli.ok("--db", fresh, "init").out.startswith(f"created a new empty store at {fresh}")
    assert cli.ok("--db", fresh, "init").out.startswith("store ready at ")


# --- help -----------------------------------------------------------------------------


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


def test_every_subcommand_says_what_it_does() -> None:
    from queuectl.cli import build_parser

    commands = list(_commands(build_parser()))
    assert len(commands) >= 15
    for name, parser in commands:
        assert parser.description, f"`queuectl {' '.join(name)} --help` does not say what it does"
        for action in parser._actions:
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{action.dest} of `queuectl {' '.join(name)}` has no help"


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_usage_errors_point_to_the_subcommand_help(cli: Cli) -> None:
    for args, where in (
        (["enqueue", "--bogus", "x"], "queuectl enqueue --help"),
        (["dlq", "retry", "--bogus"], "queuectl dlq retry --help"),
        (["worker", "stop", "--colour"], "queuectl worker stop --help"),
        (["logs"], "queuectl logs --help"),
        (["config", "set", "max_retries"], "queuectl config set --help"),
    ):
        result = cli.run(*args)
        assert result.code == 2 and f"(see `{where}`)" in result.err, result
    shown = cli.ok("config", "set", "--help").out
    from queuectl.config import KEYS

    assert all(key in shown for key in KEYS)
    assert "positional arguments" in cli.ok("show", "--help").out


# --- terminal output ------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
UUID = "0195a0e4-4a4f-7c3e-9b1d-2f6c8e7a5d31"
LONG_COMMAND = "python3 manage.py rebuild-search-index --batch-size 500 --verbose --all-tenants"


def _screen(cli: Cli, *args: str, columns: int) -> list[str]:
    """The lines ``queuectl ARGS`` shows on a terminal ``columns`` wide (colours removed)."""
    with cli.terminal(*args, columns=columns) as term:
        assert term.wait(30) == 0, term.output
    return ANSI.sub("", term.output).splitlines()


def _fits(lines: list[str], columns: int) -> None:
    too_wide = [line for line in lines if len(line) > columns]
    assert not too_wide, f"wider than {columns} columns: {too_wide}"


def test_list_fits_80_and_120_columns(cli: Cli) -> None:
    cli.ok("enqueue", LONG_COMMAND, "--id", UUID, "--queue", "search", "--priority", "5")
    cli.ok("enqueue", "echo short", "--id", "nightly-report")
    narrow = _screen(cli, "list", columns=80)
    _fits(narrow, 80)
    header = narrow[0].split()
    assert header[:3] == ["ID", "STATE", "ATTEMPTS"] and "COMMAND" in header
    assert "PRI" not in header and "QUEUE" not in header  # the least useful go first
    row = next(line for line in narrow if line.startswith(UUID))  # the whole id, never cut
    assert "python3 manage.py" in row and "…" in row  # the command is cut instead
    assert re.search(r"\(PRI, QUEUE.* left out to fit 80 columns", "\n".join(narrow))
    wide = _screen(cli, "list", columns=120)
    _fits(wide, 120)
    assert wide[0].split() == ["ID", "STATE", "ATTEMPTS", "PRI", "QUEUE", "COMMAND", "WHEN"]
    assert any(line.startswith(UUID) and "search" in line for line in wide)
    assert not any("left out" in line for line in wide)
    # COLUMNS is honoured off a terminal too; without it, piped rows are whole.
    cli.env.pop("COLUMNS", None)
    piped = cli.ok("list").out
    assert LONG_COMMAND in piped
    cli.env["COLUMNS"] = "80"
    _fits(cli.ok("list").out.splitlines(), 80)


def test_worker_tables_fit_80_columns(cli: Cli, workers: list[Workers]) -> None:
    cli.ok("enqueue", "sleep 30", "--id", UUID)
    w = cli.workers("--count", "2", "--queue", "default,reports,emails")
    workers.append(w)
    w.wait_ready(2)
    wait_for(lambda: cli.state(UUID) == "processing", what="the job to start")
    pids = [str(pid) for pid in w.worker_pids()]
    for args in (["worker", "list"], ["status"]):
        lines = _screen(cli, *args, columns=80)
        _fits([line for line in lines if not line.startswith("  Store: ")], 80)  # a path
        text = "\n".join(lines)
        assert all(f" {pid} " in text or text.endswith(f" {pid}") for pid in pids), text
        assert UUID in text  # the current job's whole id
        worker_ids = [r["id"] for r in cli.json("worker", "list")]
        assert all(worker_id in text for worker_id in worker_ids)
    cli.ok("worker", "stop", "--force")


def test_show_fits_80_columns_and_wraps_errors(cli: Cli, workers: list[Workers]) -> None:
    cli.ok(
        "enqueue",
        "echo out; exit 3",
        "--id",
        UUID,
        "--max-retries",
        "0",
        "--cwd",
        "/tmp",
    )
    workers.append(cli.workers())
    wait_for(lambda: cli.state(UUID) == "dead")
    lines = _screen(cli, "show", UUID, columns=80)
    _fits(lines, 80)
    text = "\n".join(lines)
    assert f"id            {UUID}" in text and "exit code 3" in text
    worker_id = cli.job(UUID)["history"][0]["worker_id"]
    assert worker_id in text


def test_enqueue_file_on_a_terminal_prints_a_count(cli: Cli) -> None:
    (cli.cwd / "jobs.jsonl").write_text(
        "".join(f'{{"id":"b{i}","command":"true"}}\n' for i in range(3))
    )
    lines = _screen(cli, "enqueue", "--file", "jobs.jsonl", columns=120)
    assert lines[-1].startswith("enqueued 3 jobs, b0 to b2; see them with `queuectl list")
    (cli.cwd / "more.jsonl").write_text('{"command":"true"}\n{"command":"true"}\n')
    piped = cli.ok("enqueue", "--file", "more.jsonl").out.splitlines()
    assert len(piped) == 2 and all(len(line) == 36 for line in piped)  # ids, for scripts


def test_the_showing_note_goes_to_stderr(cli: Cli) -> None:
    cli.ok("enqueue", "--file", "-", input='{"command":"true"}\n' * 3)
    listed = cli.ok("list", "--limit", "2")
    assert "showing the newest 2" in listed.err and "showing" not in listed.out
    assert len(listed.out.splitlines()) == 4  # header, rule, 2 rows


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_list_of_100000_jobs_streams(cli: Cli) -> None:
    lines = "".join(f'{{"command":"echo {i}"}}\n' for i in range(100_000))
    (cli.cwd / "many.jsonl").write_text(lines)
    cli.ok("enqueue", "--file", "many.jsonl")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with cli.terminal("list", "--limit", "0", columns=120) as term:
        assert term.wait(120) == 0
        ended = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = ANSI.sub("", term.output)
    assert output.count("\n") >= 100_002 and " echo 99999 " in output and " echo 0 " in output
    # The first rows show at once: long before the end (wall clock, under any load)...
    assert term.first_output_at is not None
    first = term.first_output_at - term.started_at
    assert first < 0.2 * (ended - term.started_at), (first, ended - term.started_at)
    # ...and the whole listing costs a few seconds of CPU, not 45.
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert cpu < 5, cpu
