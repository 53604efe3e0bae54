"""Every example in the README runs as shown.

Each fenced block of the README is a test case, run in a sandbox of its own (a fresh home,
default store and working folder; the installed `queuectl` first on PATH):

* ```` ```console ````: each ``$ `` line is run with bash; the lines under it are what it
  prints. It must exit 0 (or fail, when what it prints starts with ``error:``), and every
  word of the shown output that does not vary between runs (no digit, not a path, not a
  table rule) must appear in the real output, in the same order.
* ```` ```bash ````: each command line is run in turn and must exit 0. A line whose comment
  says "Ctrl+C" runs in the foreground until interrupted: it gets 3 s, then SIGINT, and
  must then exit cleanly, as it does for a person.
* ```` ```python ````: the block runs as a script and must exit 0, printing exactly what its
  ``# prints: X`` comments say, line by line.

An HTML comment right above a block steers it: ``<!-- readme-test: skip: REASON -->`` (a
block that cannot run here: a placeholder host, the test suite itself), or
``<!-- readme-test: setup: COMMANDS -->`` (bash, run first, invisible to readers: the state
the example assumes, such as a job that is already in the DLQ). Blocks of any other
language (text, json, ini) are shown output or files, not run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from ..helpers import QUEUECTL

README = Path(__file__).resolve().parents[2] / "README.md"
RUN = ("console", "bash", "python")
FOREGROUND_FOR = 3.0  # seconds a "Ctrl+C" command runs before it gets its Ctrl+C
LINE_TIMEOUT = 90.0
FENCE = re.compile(r"^```(\w*)\s*$")
STEER = re.compile(r"^<!-- readme-test: (skip|setup): (.+?) -->$")


class Block(NamedTuple):
    line: int  # where it starts in the README (1-based), for messages
    language: str
    text: str
    skip: str | None
    setup: str | None

    @property
    def name(self) -> str:
        return f"README.md:{self.line}-{self.language}"


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, language = i, match.group(1)
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        skip = setup = None
        steer = STEER.match(lines[start - 1].strip()) if start else None
        if steer:
            if steer.group(1) == "skip":
                skip = steer.group(2)
            else:
                setup = steer.group(2)
        body = "\n".join(lines[start + 1 : end]) + "\n"
        found.append(Block(start + 1, language, body, skip, setup))
        i = end + 1
    return found


ALL = blocks(README.read_text())
RUNNABLE = [b for b in ALL if b.language in RUN]


def test_the_readme_has_examples_that_run() -> None:
    runs = [b for b in RUNNABLE if b.skip is None]
    assert len(runs) >= 12, "most README examples must run"
    assert sum(b.language == "console" for b in runs) >= 6
    assert any(b.language == "python" for b in runs)


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.home = root / "sandbox-home"
        self.work = root / "sandbox-work"
        for folder in (self.home, self.work):
            folder.mkdir()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("QUEUECTL_", "XDG_")) and k not in ("COLUMNS", "LINES")
        }
        bin_dir = str(Path(QUEUECTL).parent)
        self.env.update(HOME=str(self.home), PATH=bin_dir + os.pathsep + self.env["PATH"])
        self.groups: list[int] = []

    def run(self, command: str, foreground: bool = False) -> subprocess.CompletedProcess[str]:
        # Output goes to files, not pipes: a command that leaves a process running in the
        # background (`worker start &`) would hold a pipe open past its own end.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.work,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                start_new_session=True,
            )
            self.groups.append(proc.pid)
            try:
                proc.wait(timeout=FOREGROUND_FOR if foreground else LINE_TIMEOUT)
            except subprocess.TimeoutExpired:
                if not foreground:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    pytest.fail(f"`{command}` still ran after {LINE_TIMEOUT:g}s")
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C, to the whole foreground group
                proc.wait(timeout=LINE_TIMEOUT)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())

    def close(self) -> None:
        # Whatever an example left running (a detached supervisor, a `worker start &`).
        self.run("queuectl worker stop --force --timeout 20 >/dev/null 2>&1 || true")
        for pgid in self.groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


VOLATILE = {"now", "ago"}  # relative times: "due now" on one run is "due 1s ago" on the next


def _stable(token: str) -> bool:
    """A word of shown output that every run prints the same way."""
    return (
        token not in VOLATILE
        and not any(c.isdigit() for c in token)
        and not token.startswith(("/", "~", "(/", "`/"))
        and not set(token) <= set("─-…")
    )


def _words(text: str) -> list[str]:
    return [t for t in text.split() if _stable(t)]


def _in_order(shown: list[str], real: list[str]) -> list[str]:
    """The shown words missing from ``real`` in that order (empty when all are there)."""
    at = 0
    for n, word in enumerate(shown):
        try:
            at = real.index(word, at) + 1
        except ValueError:
            return shown[n:]
    return []


def _commands(block: Block) -> list[tuple[str, str]]:
    """(command, shown output) pairs of a console block; ``\\`` continues a command."""
    pairs: list[tuple[str, str]] = []
    command: str | None = None
    shown: list[str] = []
    continued = False
    for line in block.text.splitlines():
        if continued and command is not None:
            command += "\n" + line
            continued = line.endswith("\\")
        elif line.startswith("$ "):
            if command is not None:
                pairs.append((command, "\n".join(shown)))
            command, shown = line[2:], []
            continued = line.endswith("\\")
        else:
            shown.append(line)
    if command is not None:
        pairs.append((command, "\n".join(shown)))
    return pairs


def _bash_lines(block: Block) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        if not raw.strip() or (raw.lstrip().startswith("#") and not pending):
            continue
        pending += raw + "\n"
        if not raw.endswith("\\"):
            lines.append(pending.rstrip("\n"))
            pending = ""
    return lines


def _check(block: Block, command: str, shown: str, done: subprocess.CompletedProcess[str]) -> None:
    where = f"{block.name}: `{command}`"
    failed = shown.lstrip().startswith("error:")
    assert (done.returncode != 0) == failed, (
        f"{where} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    missing = _in_order(_words(shown), _words(done.stdout + "\n" + done.stderr))
    assert not missing, (
        f"{where}: the README shows words it does not print, from {missing[0]!r} on"
        f"\nshown:\n{shown}\nprinted:\n{done.stdout}{done.stderr}"
    )


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_readme_example(block: Block, tmp_path: Path) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)
    sandbox = Sandbox(tmp_path)
    try:
        if block.setup is not None:
            done = sandbox.run(block.setup)
            assert done.returncode == 0, f"{block.name}: setup failed: {done.stderr}"
        if block.language == "python":
            script = tmp_path / "example.py"
            script.write_text(block.text)
            done = sandbox.run(f"{sys.executable} {script}")
            assert done.returncode == 0, f"{block.name} failed:\n{done.stderr}"
            # `# prints: X` comments say what the line prints, in order.
            expected = re.findall(r"# prints: (.*)$", block.text, re.MULTILINE)
            printed = done.stdout.splitlines()
            assert printed == [e.strip() for e in expected], f"{block.name} printed {printed}"
        elif block.language == "console":
            for command, shown in _commands(block):
                _check(block, command, shown, sandbox.run(command))
        else:
            for line in _bash_lines(block):
                foreground = "Ctrl+C" in line.partition("#")[2]
                started = time.monotonic()
                done = sandbox.run(line, foreground=foreground)
                ok = (0, 130, -signal.SIGINT) if foreground else (0,)
                assert done.returncode in ok, (
                    f"{block.name}: `{line}` exited {done.returncode} after "
                    f"{time.monotonic() - started:.1f}s\n{done.stdout}{done.stderr}"
                )
    finally:
        sandbox.close()
