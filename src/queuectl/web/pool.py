"""A few ``Queue`` handles shared by the request threads.

A store handle holds one connection and serves one thread at a time, so each request borrows
a handle for the work it does and gives it back. The pool is small on purpose: the dashboard
should never hold more than a few connections of a PostgreSQL server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from ..api import Queue

T = TypeVar("T")


class QueuePool:
    def __init__(self, url: str, size: int = 4) -> None:
        self.url = url
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[Queue] = []
        self._closed = False

    @contextmanager
    def borrow(self) -> Iterator[Queue]:
        with self._slots:
            with self._lock:
                queue = self._idle.pop() if self._idle else None
            if queue is None:
                # create=False: a store deleted under a running dashboard is an error, not a
                # new empty store that would show "no jobs".
                queue = Queue(self.url, create=False)
            try:
                yield queue
            finally:
                with self._lock:
                    if self._closed:
                        queue.close()
                    else:
                        self._idle.append(queue)

    def call(self, work: Callable[[Queue], T]) -> T:
        with self.borrow() as queue:
            return work(queue)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for queue in idle:
            queue.close()
