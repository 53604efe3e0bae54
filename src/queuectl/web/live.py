"""Live pages: a watcher thread follows the store, an event stream tells the browsers.

The watcher runs ``Queue.changes`` on its own store connection while at least one page is
listening, and bumps the hub's version on every change. Each open page holds one
``/events`` stream (server-sent events); on ``change`` its script re-fetches the page's live
parts. One watcher serves every browser, so ten open tabs cost the store what one does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

from ..api import Queue
from ..errors import StoreError

log = logging.getLogger("queuectl.web")

KEEPALIVE = 15.0  # seconds between comments on a quiet stream (proxies drop silent ones)
POLL = 0.5  # seconds between the watcher's looks at the store's change marker
RETRY_MS = 2000  # how soon a browser reconnects a dropped stream


class Hub:
    """The asyncio side: a version number and the streams waiting for it to move."""

    def __init__(self) -> None:
        self.version = 0
        self.listeners = 0
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None  # set once the server runs
        self._moved = asyncio.Event()

    def publish(self) -> None:
        self.version += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def close(self) -> None:
        self.closed = True
        self._moved.set()

    def close_soon(self) -> None:
        """``close`` from any thread or a signal handler."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.close)

    async def wait(self, seen: int, timeout: float) -> int:
        """The version once it differs from ``seen``, or after ``timeout`` seconds."""
        if self.version == seen and not self.closed:
            moved = self._moved
            try:
                await asyncio.wait_for(moved.wait(), timeout)
            except TimeoutError:
                pass
        return self.version

    async def stream(self, on_listen: threading.Event) -> AsyncIterator[str]:
        """One browser's event stream: ``change`` events, and keep-alive comments."""
        self.listeners += 1
        on_listen.set()
        try:
            seen = self.version
            yield f"retry: {RETRY_MS}\n\n"
            while not self.closed:
                version = await self.wait(seen, KEEPALIVE)
                if version != seen:
                    seen = version
                    yield f"event: change\ndata: {version}\n\n"
                elif not self.closed:
                    yield ": idle\n\n"
        finally:
            self.listeners -= 1


class Watcher:
    """Follows the store in a thread of its own while pages listen; publishes to the hub."""

    def __init__(self, url: str, hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.hub = hub
        self.loop = loop
        self.wanted = threading.Event()  # set when a stream opens
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queuectl-web-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wanted.set()
        self._thread.join(5)

    def _idle(self) -> bool:
        return self._stop.is_set() or self.hub.listeners == 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wanted.wait(1.0)
            self.wanted.clear()
            if self._idle():
                continue
            try:
                with Queue(self.url, create=False) as queue:
                    for _ in queue.changes(self._idle, interval=POLL):
                        self.loop.call_soon_threadsafe(self.hub.publish)
            except RuntimeError:
                return  # the event loop has closed: the server is gone
            except StoreError:
                self._stop.wait(1.0)  # the store is away; pages keep what they show
            except Exception:
                # Never die quietly: pages would stop updating with nothing said anywhere.
                log.exception("the change watcher failed; starting it again in 1 s")
                self._stop.wait(1.0)
