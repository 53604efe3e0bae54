"""One contract suite for every store: each test gets a fresh, real, migrated store.

PostgreSQL stores each live in a schema of their own (see tests/pg.py); the server is only
looked for when a postgres test runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from queuectl.store import Store, open_store

from ..pg import isolated_schema

StoreFactory = Callable[..., Store]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "postgres":
        with isolated_schema(request.getfixturevalue("pg_base_url")) as url:
            yield url
    else:
        yield str(tmp_path / "contract.db")


@pytest.fixture
def open_new(store_url: str) -> Iterator[StoreFactory]:
    """Open extra connections to the same store (as other processes would)."""
    opened: list[Store] = []

    def factory(**kwargs: object) -> Store:
        s = open_store(store_url, **kwargs)  # type: ignore[arg-type]
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


@pytest.fixture
def store(open_new: StoreFactory) -> Store:
    return open_new()
