"""Starting and stopping pools of workers, behind ``Queue.start_workers`` and
``Queue.stop_workers``: detaching, and `worker stop`.

Liveness is judged from ``/proc/PID/stat`` (a zombie counts as dead, since PID 1 may not
reap it) for processes on this host, and from heartbeats for other hosts.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import QueuectlError
from ..host import hostname
from ..models import WorkerInfo
from ..store import Store, is_postgres, xdg_dir
from .supervisor import Supervisor

DETACH_READY_TIMEOUT = 30.0
TELL_AFTER = 1.0  # a stop that takes longer than this says what it is waiting for


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


def ancestors() -> set[int]:
    """The pids of this process's parent, its parent, and so on (empty without /proc)."""
    found: set[int] = set()
    pid = os.getppid()
    while pid > 1 and pid not in found:
        found.add(pid)
        pid = _parent(pid)
    return found


def process_started_at() -> float:
    """When this process was started, in wall-clock seconds (now when /proc cannot say).

    `worker start` passes this on rather than the time its Python code got going: a
    `worker stop` launched right after it in a script may run before that."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        ticks = int(stat[stat.rfind(b")") + 2 :].split()[19])  # field 22, starttime
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


def is_queuectl(pid: int) -> bool:
    """Guard against a recycled pid before signalling it."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"queuectl" in f.read()
    except OSError:
        return False


class Detached(NamedTuple):
    """A pool started in the background."""

    pid: int  # the supervisor's
    workers: int
    log: str  # where it logs


def default_log_path(url: str) -> str:
    """Where a detached pool logs: next to a SQLite store, or in the XDG state directory."""
    if is_postgres(url):
        state = xdg_dir("XDG_STATE_HOME", ".local/state")
        os.makedirs(os.path.join(state, "queuectl"), mode=0o700, exist_ok=True)
        return os.path.join(state, "queuectl", "worker.log")
    stem = os.path.splitext(url)[0]
    return f"{stem}-worker.log"


def start_detached(supervisor: Supervisor, log_path: str) -> Detached:
    """Run ``supervisor`` in the background; returns once every worker is up."""
    read_fd, write_fd = os.pipe()
    first = os.fork()
    if first == 0:
        code = 1
        try:
            os.close(read_fd)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(null)
            os.close(out)
            os.chdir("/")
            os.write(write_fd, f"pid {os.getpid()}\n".encode())
            supervisor.notify_fd = write_fd
            supervisor.log.fd = 2
            code = supervisor.run()
        finally:
            os._exit(code)
    os.close(write_fd)
    os.waitpid(first, 0)
    data = b""
    deadline = time.monotonic() + DETACH_READY_TIMEOUT
    while b"ok\n" not in data and b"error" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            break
        chunk = os.read(read_fd, 1024)
        if not chunk:
            break
        data += chunk
    os.close(read_fd)
    text = data.decode(errors="replace")
    pid = int(text.split()[1]) if text.startswith("pid ") else 0
    if "ok\n" not in text:
        raise QueuectlError(f"the workers did not start; see {log_path}")
    return Detached(pid, supervisor.count, log_path)


@dataclass(frozen=True)
class StopReport:
    stopped: list[WorkerInfo]  # exited and unregistered
    lost: list[WorkerInfo]  # had died without unregistering; their rows are forgotten
    remaining: list[WorkerInfo]  # still running when the wait ran out
    # The worker running this very command (`worker stop` as a job): asked like the others,
    # but not waited for, since it stops only once this job has ended.
    own: list[WorkerInfo] = field(default_factory=list)


def _alive(worker: WorkerInfo, row: WorkerInfo | None, here: str, lease: float) -> bool:
    if worker.host == here:
        return pid_alive(worker.pid)
    return row is not None and time.time() - row.heartbeat_at <= lease


def stop_workers(
    store: Store,
    lease: float,
    *,
    force: bool,
    timeout: float,
    on_wait: Callable[[list[WorkerInfo]], None] | None = None,
) -> StopReport:
    """Ask every worker of ``store`` to stop, then wait until they are gone (a worker counts
    as gone from another host once its heartbeat is older than ``lease``).

    Workers on this host get a signal (through their supervisor); every worker, wherever it
    runs, also finds the request in the store at its next heartbeat. A worker (and its
    supervisor) that is an ancestor of this process, because `worker stop` runs as one of
    its jobs, is asked too but not waited for: it cannot stop before this job ends.
    ``on_wait`` is told once, after ``TELL_AFTER`` seconds, which workers are still running
    (with their jobs).
    """
    here = hostname()
    # First: a supervisor launched before now whose workers are still starting is not in
    # the list below, and stops on this mark when they register.
    store.mark_stop(time.time())
    rows = {w.id: w for w in store.list_workers()}
    alive = [w for w in rows.values() if _alive(w, w, here, lease)]
    if not alive:
        return StopReport([], [], [])
    mine = ancestors()
    own = [w for w in alive if w.host == here and w.pid in mine]
    targets = [w for w in alive if w not in own]
    store.request_stop([w.id for w in alive], 2 if force else 1)
    signum = signal.SIGUSR1 if force else signal.SIGTERM
    signalled: set[int] = set()
    for w in alive:
        if w.host != here:
            continue
        pid = w.supervisor_pid if w.supervisor_pid and pid_alive(w.supervisor_pid) else w.pid
        if pid in signalled or not is_queuectl(pid):
            continue
        signalled.add(pid)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    started = time.monotonic()
    deadline = started + timeout
    told = on_wait is None
    while True:
        rows = {w.id: w for w in store.list_workers()}
        remaining = [w for w in targets if _alive(w, rows.get(w.id), here, lease)]
        if not told and remaining and time.monotonic() - started >= TELL_AFTER:
            assert on_wait is not None
            on_wait([rows.get(w.id, w) for w in remaining])
            told = True
        supervisors = [p for p in signalled - mine if pid_alive(p)]
        if (not remaining and not supervisors) or time.monotonic() >= deadline:
            # Read again: a worker unregisters before it exits, so one seen gone just after
            # the read above would otherwise pass for lost.
            rows = {w.id: w for w in store.list_workers()}
            lost = [w for w in targets if w not in remaining and w.id in rows]
            if lost:
                store.forget_workers([w.id for w in lost])
            stopped = [w for w in targets if w not in remaining and w not in lost]
            return StopReport(stopped, lost, remaining, own)
        time.sleep(0.05)
