"""Signal handling as a scope that leaves the process as it found it.

A supervisor or a worker may run inside a process that goes on afterwards: the interactive
menu runs a supervisor in its own process and then enqueues more jobs. So handlers, the
signal wake-up descriptor and the signal mask are set for the duration of a ``with`` block
and put back when it ends, as procrastinate's ``signals.on_stop()`` does. A wake-up
descriptor left behind is worse than a lost Ctrl+C: once its pipe is closed, its number is
reused by the next file opened (a store's ``-wal`` file, say), and every later signal
writes a byte into that file.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers

#: What ends a supervisor or a worker; blocked across fork() (see ``blocked``).
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1})


@contextmanager
def handling(handlers: Mapping[int, Handler], wakeup_fd: int | None = None) -> Iterator[None]:
    """Install ``handlers`` (and ``wakeup_fd``) for the block, then restore the previous ones.

    The handled signals are unblocked inside the block, so that a signal held back by
    ``blocked`` around a fork reaches these handlers, and blocked again after it if they
    were. Off the main thread Python cannot set handlers: the block then runs without them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in handlers}
    previous_fd: int | None = None
    previous_mask: set[int | signal.Signals] | None = None
    try:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        if wakeup_fd is not None:
            previous_fd = signal.set_wakeup_fd(wakeup_fd, warn_on_full_buffer=False)
        previous_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, handlers)
        yield
    finally:
        if previous_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        if previous_fd is not None:
            signal.set_wakeup_fd(previous_fd)
        for signum, old in previous.items():
            # None: a handler set outside Python, which cannot be put back; default then.
            signal.signal(signum, signal.SIG_DFL if old is None else old)


@contextmanager
def blocked(signals: frozenset[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """Hold ``signals`` back for the block (they stay pending, none is lost).

    Around a fork this keeps a stop signal from running the parent's handlers in the child
    before the child has installed its own: the child inherits the mask, and the signal
    waits until the child's ``handling`` block unblocks it.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
