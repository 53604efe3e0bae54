"""The dashboard under test: a real `queuectl web` process on 127.0.0.1, and a real Chromium.

``web`` starts servers (each on a free port of 127.0.0.1, stopped when the test ends, passed
or failed). ``browser`` gives a page of a headless Chromium (Debian's package, driven by
Playwright), installing what is missing where it can: ``.ci/run`` installs both up front.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from ..browser import CHROMIUM, launch
from ..helpers import QUEUECTL, Cli, stop_group, wait_for

REQUIRE_BROWSER = os.environ.get("QUEUECTL_REQUIRE_BROWSER", "") == "1"


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Web:
    """One `queuectl web` server process."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        self.cli = cli
        self.err_path = cli.cwd / f"web-{time.monotonic_ns()}.err"
        self._err = open(self.err_path, "wb")  # noqa: SIM115 - closed in stop()
        full_env = dict(cli.env, QUEUECTL_DB=cli.db, **(env or {}))
        self.proc = subprocess.Popen(
            [QUEUECTL, "web", "--host", "127.0.0.1", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            cwd=cli.cwd,
            env=full_env,
            start_new_session=True,
        )
        line = wait_for(self._started, timeout=30, what="queuectl web to listen")
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        self.base = found.group(0)
        wait_for(lambda: self._healthy(), timeout=30, what="/healthz to answer")

    def _started(self) -> str | None:
        text = self.stderr()
        if self.proc.poll() is not None:
            raise AssertionError(f"queuectl web exited {self.proc.returncode}: {text}")
        return next((ln for ln in text.splitlines() if ln.startswith("queuectl web: ")), None)

    def _healthy(self) -> bool:
        return self.request("GET", "/healthz").status == 200

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Reply:
        request = urllib.request.Request(
            self.url(path), data=body, headers=headers or {}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, dict(exc.headers), exc.read())

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post_json(self, path: str, document: Any, headers: dict[str, str] | None = None) -> Reply:
        merged = {"Content-Type": "application/json", **(headers or {})}
        return self.request("POST", path, body=json.dumps(document).encode(), headers=merged)

    def post_form(
        self, path: str, fields: list[tuple[str, str]], headers: dict[str, str] | None = None
    ) -> Reply:
        from urllib.parse import urlencode

        merged = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, body=urlencode(fields).encode(), headers=merged)

    def stop(self) -> int:
        code = stop_group(self.proc)
        self._err.close()
        return code

    def open_stream(self) -> EventStream:
        """A raw connection to ``/events``, read up to the stream's first line."""
        host, port = self.base.removeprefix("http://").split(":")
        conn = socket.create_connection((host, int(port)), timeout=10)
        conn.sendall(f"GET /events HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        stream = EventStream(conn)
        assert b"text/event-stream" in stream.read_until(b"retry:", timeout=10)
        return stream


class EventStream:
    """An open ``/events`` stream; what arrived after the last wait is kept for the next."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.pending = b""

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        """Wait for ``marker``; returns what came up to it, and keeps the rest."""
        deadline = time.monotonic() + timeout
        while marker not in self.pending:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} on the stream in {timeout}s: {self.pending!r}"
            self.conn.settimeout(left)
            chunk = self.conn.recv(4096)
            assert chunk, f"the stream closed: {self.pending!r}"
            self.pending += chunk
        before, self.pending = self.pending.split(marker, 1)
        return before

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def web(cli: Cli) -> Iterator[Callable[..., Web]]:
    """Start servers with ``web(*args, env=...)``; every one is stopped after the test."""
    started: list[Web] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Web:
        server = Web(cli, *args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- the browser --------------------------------------------------------------------------


def _unavailable(why: str) -> None:
    message = f"no browser for the dashboard tests: {why}"
    if REQUIRE_BROWSER:
        pytest.fail(f"{message} (QUEUECTL_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(message)


def _install_chromium() -> None:
    """Debian's chromium, installed once per machine (a lock keeps test workers in line)."""
    if os.path.exists(CHROMIUM):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _unavailable(f"{CHROMIUM} is missing; install it with `apt-get install chromium`")
    with open(os.path.join(tempfile.gettempdir(), "queuectl-chromium.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(CHROMIUM):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for step in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "chromium"],
            ):
                done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    _unavailable(f"{' '.join(step)} failed: {done.stderr.strip()[-300:]}")


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "playwright"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            _unavailable(f"pip install playwright failed: {done.stderr.strip()[-300:]}")
        from playwright.sync_api import sync_playwright
    return sync_playwright


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    _install_chromium()
    sync_playwright = _playwright()
    with sync_playwright() as driver:
        yield driver


class Browser(NamedTuple):
    page: Any  # playwright.sync_api.Page
    errors: list[str]  # console errors and uncaught exceptions (CSP violations land here)
    dialogs: list[str]  # alert/confirm texts: none may appear unless a test expects one


@pytest.fixture
def browser(playwright_driver: Any, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium (its own user-data-dir) and one page, closed after the test."""
    profile = tmp_path / "chromium-profile"
    context = launch(playwright_driver, str(profile))
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        yield Browser(page, errors, dialogs)
    finally:
        context.close()
