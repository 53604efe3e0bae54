"""The distribution as a user gets it: `python -m build` makes a wheel and an sdist, and the
wheel, installed with nothing but its base dependencies into a fresh virtualenv, runs.

The fresh venv is also where a missing extra is tested for real: it has no psycopg, so a
postgresql:// store must say which extra to install instead of failing on an import.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

# One xdist worker builds and installs once for the whole module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv holding the wheel and its base dependencies only."""
    path = tmp_path_factory.mktemp("venv")
    base_python = getattr(sys, "_base_executable", sys.executable)
    assert run(base_python, "-m", "venv", path).returncode == 0
    (wheel,) = dist.glob("*.whl")
    proc = run(path / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return path


def test_build_makes_a_wheel_and_an_sdist(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"queuectl-{VERSION}-py3-none-any.whl", f"queuectl-{VERSION}.tar.gz"]
    with zipfile.ZipFile(dist / names[0]) as whl:
        files = whl.namelist()
        metadata = whl.read(f"queuectl-{VERSION}.dist-info/METADATA").decode()
    assert "queuectl/store/sql/sqlite/queries.sql" in files
    assert "queuectl/store/sql/postgres/migrations/0001_init.sql" in files
    assert not [f for f in files if f.startswith("tests/") or "__pycache__" in f]
    # The base install stays small: the PostgreSQL driver comes with its extra only.
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [line for line in requires if "extra ==" not in line]
    assert not [line for line in base if "psycopg" in line]
    assert "Requires-Dist: psycopg[binary]>=3.2; extra == 'postgres'" in requires
    with tarfile.open(dist / names[1]) as sdist:
        members = sdist.getnames()
    top = {m.split("/")[1] for m in members if m.count("/") >= 1}
    assert {"src", "tests", "pyproject.toml", "README.md", "PKG-INFO"} <= top
    assert not top & {".venv", ".git", "bench", "dist", "build"}


def test_the_wheel_runs_in_a_fresh_venv(venv: Path, tmp_path: Path) -> None:
    queuectl = venv / "bin" / "queuectl"
    version = run(queuectl, "--version")
    assert (version.returncode, version.stdout) == (0, f"queuectl {VERSION}\n")
    db = tmp_path / "q.db"
    assert run(queuectl, "--db", db, "enqueue", "true", "--id", "j1").stdout == "j1\n"
    listed = run(queuectl, "--db", db, "list")
    assert listed.returncode == 0 and "j1" in listed.stdout
    assert "complete -c queuectl" in run(queuectl, "completion", "fish").stdout


def test_a_missing_extra_is_named(venv: Path, tmp_path: Path) -> None:
    no_driver = run(venv / "bin" / "python", "-c", "import psycopg")
    assert no_driver.returncode == 1 and "No module named 'psycopg'" in no_driver.stderr
    # Nothing listens on port 1: the message must come before any connection attempt.
    proc = run(venv / "bin" / "queuectl", "--db", "postgresql://127.0.0.1:1/none", "status")
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: a postgresql:// store needs the 'postgres' extra")
    assert lines[0].endswith("install it with: pip install 'queuectl[postgres]'")
