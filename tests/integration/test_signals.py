"""Signal handling is a scope: a supervisor or worker run in-process leaves the process as it
found it (SPEC §7), and a stop signal is never lost to a process that was just forked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# Run in a fresh interpreter: signal handlers belong to the main thread of a process, and
# pytest's own must not be disturbed.
CHECK_SCOPE = """
import os, signal, sys, threading
from queuectl import Queue
from queuectl.worker.loop import Worker
from queuectl.worker.supervisor import Supervisor

db = sys.argv[1]
Queue(db).close()


def mine(signum, frame):
    pass


def snapshot():
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    handlers = {s: signal.getsignal(s) for s in signal.valid_signals() if s not in (9, 19)}
    return handlers, mask, sorted(os.listdir("/proc/self/fd"))


def interrupt_when_ready(fd, signum):
    def wait():
        os.read(fd, 64)
        os.kill(os.getpid(), signum)
    threading.Thread(target=wait, daemon=True).start()


signal.signal(signal.SIGTERM, mine)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)

before = snapshot()
notify_r, notify_w = os.pipe()  # the supervisor says "ok" there, and closes its end
interrupt_when_ready(notify_r, signal.SIGINT)  # Ctrl+C, once every worker is up
assert Supervisor(db, 2, quiet=True, notify_fd=notify_w).run() == 0
os.close(notify_r)
assert snapshot() == before, "the supervisor changed the process"

ready_r, ready_w = os.pipe()
before = snapshot()
assert signal.set_wakeup_fd(wake_w) == wake_w

interrupt_when_ready(ready_r, signal.SIGTERM)
assert Worker(db, ready_fd=ready_w).run() == 0
assert snapshot() == before, "the worker changed the process"
assert signal.set_wakeup_fd(wake_w) == wake_w

try:  # Ctrl+C reaches the program again
    os.kill(os.getpid(), signal.SIGINT)
    raise SystemExit("SIGINT was not restored")
except KeyboardInterrupt:
    pass
print("restored")
"""


def test_supervisor_and_worker_restore_handlers_wakeup_fd_and_descriptors(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_SCOPE, str(tmp_path / "q.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "restored\n", proc.stderr


CHECK_FORK = """
import os, signal, time
from queuectl.worker import signals

stopping = []
signal.signal(signal.SIGTERM, lambda s, f: stopping.append("parent handler"))
with signals.blocked():
    pid = os.fork()
    if pid == 0:  # slow to start, as a worker that opens its store
        time.sleep(0.3)
        got = []
        with signals.handling({signal.SIGTERM: lambda s, f: got.append(s)}):
            time.sleep(0.01)
        os._exit(0 if got == [signal.SIGTERM] else 1)
os.kill(pid, signal.SIGTERM)  # sent before the child has its own handler
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_stop_signal_sent_right_after_fork_reaches_the_childs_own_handler() -> None:
    """A worker forked while its supervisor is stopping gets the relayed SIGTERM even before
    it has installed its handlers: the signal waits for them instead of running a copy of
    the supervisor's handler in the worker."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHECK_FORK)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "0\n", proc.stderr
