"""A PostgreSQL worker's wake-up channel: a connection of its own that LISTENs.

Stores send ``pg_notify`` on the store's channel inside the transaction that made work
(only committed work wakes anyone); polling stays the safety net for any notification
missed while this connection was down.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from ..errors import StoreError

Conn = psycopg.Connection[TupleRow]

RECONNECT_FIRST_DELAY = 0.02
WAKER_MAX_DELAY = 5.0  # between reconnection attempts of an idle worker's waker


class NotifyWaker:
    """A worker's wake-up channel: a dedicated autocommit connection LISTENing.

    While that connection is down, ``fileno`` is a pipe that never becomes readable, so the
    worker's select simply times out and it polls; reconnection is retried with backoff.
    """

    address: str | None = None  # nothing to store: enqueuers reach it through the channel

    def __init__(self, connect: Callable[[], Conn], listen: sql.Composed) -> None:
        self._connect = connect
        self._listen = listen
        self._conn: Conn | None = None
        self._quiet_r, self._quiet_w = os.pipe()
        self._next_try = 0.0
        self._delay = RECONNECT_FIRST_DELAY
        self._reconnect()

    def _reconnect(self) -> None:
        now = time.monotonic()
        if now < self._next_try:
            return
        try:
            conn = self._connect()
            try:
                conn.execute(self._listen)
            except BaseException:
                conn.close()
                raise
        except (psycopg.Error, StoreError):
            self._next_try = now + self._delay
            self._delay = min(self._delay * 2, WAKER_MAX_DELAY)
            return
        self._conn = conn
        self._delay = RECONNECT_FIRST_DELAY

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def fileno(self) -> int:
        if self._conn is not None and self._conn.closed:
            self._drop()
        if self._conn is None:
            self._reconnect()
        if self._conn is not None:
            try:
                return self._conn.fileno()
            except psycopg.Error:
                self._drop()
        return self._quiet_r

    def drain(self) -> None:
        """Consume whatever notifications have arrived, without waiting for more."""
        conn = self._conn
        if conn is None:
            self._reconnect()
            return
        try:
            for _ in conn.notifies(timeout=0.0):
                pass
        except psycopg.Error:
            # The server went away (or restarted): listen again on a new connection.
            self._drop()
            self._reconnect()

    def close(self) -> None:
        self._drop()
        for fd in (self._quiet_r, self._quiet_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._quiet_r = self._quiet_w = -1
