"""The command runner against real processes: exit codes, output, timeouts, process groups."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from queuectl.worker.runner import Command, Execution, Stop, Tail, describe_exit

from ..helpers import alive, wait_for


def run(
    command: str,
    *,
    cwd: str = "/tmp",
    timeout: float | None = None,
    limit: int = 65536,
    env: dict[str, str] | None = None,
    on_tick=lambda: None,  # type: ignore[no-untyped-def]
    tick: float = 0.05,
):  # type: ignore[no-untyped-def]
    ex = Execution(Command(command, cwd, env or dict(os.environ), timeout, limit))
    ex.start()
    return ex, ex.wait([], on_tick, tick)


def test_success_captures_both_streams() -> None:
    _, r = run("echo out; echo err >&2")
    assert (r.exit_code, r.error, r.timed_out) == (0, None, False)
    assert (r.stdout, r.stderr) == (b"out\n", b"err\n")
    assert r.ok


def test_non_zero_exit_has_a_reason() -> None:
    _, r = run("exit 3")
    assert (r.exit_code, r.error) == (3, "exit code 3")
    assert not r.ok


def test_command_not_found_is_127() -> None:
    _, r = run("definitely-not-a-command-xyz")
    assert r.exit_code == 127
    assert r.error == "command not found (exit 127)"
    assert b"not found" in r.stderr


def test_missing_cwd_fails_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _, r = run(f"touch {marker}", cwd=str(tmp_path / "gone"))
    assert r.exit_code is None
    assert r.error == f"working directory {tmp_path / 'gone'} does not exist"
    assert not marker.exists()


def test_runs_in_cwd_with_env(tmp_path: Path) -> None:
    _, r = run('pwd; echo "$GREETING"', cwd=str(tmp_path), env={"GREETING": "hi", "PATH": "/bin"})
    assert r.stdout == f"{tmp_path}\nhi\n".encode()


def test_stdin_is_dev_null() -> None:
    _, r = run("cat; echo done")
    assert r.stdout == b"done\n"


def test_output_keeps_the_end() -> None:
    _, r = run("seq 1 100000", limit=1000)
    full = "".join(f"{i}\n" for i in range(1, 100001)).encode()
    assert r.stdout == full[-1000:]
    assert r.stdout_total == len(full)


def test_zero_output_limit_keeps_nothing() -> None:
    _, r = run("echo hello", limit=0)
    assert r.stdout == b"" and r.stdout_total == 6


def test_timeout_kills_the_group_including_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    # The grandchild ignores SIGTERM, so only the SIGKILL after the grace period stops it.
    _ex, r = run(
        f"sh -c 'trap \"\" TERM; echo $$ > {pidfile}; sleep 60' & sleep 60",
        timeout=0.5,
    )
    assert r.timed_out
    assert r.error == "timed out after 0.5s"
    grandchild = int(wait_for(lambda: pidfile.read_text().strip(), what="pid file"))
    wait_for(lambda: not alive(grandchild), timeout=10, what="grandchild to die")
    assert time.monotonic() - started < 10


def test_background_child_holding_the_pipes_does_not_hold_the_attempt(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    started = time.monotonic()
    _, r = run(f"(sleep 30; echo late) & echo $! > {pidfile}; echo quick")
    assert time.monotonic() - started < 5
    assert r.exit_code == 0 and r.stdout == b"quick\n"
    os.kill(int(pidfile.read_text()), 9)


def test_on_tick_can_terminate() -> None:
    calls = []

    def tick() -> Stop | None:
        calls.append(1)
        return Stop.FORCE if len(calls) >= 3 else None

    ex, r = run("sleep 30", on_tick=tick, tick=0.05)
    assert ex.stop_reason is Stop.FORCE
    assert r.error == Stop.FORCE.value
    assert r.exit_code == 128 + 15


def test_killed_by_signal_reports_it() -> None:
    _, r = run("kill -9 $$")
    assert r.exit_code == 137
    assert r.error == "killed by SIGKILL"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, None),
        (1, "exit code 1"),
        (126, "command not executable (exit 126)"),
        (143, "killed by SIGTERM (exit 143)"),
    ],
)
def test_describe_exit(code: int, text: str | None) -> None:
    assert describe_exit(code) == text


def test_tail_trims_in_steps() -> None:
    t = Tail(4)
    for chunk in (b"ab", b"cdef", b"ghij"):
        t.feed(chunk)
    assert t.value() == b"ghij" and t.total == 10


def test_the_command_inherits_only_stdio_and_default_signals() -> None:
    import signal

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under `queuectl worker start &`
    try:
        _, r = run("ls /proc/$$/fd; grep SigIgn /proc/$$/status")
    finally:
        signal.signal(signal.SIGINT, old)
    lines = r.stdout.decode().split()
    fds = {int(x) for x in lines[: lines.index("SigIgn:")]}
    # Whatever this test process was handed as inheritable is not ours to close.
    handed_down = {int(fd) for fd in os.listdir("/proc/self/fd") if _inheritable(int(fd))}
    assert fds - handed_down <= {0, 1, 2}
    # No standard signal (1-31) is ignored; 32 and 33 belong to the C library's threads.
    assert int(lines[-1], 16) & 0x7FFFFFFF == 0


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:
        return False


def test_cannot_enter_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    if os.geteuid() == 0:
        pytest.skip("root enters any directory")
    _, r = run("true", cwd=str(locked))
    assert r.error is not None and "cannot enter working directory" in r.error
