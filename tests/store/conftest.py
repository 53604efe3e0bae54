"""One contract suite for every store: each test gets a fresh, real, migrated store.

``db_url`` (tests/conftest.py) is a new SQLite file or a PostgreSQL schema of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from queuectl.store import Store, open_store

StoreFactory = Callable[..., Store]


@pytest.fixture
def open_new(db_url: str) -> Iterator[StoreFactory]:
    """Open extra connections to the same store (as other processes would)."""
    opened: list[Store] = []

    def factory(**kwargs: object) -> Store:
        s = open_store(db_url, **kwargs)  # type: ignore[arg-type]
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


@pytest.fixture
def store(open_new: StoreFactory) -> Store:
    return open_new()
