"""One contract suite for every store: each test gets a fresh, real, migrated store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from queuectl.store import Store, open_store

StoreFactory = Callable[..., Store]

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> str:
    return str(tmp_path / "contract.db")


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
