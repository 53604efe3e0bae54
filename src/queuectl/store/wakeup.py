"""Waking idle workers on this machine: an abstract-namespace datagram socket per worker.

A worker binds one and registers its name in the store; an enqueuer that commits new work
sends each registered name a byte. Reaching every process in the same network namespace
(this machine, and containers on its network), whatever their store: a SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


class DatagramWaker:
    """An abstract-namespace datagram socket: enqueuers in the same network namespace (this
    machine, and containers on its network) send it a byte."""

    def __init__(self, worker_id: str) -> None:
        import socket

        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        name = f"queuectl/{os.getpid()}/{os.urandom(6).hex()}"
        self._sock.bind("\0" + name)
        self.address: str | None = "@" + name

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> None:
        try:
            while True:
                self._sock.recv(64)
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        self._sock.close()


def wake(addresses: Sequence[str]) -> None:
    """Nudge idle workers; a worker that is gone or already nudged is simply skipped."""
    if not addresses:
        return
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for address in addresses:
            if address.startswith("@"):
                try:
                    sock.sendto(b"!", "\0" + address[1:])
                except OSError:
                    pass
