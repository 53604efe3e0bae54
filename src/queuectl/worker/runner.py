"""Running one attempt of a shell command.

The command runs as ``/bin/sh -c COMMAND`` in a new session (so it leads its own process
group), with stdin from ``/dev/null``, in the job's directory and environment, and with
every signal at its default disposition (a worker started from a script may itself ignore
SIGINT or SIGHUP; its jobs must not inherit that). Only the last ``output_limit`` bytes of
stdout and stderr are kept. The attempt ends when the shell exits: background children
that keep the pipes open do not hold it. On a timeout, or when the worker must stop, the
whole group gets SIGTERM and, after a short grace, SIGKILL.

It is spawned with ``posix_spawn`` rather than ``subprocess.Popen``: for a short command
the spawn is most of the queue's own cost, and this path is as cheap as a bare spawn. Every
descriptor queuectl opens is close-on-exec, so the command inherits only 0, 1 and 2.
"""

from __future__ import annotations

import enum
import errno
import os
import select
import signal
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from ..models import AttemptResult

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
SHELL = "/bin/sh"
_CHUNK = 65536
# Dispositions a worker may have inherited or set (ignored, or handled by Python): the job
# starts with the defaults. Handled ones reset on exec anyway; ignored ones would not.
_DEFAULT_SIGNALS = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGPIPE,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCHLD,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGXFSZ,
)


class Stop(enum.Enum):
    """Why a running command is being terminated (besides its own timeout)."""

    FORCE = "interrupted by a forced stop (not counted against the retry budget)"
    ORPHANED = "worker lost: its supervisor exited"
    LEASE_LOST = "lease lost: the job was recovered by another worker"


class Command(NamedTuple):
    command: str
    cwd: str
    env: Mapping[bytes, bytes] | Mapping[str, str]
    timeout: float | None
    output_limit: int


class Tail:
    """Keeps the last ``limit`` bytes written, and how many were written in all."""

    __slots__ = ("_buf", "limit", "total")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.limit <= 0:
            return
        self._buf += data
        # Trim in large steps so a chatty command costs amortised O(1) per byte.
        if len(self._buf) > 2 * self.limit:
            del self._buf[: len(self._buf) - self.limit]

    def value(self) -> bytes:
        if self.limit <= 0:
            return b""
        return bytes(self._buf[-self.limit :])


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(pgid, 0)
            return True
        except OSError:
            return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the ")" that closes the command name: state ppid pgrp ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_exit(code: int) -> str | None:
    """A readable reason for a non-zero exit status, None for success."""
    if code == 0:
        return None
    if code == 127:
        return "command not found (exit 127)"
    if code == 126:
        return "command not executable (exit 126)"
    if code > 128 and code - 128 < 65:
        return f"killed by {signal_name(code - 128)} (exit {code})"
    return f"exit code {code}"


class Execution:
    """One running attempt. ``start`` spawns it; ``wait`` supervises it to the end."""

    def __init__(self, cmd: Command) -> None:
        self.cmd = cmd
        self.pid: int | None = None
        self._pipes: dict[int, Tail] = {}
        self.out = Tail(cmd.output_limit)
        self.err = Tail(cmd.output_limit)
        self.started_at = time.time()
        self.stop_reason: Stop | None = None
        self.timed_out = False
        self._kill_at: float | None = None
        self._spawn_error: str | None = None

    def start(self) -> None:
        cmd = self.cmd
        self.started_at = time.time()
        problem = _unusable_directory(cmd.cwd)
        if problem is not None:
            self._spawn_error = problem
            return
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.pid = os.posix_spawn(
                SHELL,
                [SHELL, "-c", _in_directory(cmd.cwd, cmd.command)],
                cmd.env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, out_w, 1),
                    (os.POSIX_SPAWN_DUP2, err_w, 2),
                ],
                setsid=True,
                setsigmask=(),
                setsigdef=_DEFAULT_SIGNALS,
            )
        except OSError as exc:
            os.close(out_r)
            os.close(err_r)
            self._spawn_error = f"cannot start the command: {exc.strerror or exc}"
        else:
            self._pipes = {out_r: self.out, err_r: self.err}
        finally:
            os.close(out_w)
            os.close(err_w)

    def progress(self) -> AttemptResult:
        """The attempt so far (for ``logs --follow``)."""
        return self._result(None, None, time.time())

    def terminate(self, reason: Stop | None = None) -> None:
        """SIGTERM the whole group now; SIGKILL follows after the grace period."""
        if reason is not None and self.stop_reason is None:
            self.stop_reason = reason
        if self._kill_at is not None or self.pid is None:
            return
        self._signal_group(signal.SIGTERM)
        self._kill_at = time.monotonic() + KILL_GRACE

    def _signal_group(self, signum: int) -> None:
        assert self.pid is not None
        try:
            os.killpg(self.pid, signum)  # the shell leads its session, so pgid == pid
        except ProcessLookupError:
            pass

    def wait(
        self,
        watch: Sequence[int],
        on_tick: Callable[[], Stop | None],
        tick_every: float,
    ) -> AttemptResult:
        """Run until the shell exits, reading its output.

        ``on_tick`` is called every ``tick_every`` seconds and whenever a ``watch`` fd is
        readable; returning a ``Stop`` terminates the command.
        """
        pid = self.pid
        if pid is None:
            now = time.time()
            return AttemptResult(None, self._spawn_error, False, self.started_at, now)
        pipes = self._pipes
        # epoll directly, not selectors: for a command as short as `true` the wrapper's
        # bookkeeping is a measurable share of the queue's cost per job.
        poll = select.epoll()
        try:
            exit_fd = os.pidfd_open(pid)
        except OSError:
            exit_fd = -1  # no pidfd: fall back to polling the child
        open_pipes = set(pipes)
        try:
            for fd in (*pipes, *watch) if exit_fd < 0 else (*pipes, exit_fd, *watch):
                poll.register(fd, select.EPOLLIN)
            status = self._loop(poll, open_pipes, exit_fd, set(watch), on_tick, tick_every)
        finally:
            poll.close()
            if exit_fd >= 0:
                os.close(exit_fd)
        finished = time.time()
        for fd, tail in pipes.items():
            if fd in open_pipes:  # only what has not reached end of file yet
                _drain(fd, tail)
            os.close(fd)
        if self.timed_out or self.stop_reason is not None:
            self._finish_group()
        return self._result(status, self._reason(status), finished)

    def _loop(
        self,
        poll: select.epoll,
        open_pipes: set[int],
        exit_fd: int,
        watch: set[int],
        on_tick: Callable[[], Stop | None],
        tick_every: float,
    ) -> int:
        pid = self.pid
        assert pid is not None
        start = time.monotonic()
        deadline = start + self.cmd.timeout if self.cmd.timeout else None
        next_tick = start + tick_every
        while True:
            now = time.monotonic()
            wake_at = next_tick
            if deadline is not None and not self.timed_out:
                wake_at = min(wake_at, deadline)
            if self._kill_at is not None:
                wake_at = min(wake_at, self._kill_at)
            timeout = max(0.0, wake_at - now)
            if exit_fd < 0:
                timeout = min(timeout, 0.01)
            tick = False
            exited = False
            for fd, _ in poll.poll(timeout):
                if fd in open_pipes:
                    try:
                        data = os.read(fd, _CHUNK)
                    except OSError:
                        data = b""
                    if data:
                        self._pipes[fd].feed(data)
                    else:
                        poll.unregister(fd)
                        open_pipes.discard(fd)
                elif fd == exit_fd:
                    exited = True
                elif fd in watch:
                    tick = True
            if exited:
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if exit_fd < 0:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status)
            now = time.monotonic()
            if deadline is not None and now >= deadline and not self.timed_out:
                self.timed_out = True
                self.terminate()
            if self._kill_at is not None and now >= self._kill_at:
                self._signal_group(signal.SIGKILL)
                self._kill_at = now + 3600  # sent; just wait for the exit now
            if tick or now >= next_tick:
                next_tick = now + tick_every
                reason = on_tick()
                if reason is not None:
                    self.terminate(reason)
                    # The watched fds may stay readable (a closed pipe): stop polling them.
                    for fd in watch:
                        poll.unregister(fd)
                    watch = set()

    def _finish_group(self) -> None:
        """After a kill, make sure nothing of the group lingers (grandchildren included)."""
        assert self.pid is not None
        pgid = self.pid
        if self._kill_at is None:
            self.terminate()
        kill_at = self._kill_at if self._kill_at is not None else time.monotonic()
        kill_at = min(kill_at, time.monotonic() + KILL_GRACE)
        while time.monotonic() < kill_at and group_alive(pgid):
            time.sleep(0.02)
        self._signal_group(signal.SIGKILL)

    def _reason(self, status: int) -> str | None:
        if self.stop_reason is not None:
            return self.stop_reason.value
        if self.timed_out:
            return f"timed out after {self.cmd.timeout:g}s"
        if status < 0:
            return f"killed by {signal_name(-status)}"
        return describe_exit(status)

    def _result(self, status: int | None, error: str | None, finished: float) -> AttemptResult:
        exit_code = None if status is None else (128 - status if status < 0 else status)
        return AttemptResult(
            exit_code=exit_code,
            error=error,
            timed_out=self.timed_out,
            started_at=self.started_at,
            finished_at=finished,
            stdout=self.out.value(),
            stderr=self.err.value(),
            stdout_total=self.out.total,
            stderr_total=self.err.total,
        )


def _unusable_directory(path: str) -> str | None:
    """Why a job cannot run in ``path`` (None when it can): a readable reason, checked
    before spawning so that such a job never runs anywhere else."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"working directory {path} does not exist"
    except OSError as exc:
        return f"cannot enter working directory {path}: {exc.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return f"working directory {path} is not a directory"
    if not os.access(path, os.X_OK):
        return f"cannot enter working directory {path}: Permission denied"
    return None


def _in_directory(cwd: str, command: str) -> str:
    """The shell script that runs ``command`` in ``cwd``.

    posix_spawn cannot set the child's directory, and the worker must never change its own
    (its start directory may be removed under it; a step back into it would then fail with
    the command already running). So the shell enters it first: a builtin, no extra
    process. On the same line as the command, so that the command's line numbers (in the
    shell's own error messages) stay as the user wrote them; if the directory vanished
    since the check above, the shell says so on stderr and the command does not run.
    """
    target = cwd if cwd.startswith("/") else "./" + cwd  # never CDPATH, never `cd -`
    quoted = "'" + target.replace("'", "'\\''") + "'"
    return f"cd -- {quoted} || exit 1; {command}"


def _drain(fd: int, tail: Tail) -> None:
    """Read what the shell left in a pipe without waiting for writers that outlive it."""
    try:
        os.set_blocking(fd, False)
        for _ in range(64):  # bounded: a background child may keep writing forever
            data = os.read(fd, _CHUNK)
            if not data:
                return
            tail.feed(data)
    except BlockingIOError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EBADF, errno.EIO):
            raise
