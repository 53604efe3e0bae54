"""The core import path stays light: no Rich, no psycopg, no worker machinery, and no cron
parser or Prometheus client until a command needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import queuectl

#: Loaded only by the commands that need them (cron, metrics, completion).
FEATURE_LIBRARIES = {"cronsim", "prometheus_client", "shtab"}
#: The dashboard's stack: only `queuectl web` may load it.
WEB_STACK = {"starlette", "jinja2", "uvicorn", "anyio", "markupsafe", "queuectl.web"}


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_library_import_is_light() -> None:
    mods = loaded_after("import queuectl")
    assert not {"rich", "psycopg", "queuectl.worker.supervisor", "dataclasses"} & mods
    assert not FEATURE_LIBRARIES & mods
    assert not WEB_STACK & mods


def test_cli_import_is_light() -> None:
    mods = loaded_after("import queuectl.cli")
    assert not {"rich", "psycopg", "queuectl.worker.loop", "socket", "dataclasses"} & mods
    assert not FEATURE_LIBRARIES & mods
    assert not WEB_STACK & mods


def test_enqueue_loads_no_feature_library(tmp_path: Path) -> None:
    """The whole `queuectl enqueue` command, run for real, as -X importtime reports it."""
    db = str(tmp_path / "q.db")
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "queuectl", "--db", db, "enqueue", "true"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {line.split("|")[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "queuectl.cli" in loaded
    assert not {name.split(".")[0] for name in loaded} & FEATURE_LIBRARIES
    web = {m for m in loaded if any(m == w or m.startswith(w + ".") for w in WEB_STACK)}
    assert not web  # only `queuectl web` loads the dashboard's stack


def test_public_api_is_explicit() -> None:
    assert queuectl.__all__ == sorted(queuectl.__all__)
    for name in queuectl.__all__:
        assert hasattr(queuectl, name)


def test_metrics_types_load_no_prometheus_client() -> None:
    """The API can build a snapshot without the client; only rendering loads it."""
    assert "prometheus_client" not in loaded_after("import queuectl.metrics")


def test_workers_load_no_store_backend_until_they_open_one() -> None:
    """A PostgreSQL worker must not load the SQLite backend (for its host name, say)."""
    mods = loaded_after("import queuectl.worker.supervisor, queuectl.worker.control")
    assert not {"queuectl.store.sqlite", "queuectl.store.postgres"} & mods
