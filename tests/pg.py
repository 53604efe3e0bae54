"""A PostgreSQL server for the tests that need one, found or started once per session.

In order: ``QUEUECTL_TEST_PG_URL``; else ``postgresql://postgres@127.0.0.1:5432/test`` when
it answers; else a throw-away cluster (``initdb`` + ``pg_ctl``) in a temporary directory on a
free port, stopped at the end of the session. Without any of them the PostgreSQL tests are
skipped, with the reason, or fail when ``QUEUECTL_REQUIRE_PG=1``.

Each test gets a schema of its own (``isolated_schema``/``pg_url``): a random ``t_<hex>``
name that the store creates on first use, dropped with everything in it afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

# Read at import: the autouse fixture in conftest.py clears QUEUECTL_* for every test.
ENV_URL = os.environ.get("QUEUECTL_TEST_PG_URL", "")
REQUIRE = os.environ.get("QUEUECTL_REQUIRE_PG", "") == "1"
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOW = (
    "set QUEUECTL_TEST_PG_URL=postgresql://..., run a server on 127.0.0.1:5432 with a `test`"
    " database, or put initdb and pg_ctl on PATH"
)


def _problem(url: str) -> str | None:
    """Why ``url`` cannot be used (None when it answers)."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split())
    return None


def _no_server(why: str) -> NoReturn:
    message = f"no PostgreSQL for the tests: {why}; {HOW}"
    if REQUIRE:
        pytest.fail(f"{message} (QUEUECTL_REQUIRE_PG=1)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A private cluster in a temporary directory (as user postgres when we are root)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="queuectl-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            if shutil.which("runuser") is None:
                raise RuntimeError("running as root, and runuser is missing")
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()}")

    def start(self) -> None:
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "-N")
        self.start_server()

    def start_server(self) -> None:
        """Start (again) on the same data and port."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -F"
        log = os.path.join(self.dir, "log")
        self._run("pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "-t", "60", "start")

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server but keep its data, as an administrator's restart would."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """A URL of a PostgreSQL database the tests may create schemas in."""
    if ENV_URL:
        problem = _problem(ENV_URL)
        if problem:
            _no_server(f"QUEUECTL_TEST_PG_URL does not answer ({problem})")
        yield ENV_URL
        return
    if _problem(LOCAL_URL) is None:
        yield LOCAL_URL
        return
    with _throwaway_cluster(f"{LOCAL_URL} does not answer") as cluster:
        yield cluster.url


@contextmanager
def _throwaway_cluster(why_needed: str) -> Iterator[Cluster]:
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        _no_server(f"{why_needed} and initdb/pg_ctl are not on PATH")
    cluster = Cluster()
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        _no_server(f"cannot start a throw-away cluster ({exc})")
    try:
        yield cluster
    finally:
        cluster.stop()


def schema_url(base_url: str, schema: str) -> str:
    return f"{base_url}{'&' if '?' in base_url else '?'}schema={schema}"


def drop_schema(base_url: str, schema: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # fail loudly rather than hang on a leak
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def schema_exists(base_url: str, schema: str) -> bool:
    with psycopg.connect(base_url, autocommit=True) as conn:
        query = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)"
        row = conn.execute(query, (schema,)).fetchone()
    return bool(row and row[0])


@contextmanager
def isolated_schema(base_url: str) -> Iterator[str]:
    """A store URL on a fresh schema of its own, dropped (CASCADE) on the way out."""
    schema = f"t_{os.urandom(6).hex()}"
    try:
        yield schema_url(base_url, schema)
    finally:
        drop_schema(base_url, schema)


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[Cluster]:
    """A cluster of this module's own, which its tests may stop and start at will."""
    with _throwaway_cluster("a test needs a server it may restart") as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    with isolated_schema(pg_base_url) as url:
        yield url
