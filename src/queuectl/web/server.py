"""Serving the dashboard: the exposure check, the listening socket, uvicorn.

The socket is bound here rather than by uvicorn so that a port taken or a host that cannot be
bound is one ``error:`` line before anything starts, and so that ``--port 0`` (any free port)
reports the port it got.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from ..errors import QueuectlError, UsageError
from .app import Settings, create_app
from .security import Credentials, check_exposure

SHUTDOWN_GRACE = 2  # seconds open requests get once asked to stop


class Server(uvicorn.Server):
    """uvicorn's server, with two changes: a stop also ends the event streams (they never end
    by themselves, and shutdown waits for open requests), and a stop asked for by SIGINT or
    SIGTERM ends with exit code 0 (uvicorn raises the signal again once it has stopped)."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._on_exit()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise QueuectlError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(url: str, location: str, host: str, port: int, read_only: bool) -> int:
    credentials = Credentials.from_env(os.environ)
    check_exposure(host, credentials)
    sock = listen(host, port)
    settings = Settings(url, location, read_only, credentials)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        server_header=False,
        proxy_headers=False,
    )
    server = Server(config, on_exit=app.state.hub.close_soon)
    mode = " (read-only)" if read_only else ""
    auth = " (login required)" if credentials.required else ""
    sys.stderr.write(f"queuectl web: {location} at {url_of(sock)}{mode}{auth}; Ctrl+C stops\n")
    sys.stderr.flush()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
