"""The supervisor: keeps N worker processes running, relays signals.

* First SIGINT/SIGTERM/SIGHUP: graceful stop, relayed to the workers as SIGTERM.
* A second one, or SIGUSR1: forced stop, relayed as SIGUSR1.
* Until it is itself told to stop, it restarts every worker that exits, whatever the
  reason (a crash, a kill, a signal sent to that worker alone, as by a job running
  `kill $PPID`), with a growing delay when one keeps failing. Only two things end the pool
  without that: `worker stop` (a worker reports the request it found in the store) and a
  lost or unusable store. Every exit is logged with its cause.
* It is a child subreaper (Linux), so the jobs of a worker that crashed are re-parented to
  it: it terminates their process groups (the lease then recovers the jobs) and reaps
  every child, since PID 1 may not.
* Workers hold the read end of a pipe whose write end only the supervisor has: when the
  supervisor dies, however it dies, they see EOF and stop.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import select
import signal
import struct
import sys
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import NoReturn

from ..store import without_password
from . import signals
from .log import EventLog
from .loop import (
    EXIT_CANNOT_START,
    EXIT_CRASHED,
    EXIT_ORPHANED,
    EXIT_STOP_REQUESTED,
    EXIT_STOPPED,
    EXIT_STORE_LOST,
    Worker,
)
from .runner import KILL_GRACE, signal_name

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
RESTART_DELAY_MAX = 30.0


def _set_subreaper(on: bool) -> bool:
    """Make this process a child subreaper (or not); returns whether it was one."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        was = ctypes.c_int(0)
        libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(was), 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)
        return bool(was.value)
    except (OSError, AttributeError):
        return False  # not Linux: crashed workers' jobs are then left to the lease alone


@dataclass
class Slot:
    index: int
    pid: int = 0
    started: float = 0.0
    spawned: int = 0  # how many workers this slot has started
    crashes: int = 0  # exits in a row that came soon after a start
    restart_at: float = 0.0
    stopped: bool = False  # not to be restarted


@dataclass
class Supervisor:
    url: str
    count: int
    queues: tuple[str, ...] | None = None
    quiet: bool = False  # drop the routine per-job lines
    json_log: bool = False  # JSON Lines instead of key=value lines
    notify_fd: int | None = None  # --detach: told "ok" once every worker is up
    # When `worker start` was launched (default: when run() is called). A `worker stop`
    # from that moment on stops this pool, even one that runs before a worker registers.
    launched_at: float | None = None
    log: EventLog = field(init=False)

    def __post_init__(self) -> None:
        # JSON Lines are the output a caller asked for (stdout); the text log is stderr.
        fd = sys.stdout.fileno() if self.json_log else None
        self.log = EventLog(f"supervisor={os.getpid()}", fd, quiet=self.quiet, json=self.json_log)
        self.stop = 0
        self._relayed = 0
        self._slots = [Slot(i) for i in range(self.count)]
        # Each worker writes the process group of its running job into its 8-byte cell, so
        # that the supervisor can clean up after a worker that died mid-job.
        self._jobs = mmap.mmap(-1, max(8 * self.count, mmap.PAGESIZE))
        self._orphans: dict[int, float] = {}  # job process group -> when to SIGKILL it
        self._ready = 0
        self._failure: str | None = None  # why the pool stops on its own
        self._private_fds: list[int] = []

    # --- signals ------------------------------------------------------------------------

    def _graceful(self, signum: int, frame: FrameType | None) -> None:
        self.stop = min(2, self.stop + 1)

    def _force(self, signum: int, frame: FrameType | None) -> None:
        self.stop = 2

    def _handlers(self) -> dict[int, signals.Handler]:
        return {
            signal.SIGINT: self._graceful,
            signal.SIGTERM: self._graceful,
            signal.SIGHUP: self._graceful,
            signal.SIGUSR1: self._force,
            signal.SIGCHLD: lambda signum, frame: None,  # only to wake the select
        }

    def _relay(self) -> None:
        if self.stop <= self._relayed:
            return
        self._relayed = self.stop
        signum = signal.SIGTERM if self.stop == 1 else signal.SIGUSR1
        running = sum(1 for slot in self._slots if slot.pid and self._job_of(slot))
        self.log("stopping", mode="graceful" if self.stop == 1 else "force", running=running)
        self._tell_person(running)
        for slot in self._slots:
            if slot.pid:
                try:
                    os.kill(slot.pid, signum)
                except ProcessLookupError:
                    pass

    def _tell_person(self, running: int) -> None:
        """Say on the terminal what a stop is waiting for (the log says it for programs)."""
        if not running or not os.isatty(2):
            return
        jobs = f"{running} running job{'s' if running > 1 else ''}"
        if self.stop == 1:
            text = f"waiting for {jobs} to finish; Ctrl+C again to stop them now\n"
        else:
            text = f"stopping {jobs} now; they go back to the queue without spending an attempt\n"
        try:
            os.write(2, text.encode())
        except OSError:
            pass

    # --- workers ------------------------------------------------------------------------

    def _spawn(self, slot: Slot, death_r: int, death_w: int, ready_w: int) -> None:
        # A stop signal sent to the new worker before it has its own handlers would run
        # a copy of ours there and be lost: it stays blocked until the worker unblocks it.
        with signals.blocked():
            pid = os.fork()
            if pid == 0:
                self._worker_process(slot, death_r, death_w, ready_w)
        slot.pid = pid
        slot.started = time.monotonic()
        slot.spawned += 1

    def _worker_process(self, slot: Slot, death_r: int, death_w: int, ready_w: int) -> NoReturn:
        """The forked child: run one worker, never return."""
        code = EXIT_CRASHED
        try:
            for fd in (death_w, *self._private_fds):
                os.close(fd)
            signal.set_wakeup_fd(-1)  # ours is closed here; the worker sets its own
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            cell = slot.index * 8

            def report(pgid: int) -> None:
                struct.pack_into("q", self._jobs, cell, pgid)

            code = Worker(
                self.url,
                queues=self.queues,
                supervisor_pid=os.getppid(),
                parent_fd=death_r,
                ready_fd=ready_w,
                report_job=report,
                log=self.log.renamed(f"worker={os.getpid()}"),
                launched_at=self.launched_at,
            ).run()
        finally:
            os._exit(code)

    def _job_of(self, slot: Slot) -> int:
        return int(struct.unpack_from("q", self._jobs, slot.index * 8)[0])

    def _reaped(self, slot: Slot, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        pgid = self._job_of(slot)
        struct.pack_into("q", self._jobs, slot.index * 8, 0)
        pid, slot.pid = slot.pid, 0
        cause, restart = self._exit_cause(slot, code)
        restart = restart and not self.stop and self._failure is None
        self.log(
            "worker_exited",
            slot=slot.index,
            pid=pid,
            cause=cause,
            then="restart" if restart else "none",
        )
        if pgid:
            # It died mid-job: the job would run on, unsupervised, beside the recovered attempt.
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._orphans[pgid] = time.monotonic() + KILL_GRACE
            self.log("job_group_terminated", pgid=pgid)
        if not restart:
            slot.stopped = True
            return
        lived = time.monotonic() - slot.started
        slot.crashes = 0 if lived > 60 else slot.crashes + 1
        slot.restart_at = time.monotonic() + min(RESTART_DELAY_MAX, 0.1 * 2**slot.crashes)

    def _exit_cause(self, slot: Slot, code: int) -> tuple[str, bool]:
        """Why a worker exited, in words, and whether to start another in its place."""
        if code < 0:
            return f"killed by {signal_name(-code)}", True
        if code == EXIT_STOPPED:
            if self.stop:
                return "stopped", False
            return "stopped by a signal sent to that worker alone", True
        if code == EXIT_STOP_REQUESTED:
            # Every worker of the store was asked, wherever it runs: the pool goes with it.
            self.stop = max(self.stop, 1)
            return "stopped by `worker stop`", False
        if code == EXIT_STORE_LOST:
            self._failure = "the store is lost; see above"
            return "the store is lost", False
        if code == EXIT_CANNOT_START:
            if slot.spawned == 1:  # at start-up: a setting or the store is wrong
                self._failure = "a worker cannot use the store; see above"
                return "cannot use the store", False
            return "could not start (the store is unavailable?)", True
        if code == EXIT_ORPHANED:
            return "lost its supervisor pipe", True
        return f"crashed (exit {code})", True

    def _kill_orphans(self) -> None:
        now = time.monotonic()
        for pgid, when in list(self._orphans.items()):
            if now >= when:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                del self._orphans[pgid]

    # --- main loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until stopped. Signal handlers, the wake-up descriptor and the
        subreaper flag are this call's own: it returns with the process as it found it."""
        self.log.who = f"supervisor={os.getpid()}"  # --detach forks after construction
        if self.launched_at is None:
            self.launched_at = time.time()
        was_subreaper = _set_subreaper(True)
        sig_r, sig_w = os.pipe()
        for fd in (sig_r, sig_w):
            os.set_blocking(fd, False)
        death_r, death_w = os.pipe()
        ready_r, ready_w = os.pipe()
        self._private_fds = [sig_r, sig_w, ready_r]
        try:
            with signals.handling(self._handlers(), wakeup_fd=sig_w):
                return self._supervise(sig_r, death_r, death_w, ready_r, ready_w)
        finally:
            for fd in (sig_r, sig_w, death_r, death_w, ready_r, ready_w):
                os.close(fd)
            _set_subreaper(was_subreaper)

    def _supervise(self, sig_r: int, death_r: int, death_w: int, ready_r: int, ready_w: int) -> int:
        self.log(
            "supervisor_started",
            workers=self.count,
            queues=",".join(self.queues or ["*"]),
            store=without_password(self.url),
        )
        for slot in self._slots:
            if not self.stop:
                self._spawn(slot, death_r, death_w, ready_w)
        while True:
            self._relay()
            live = [s for s in self._slots if s.pid]
            if (
                not live
                and not self._orphans
                and (self.stop or all(s.stopped for s in self._slots))
            ):
                break
            timeout = 1.0
            waiting = [s.restart_at for s in self._slots if not s.pid and not s.stopped]
            if waiting:
                timeout = max(0.0, min(timeout, min(waiting) - time.monotonic()))
            if self._orphans:
                timeout = min(timeout, 0.1)
            try:
                ready, _, _ = select.select([sig_r, ready_r], [], [], timeout)
            except InterruptedError:
                ready = []
            if sig_r in ready:
                _drain(sig_r)
            if ready_r in ready:
                self._on_ready(os.read(ready_r, 1024))
            self._reap()
            self._kill_orphans()
            if self._failure is not None and not self.stop:
                self.log("supervisor_failed", reason=self._failure)
                self.stop = 1
            if not self.stop:
                now = time.monotonic()
                for slot in self._slots:
                    if not slot.pid and not slot.stopped and now >= slot.restart_at:
                        self._spawn(slot, death_r, death_w, ready_w)
                        self.log("worker_restarted", slot=slot.index, pid=slot.pid)
        self.log("supervisor_stopped")
        self._notify(b"error: workers stopped before they were ready\n")
        return 1 if self._failure is not None else 0

    def _on_ready(self, data: bytes) -> None:
        self._ready += len(data)
        if self._ready == self.count:
            self.log("workers_ready", workers=self.count)
            self._notify(b"ok\n")

    def _notify(self, message: bytes) -> None:
        if self.notify_fd is not None:
            try:
                os.write(self.notify_fd, message)
                os.close(self.notify_fd)
            except OSError:
                pass
            self.notify_fd = None

    def _reap(self) -> None:
        by_pid = {s.pid: s for s in self._slots if s.pid}
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = by_pid.get(pid)
            if slot is not None:
                self._reaped(slot, status)
            # Anything else was a job process re-parented to us; reaping it is all we owe.


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
