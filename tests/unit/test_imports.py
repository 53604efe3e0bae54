"""The core import path stays light: no Rich, no psycopg, no worker machinery."""

from __future__ import annotations

import subprocess
import sys

import queuectl


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_library_import_is_light() -> None:
    mods = loaded_after("import queuectl")
    assert not {"rich", "psycopg", "queuectl.worker.supervisor", "dataclasses"} & mods


def test_cli_import_is_light() -> None:
    mods = loaded_after("import queuectl.cli")
    assert not {"rich", "psycopg", "queuectl.worker.loop", "socket", "dataclasses"} & mods


def test_public_api_is_explicit() -> None:
    assert queuectl.__all__ == sorted(queuectl.__all__)
    for name in queuectl.__all__:
        assert hasattr(queuectl, name)
