"""The interactive menu: `queuectl -i`, or `queuectl` alone on a terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

from ..helpers import QUEUECTL, Cli


def test_menu_through_a_pipe(cli: Cli) -> None:
    answers = (
        "\n".join(
            [
                "3",
                "menu-job",
                "echo from the menu",
                "2",  # enqueue, 2 retries
                "2",
                "2",  # list pending jobs
                "9",
                "max-retries",
                "7",  # set config
                "8",  # view config
                "7",
                "menu-job",  # retry from the DLQ: not dead, an error, the menu carries on
                "x",  # not a choice
                "0",
            ]
        )
        + "\n"
    )
    result = cli.run("-i", input=answers)
    assert result.code == 0, result
    out = result.out
    assert "queuectl: job queue manager" in out and "enqueued menu-job" in out
    assert "echo from the menu" in out  # in the pending list
    assert "max_retries = 7" in out
    assert "error: job 'menu-job' is pending, not in the DLQ" in out
    assert "error: 'x' is not a choice" in out
    job = cli.job("menu-job")
    assert (job["state"], job["max_retries"]) == ("pending", 2)
    assert cli.json("config", "get", "max_retries") == {"max_retries": 7}


class Terminal:
    """`queuectl` on a pseudo-terminal: what a person types, and what the screen shows."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: queuectl with the terminal as stdin, stdout, stderr
            os.execve(QUEUECTL, [QUEUECTL, *args], dict(cli.env, QUEUECTL_DB=cli.db))
        self.screen = b""
        self.seen = 0  # how far expect() has read

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    def expect(self, needle: bytes, timeout: float = 30) -> None:
        """Wait until ``needle`` shows after what the last expect() matched."""
        deadline = time.monotonic() + timeout
        while (at := self.screen.find(needle, self.seen)) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} on the screen: {self.screen[-2000:]!r}")
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the program ended
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"ended before {needle!r}: {self.screen[-2000:]!r}")
                self.screen += chunk
        self.seen = at + len(needle)

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.screen += os.read(self.fd, 4096)
                except OSError:
                    pass
        raise AssertionError("the menu did not exit")

    def close(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = 0
        os.close(self.fd)


def test_ctrl_c_after_workers_in_the_menu_loses_no_job(cli: Cli) -> None:
    """Menu option 4 runs a supervisor in the menu's own process. Once Ctrl+C has stopped
    it, the menu must be as it was: Ctrl+C reaches the menu again, and no stale signal
    wake-up descriptor writes into the store (it once overwrote the WAL header, and the
    jobs acknowledged since were lost in a crash)."""
    cli.ok("init")
    # Another reader keeps the store open (as a second terminal would), so the jobs stay in
    # the WAL rather than being checkpointed into the database when the menu closes it.
    watcher = subprocess.Popen(
        [QUEUECTL, "status", "--watch", "--interval", "0.2", "--json"],
        env=dict(cli.env, QUEUECTL_DB=cli.db),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    term = Terminal(cli)
    try:
        term.expect(b"Choose 0-9: ")
        term.type(b"4\n")
        term.expect(b"How many workers")
        term.type(b"2\n")
        term.expect(b"action=workers_ready")
        term.type(b"\x03")  # Ctrl+C: stops the workers, back to the menu
        term.expect(b"action=supervisor_stopped")
        for i in range(3):
            term.expect(b"Choose 0-9: ")
            term.type(b"3\n")
            term.expect(b"Job id")
            term.type(f"after-{i}\n".encode())
            term.expect(b"Command: ")
            term.type(b"true\n")
            term.expect(b"Max retries")
            term.type(b"\n")
            term.expect(f"enqueued after-{i}".encode())
        term.expect(b"Choose 0-9: ")
        term.type(b"4\n")
        term.expect(b"How many workers")  # the menu holds the store open here
        term.type(b"\x03")  # Ctrl+C at a prompt: back to the menu
        term.expect(b"Choose 0-9: ")
        assert b"Bad file descriptor" not in term.screen
        assert b"Exception ignored" not in term.screen
    finally:
        term.close()  # SIGKILL both: a crash of the machine before any checkpoint
        watcher.kill()
        watcher.wait()
    assert sorted(j["id"] for j in cli.json("list")) == ["after-0", "after-1", "after-2"]
    assert cli.json("worker", "list") == []

    term = Terminal(cli)  # and Ctrl+C at the menu itself still ends it
    try:
        term.expect(b"Choose 0-9: ")
        term.type(b"4\n")
        term.expect(b"How many workers")
        term.type(b"1\n")
        term.expect(b"action=workers_ready")
        term.type(b"\x03")
        term.expect(b"action=supervisor_stopped")
        term.expect(b"Choose 0-9: ")
        term.type(b"\x03")
        assert term.wait() == 0
        assert b"Exception ignored" not in term.screen
    finally:
        term.close()


def test_no_arguments_on_a_terminal_opens_the_menu(cli: Cli) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: queuectl with a terminal for stdin and stdout
        os.execve(QUEUECTL, [QUEUECTL], dict(cli.env, QUEUECTL_DB=cli.db))
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while b"Choose 0-9" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                seen += os.read(fd, 4096)
        assert b"queuectl: job queue manager" in seen
        os.write(fd, b"0\n")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def test_no_arguments_off_a_terminal_prints_help_not_the_menu(cli: Cli) -> None:
    proc = subprocess.run(
        [QUEUECTL], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
    )
    assert proc.returncode == 0 and "usage: queuectl" in proc.stdout
    assert "job queue manager" not in proc.stdout
