"""The Procrastinate app and task that ``procrastinate --app peer_tasks.procrastinate_app.app``
loads."""

from __future__ import annotations

import os

import procrastinate

from peer_tasks import shell

URL_ENV = "PEERS_BENCH_PROCRASTINATE_URL"
QUEUE = "peers_bench"

# Indexing on purpose: only the driver's throw-away database may ever be used.
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ[URL_ENV]))


@app.task(name="run_true", queue=QUEUE)
def run_true() -> None:
    # Procrastinate keeps no return values; its events table has the timestamps we need.
    shell.run_true()
