from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Cli, Workers
from .pg import pg_base_url, pg_url  # noqa: F401  (fixtures for the PostgreSQL tests)


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


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "queue.db")


@pytest.fixture
def cli(tmp_path: Path, db_path: str) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    work = tmp_path / "work"
    work.mkdir()
    return Cli(db_path, work, env)


@pytest.fixture
def workers(cli: Cli) -> Iterator[list[Workers]]:
    """Start supervisors with ``workers.append(cli.workers(...))``; all are stopped after."""
    started: list[Workers] = []
    yield started
    for w in started:
        w.stop()
