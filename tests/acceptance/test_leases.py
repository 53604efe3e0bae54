"""Leases: a healthy worker never loses its job, however the lease is set or the store
delays it; a lost worker's job comes back."""

from __future__ import annotations

from queuectl import Queue

from ..helpers import Cli, Workers, wait_for


def test_a_lease_too_short_to_honour_is_refused_or_raised(cli: Cli, workers: list[Workers]) -> None:
    result = cli.run("config", "set", "lease_timeout", "0.02")
    assert result.code == 2 and "lease_timeout: must be >= 1" in result.err
    # A value stored by an older version is raised to the floor, not half honoured.
    with Queue(cli.db) as q:
        q.store.config_set("lease_timeout", "0.02")
    specs = "\n".join(f'{{"id": "j{i}", "command": "sleep 0.3"}}' for i in range(3))
    cli.ok("enqueue", "--file", "-", input=specs)
    workers.append(cli.workers("--count", "2"))
    wait_for(lambda: cli.counts()["completed"] == 3, timeout=20, what="three jobs")
    for i in range(3):
        assert [a["error"] for a in cli.job(f"j{i}")["history"]] == [None]
