"""The Huey instance and task that ``huey_consumer peer_tasks.huey_app.huey`` loads."""

from __future__ import annotations

import os

from huey import SqliteHuey  # type: ignore[import-untyped]

from peer_tasks import shell

DB_ENV = "PEERS_BENCH_HUEY_DB"

# Indexing (not .get) on purpose: without the driver's fresh file this must fail rather than
# fall back to Huey's default ``huey.db`` in whatever directory we happen to be in.
huey = SqliteHuey("peers-bench", filename=os.environ[DB_ENV])


@huey.task()  # type: ignore[untyped-decorator]
def run_true() -> dict[str, float]:
    return shell.run_true()
