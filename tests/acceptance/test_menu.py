"""The interactive menu: `queuectl -i`, or `queuectl` alone on a terminal."""

from __future__ import annotations

import os
import pty
import select
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
