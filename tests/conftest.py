from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Cli, Workers, stop_supervisor
from .pg import isolated_schema, pg_base_url, pg_url, private_cluster  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    """Run in each xdist worker too. A suite started in the background by a script
    (`make test &` without job control) inherits SIGINT and SIGQUIT ignored, and so would
    every process it starts: `status --watch` and the menu would then ignore the Ctrl+C that
    tests send them. The processes under test get the dispositions a terminal gives."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) == signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)


#: The behavioural suite runs once per store; `-m "not postgres"` keeps to SQLite.
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's store, config or QUEUECTL_* settings."""
    for key in list(os.environ):
        if key.startswith("QUEUECTL_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh store: a SQLite file, or a PostgreSQL schema of its own."""
    if store_kind == "postgres":
        with isolated_schema(request.getfixturevalue("pg_base_url")) as url:
            yield url
    else:
        yield str(tmp_path / "queue.db")


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    return Cli.fresh(db_url, tmp_path)


@pytest.fixture
def workers(cli: Cli) -> Iterator[list[Workers]]:
    """Start supervisors with ``workers.append(cli.workers(...))``; all are stopped after."""
    started: list[Workers] = []
    yield started
    for w in started:
        w.stop()


@pytest.fixture
def supervisors() -> Iterator[list[int]]:
    """Pids of supervisors started outside the test's process tree (`worker start --detach`,
    or `worker start &` in a shell): each is stopped after the test, passed or failed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        stop_supervisor(pid)
