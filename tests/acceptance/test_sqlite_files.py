"""What queuectl does with the files around a SQLite store: never harm a stranger's file,
say clearly when a path cannot be a store, keep the store private."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from ..helpers import Cli

pytestmark = pytest.mark.parametrize("store_kind", ["sqlite"])


def test_not_a_store_is_never_touched(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("my precious notes\n" * 100)
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("create table users (name text)")
    conn.execute("insert into users values ('ada')")
    conn.commit()
    conn.close()
    before = {p: p.read_bytes() for p in (text, other)}
    for path in (text, other):
        for args in (["init"], ["list"], ["enqueue", "true"]):
            result = cli.run("--db", str(path), *args)
            assert result.code == 1, result
            assert result.err.startswith("error: ") and "not a queuectl store" in result.err
            assert len(result.err.splitlines()) == 1
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("notes", "app"))) == [
        "app.db",
        "notes.txt",
    ]


def test_unusable_store_paths(cli: Cli, tmp_path: Path) -> None:
    cases = {
        str(tmp_path): "is a directory",
        str(tmp_path / "missing-dir" / "q.db"): "does not exist",
    }
    for path, needle in cases.items():
        result = cli.run("--db", path, "list")
        assert result.code == 1 and needle in result.err, result
        assert len(result.err.splitlines()) == 1


def test_store_file_is_private(cli: Cli) -> None:
    cli.ok("enqueue", "true")
    assert stat.S_IMODE(Path(cli.db).stat().st_mode) == 0o600


def test_a_world_writable_store_is_refused(cli: Cli) -> None:
    cli.ok("enqueue", "true", "--id", "mine")
    db = Path(cli.db)
    db.chmod(0o666)
    before = db.read_bytes()
    result = cli.run("list")
    assert result.code == 1
    assert result.err.startswith("error: ") and "writable by every user" in result.err
    assert "chmod 600" in result.err and len(result.err.splitlines()) == 1
    assert db.read_bytes() == before
    db.chmod(0o600)
    assert cli.json("show", "mine")["state"] == "pending"


def test_the_default_store_and_its_directory_are_private(cli: Cli) -> None:
    result = cli.run("enqueue", "true", db=False)  # no --db, no QUEUECTL_DB
    assert result.code == 0, result
    data = Path(cli.env["XDG_DATA_HOME"]) / "queuectl"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "queuectl.db").stat().st_mode) == 0o600
    assert cli.run("init", db=False).out.strip().startswith(f"store ready at {data}")


def test_a_second_hard_link_is_refused_and_a_symlink_works(cli: Cli, tmp_path: Path) -> None:
    cli.ok("enqueue", "true", "--id", "mine")
    other = tmp_path / "other-name.db"
    os.link(cli.db, other)  # SQLite would keep a separate write-ahead log for each name
    before = Path(cli.db).read_bytes()
    for name in (cli.db, str(other)):
        result = cli.run("--db", name, "enqueue", "true")
        assert result.code == 1 and "has 2 hard links" in result.err, result
        assert result.err.startswith("error: ") and len(result.err.splitlines()) == 1
    assert Path(cli.db).read_bytes() == before
    other.unlink()
    alias = tmp_path / "alias.db"
    alias.symlink_to(cli.db)
    cli.ok("--db", str(alias), "enqueue", "true", "--id", "through-the-symlink")
    assert [j["id"] for j in cli.json("list")] == ["through-the-symlink", "mine"]
