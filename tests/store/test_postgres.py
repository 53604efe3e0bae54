"""What only the PostgreSQL store does: SKIP LOCKED claims, LISTEN/NOTIFY wake-ups, its own
schema, reconnection, idempotent retries and password masking."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from queuectl.errors import Conflict, NotAStore, StoreError, StoreUnavailable, UsageError
from queuectl.lifecycle import State
from queuectl.models import Outcome
from queuectl.store import open_store
from queuectl.store.postgres import PostgresStore
from queuectl.store.queries import load_migrations
from queuectl.store.urls import NAME_LIMIT, channel_for, parse_url

from ..helpers import wait_for
from .test_contract import T0, new, result, worker_info

pytestmark = pytest.mark.postgres

Opener = Callable[..., PostgresStore]


@pytest.fixture
def open_pg(pg_url: str) -> Iterator[Opener]:
    """Open stores on this test's schema (any URL parameters appended); closed after."""
    opened: list[PostgresStore] = []

    def factory(extra: str = "", **kwargs: Any) -> PostgresStore:
        s = PostgresStore(pg_url + extra, **kwargs)
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


def admin(url: str) -> psycopg.Connection[Any]:
    """A plain connection to the server behind a store URL (schema parameter dropped)."""
    return psycopg.connect(parse_url(url).conninfo, autocommit=True)


def terminate(base_url: str, application_name: str) -> int:
    """Kill every backend of ``application_name`` and wait until each has exited."""
    with admin(base_url) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


def backends(base_url: str, application_name: str) -> int:
    with admin(base_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def relations(base_url: str, schema: str) -> set[str]:
    with admin(base_url) as conn:
        rows = conn.execute(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s",
            (schema,),
        ).fetchall()
    return {r[0] for r in rows}


def readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


# --- claims ---------------------------------------------------------------------------


def test_skip_locked_claims_from_8_threads_never_share_a_job(open_pg: Opener) -> None:
    open_pg().insert_jobs([new(f"j{i}", run_at=time.time() - 1) for i in range(500)])
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(name: str, store: PostgresStore) -> None:
        mine = claimed.setdefault(name, [])
        try:
            start.wait()
            while (job := store.claim(name, None, time.time(), time.time() + 30)) is not None:
                mine.append(job.id)
        except BaseException as exc:
            errors.append(exc)

    stores = [open_pg(durable=False) for _ in range(8)]
    threads = [threading.Thread(target=worker, args=(f"w{i}", s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    every = [job_id for ids in claimed.values() for job_id in ids]
    assert len(every) == 500 and set(every) == {f"j{i}" for i in range(500)}
    assert sum(1 for ids in claimed.values() if ids) > 1  # they really ran side by side
    counts = stores[0].count_jobs()
    assert counts[State.PROCESSING] == 500


# --- wake-ups -------------------------------------------------------------------------


def test_a_notification_wakes_the_waker(open_pg: Opener) -> None:
    store, other = open_pg(), open_pg()
    waker = store.open_waker("w1")
    try:
        assert waker.address is None
        waker.drain()
        assert not readable(waker.fileno(), 0)
        other.insert_jobs([new("a", run_at=time.time())])
        assert readable(waker.fileno(), 1.0)
        waker.drain()
        assert not readable(waker.fileno(), 0)  # drained, and drain did not block
        # A revive and a release wake it too.
        job = other.claim("w9", None, time.time(), time.time() + 30)
        assert job is not None
        other.release(job, time.time())
        assert readable(waker.fileno(), 1.0)
        waker.drain()
    finally:
        waker.close()


def test_a_rolled_back_insert_wakes_nobody(open_pg: Opener) -> None:
    store = open_pg()
    store.insert_jobs([new("a")])
    waker = store.open_waker("w1")
    try:
        with pytest.raises(Conflict):
            store.insert_jobs([new("b"), new("a")])
        assert not readable(waker.fileno(), 0.2)
    finally:
        waker.close()


def test_the_waker_reconnects_after_its_connection_dies(open_pg: Opener, pg_base_url: str) -> None:
    app = f"qw_{os.urandom(4).hex()}"
    store, other = open_pg(f"&application_name={app}"), open_pg()
    waker = store.open_waker("w1")
    try:
        store.close()  # leave the waker as the only connection of `app`
        assert terminate(pg_base_url, app) == 1

        # Idle like a worker: select, drain. Drain must not raise; the waker reconnects.
        def quiet() -> bool:
            if readable(waker.fileno(), 0.05):
                waker.drain()
                return False
            return True

        wait_for(quiet, timeout=10, what="the waker to settle on a new connection")
        assert backends(pg_base_url, app) == 1
        other.insert_jobs([new("a")])
        assert readable(waker.fileno(), 1.0)
        waker.drain()
    finally:
        waker.close()


def test_channel_names_fit_postgres_limits() -> None:
    assert channel_for("queuectl") == "queuectl_queuectl"
    assert len(channel_for("x" * 63)) == NAME_LIMIT


# --- the schema -----------------------------------------------------------------------


def test_store_creates_and_migrates_its_schema(pg_url: str, pg_base_url: str) -> None:
    schema = parse_url(pg_url).schema
    with closing(PostgresStore(pg_url)) as store:
        assert store.schema_version() == len(load_migrations("postgres"))
        assert store.location == pg_url
    assert {"jobs", "attempts", "workers", "config", "queuectl_migrations"} <= relations(
        pg_base_url, schema
    )


def test_an_empty_schema_made_by_an_administrator_is_used(pg_url: str, pg_base_url: str) -> None:
    schema = parse_url(pg_url).schema
    with admin(pg_base_url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    with closing(PostgresStore(pg_url)) as store:
        store.insert_jobs([new("a")])
        assert store.get_job("a") is not None


def test_a_foreign_schema_is_refused_untouched(pg_url: str, pg_base_url: str) -> None:
    schema = parse_url(pg_url).schema
    ident = sql.Identifier(schema)
    with admin(pg_base_url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(sql.SQL("CREATE TABLE {}.jobs (name text)").format(ident))
        conn.execute(sql.SQL("INSERT INTO {}.jobs VALUES ('keep me')").format(ident))
    with pytest.raises(NotAStore, match=f"schema '{schema}' .* not a queuectl store"):
        PostgresStore(pg_url)
    assert relations(pg_base_url, schema) == {"jobs"}
    with admin(pg_base_url) as conn:
        rows = conn.execute(sql.SQL("SELECT name FROM {}.jobs").format(ident)).fetchall()
    assert rows == [("keep me",)]


def test_a_newer_schema_version_asks_for_an_upgrade(pg_url: str, pg_base_url: str) -> None:
    schema = parse_url(pg_url).schema
    PostgresStore(pg_url).close()
    with admin(pg_base_url) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.queuectl_migrations VALUES (99, 'future', 0)").format(
                sql.Identifier(schema)
            )
        )
    with pytest.raises(StoreError, match=r"schema version 99.*upgrade queuectl"):
        PostgresStore(pg_url)


def test_concurrent_first_use_migrates_once(pg_url: str, pg_base_url: str) -> None:
    start = threading.Barrier(6)
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            start.wait()
            opened.append(PostgresStore(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in opened:
        s.close()
    assert not errors and len(opened) == 6
    with admin(pg_base_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT version FROM {}.queuectl_migrations ORDER BY 1").format(
                sql.Identifier(parse_url(pg_url).schema)
            )
        ).fetchall()
    assert rows == [(v,) for v, _, _ in load_migrations("postgres")]


@pytest.mark.parametrize(
    "name",
    ["", "Jobs", "1jobs", "my-queue", "a;drop", "pg_jobs", "x" * 64, "jobs%20x", "é"],
)
def test_the_schema_name_is_validated(name: str) -> None:
    with pytest.raises(UsageError, match="invalid schema name"):
        PostgresStore(f"postgresql://nobody@127.0.0.1:1/db?schema={name}")


def test_one_schema_per_url() -> None:
    with pytest.raises(UsageError, match="more than one schema"):
        parse_url("postgresql://h/db?schema=a&schema=b")


def test_the_schema_parameter_is_not_passed_to_libpq() -> None:
    target = parse_url("postgres://u@h:5433/db?sslmode=disable&schema=myqueue&connect_timeout=3")
    assert target.schema == "myqueue"
    assert target.conninfo == "postgres://u@h:5433/db?sslmode=disable&connect_timeout=3"
    assert target.where == "h:5433/db"
    assert parse_url("postgresql://h/db").schema == "queuectl"


# --- resilience -----------------------------------------------------------------------


def test_the_store_survives_pg_terminate_backend(open_pg: Opener, pg_base_url: str) -> None:
    app = f"qs_{os.urandom(4).hex()}"
    store = open_pg(f"&application_name={app}")
    store.insert_jobs([new("a")])
    assert terminate(pg_base_url, app) == 1
    job = store.get_job("a")  # a read reconnects
    assert job is not None and job.state is State.PENDING
    assert terminate(pg_base_url, app) == 1
    store.insert_jobs([new("b")])  # and so does a write, applied once
    assert [j.id for j in store.list_jobs()] == ["b", "a"]


class Proxy:
    """A TCP relay to the server that can drop every connection and refuse new ones,
    which looks to a client like a server restart."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # "server closed the connection unexpectedly"
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self) -> None:
        self.up.clear()
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.down()
        self.listener.close()
        with self.lock:
            for s in self.open:
                s.close()


@pytest.fixture
def proxy(pg_base_url: str) -> Iterator[Proxy]:
    with admin(pg_base_url) as conn:
        host, port = conn.info.host, conn.info.port
    if host.startswith("/"):
        pytest.skip("the test server is on a Unix socket")
    p = Proxy(host, port)
    yield p
    p.close()


def _via(url: str, port: int) -> str:
    """The same store URL (database, user, password, schema), through the proxy."""
    target = parse_url(url)
    params = conninfo_to_dict(target.conninfo)
    keep = {k: str(params[k]) for k in ("user", "password") if params.get(k)}
    query = urlencode({**keep, "schema": target.schema})
    return f"postgresql://127.0.0.1:{port}/{quote(target.where.rsplit('/', 1)[1])}?{query}"


def test_a_server_restart_is_waited_out(pg_url: str, proxy: Proxy) -> None:
    with closing(PostgresStore(_via(pg_url, proxy.port), busy_budget=10)) as store:
        store.insert_jobs([new("a")])
        proxy.down()
        back = threading.Timer(0.3, proxy.up.set)
        back.start()
        job = store.get_job("a")
        back.join()
        assert job is not None


def test_an_unreachable_server_gives_a_clear_error(pg_url: str, proxy: Proxy) -> None:
    with closing(PostgresStore(_via(pg_url, proxy.port), busy_budget=0.5)) as store:
        proxy.down()
        started = time.monotonic()
        with pytest.raises(
            StoreUnavailable, match=f"cannot reach PostgreSQL at 127.0.0.1:{proxy.port}/"
        ):
            store.get_job("a")
        assert time.monotonic() - started < 5


def test_the_waker_lives_through_an_outage(open_pg: Opener, pg_url: str, proxy: Proxy) -> None:
    other = open_pg()
    with closing(PostgresStore(_via(pg_url, proxy.port))) as store:
        waker = store.open_waker("w1")
        try:
            proxy.down()
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:  # an idle worker's loop, while the server is gone
                if readable(waker.fileno(), 0.05):
                    waker.drain()  # never raises
            proxy.up.set()
            numbers = count()

            def woken() -> bool:  # notifications sent before it listens again are lost
                other.insert_jobs([new(f"n{next(numbers)}")])
                if readable(waker.fileno(), 0.2):
                    waker.drain()
                    return True
                return False

            wait_for(woken, timeout=15, what="the waker to listen again")
        finally:
            waker.close()


def lose_next_acknowledgement(store: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next call commits, then its connection drops before the client hears back.

    Any call: the busiest ones (claim, finish_and_claim) are single autocommit statements,
    not transactions, and must survive this as well.
    """
    original = store._attempt
    armed = [True]

    def attempt(conn: Any, body: Any, retried: bool, write: bool) -> Any:
        value = original(conn, body, retried, write)
        if armed[0]:
            armed[0] = False
            conn.close()
            raise psycopg.OperationalError("simulated: connection lost after COMMIT")
        return value

    monkeypatch.setattr(store, "_attempt", attempt)


def lose_next_request(store: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next call's connection drops before the server receives anything."""
    original = store._attempt
    armed = [True]

    def attempt(conn: Any, body: Any, retried: bool, write: bool) -> Any:
        if armed[0]:
            armed[0] = False
            conn.close()
            raise psycopg.OperationalError("simulated: connection lost before sending")
        return original(conn, body, retried, write)

    monkeypatch.setattr(store, "_attempt", attempt)


def test_a_claim_retried_after_a_lost_request_takes_one_job(
    open_pg: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_pg()
    store.insert_jobs([new("a"), new("b")])
    lose_next_request(store, monkeypatch)
    job = store.claim("w1", None, T0 + 1, T0 + 31)
    assert job is not None and job.id == "a"
    lose_next_request(store, monkeypatch)
    done, nxt = store.finish_and_claim(
        job, result(), Outcome(State.COMPLETED, None), "w1", ["default"], T0 + 2, T0 + 32
    )
    assert done and nxt is not None and nxt.id == "b"
    assert [a.attempt for a in store.attempts("b")] == [1]


def test_a_retried_insert_is_not_a_conflict(
    open_pg: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_pg()
    lose_next_acknowledgement(store, monkeypatch)
    store.insert_jobs([new("a"), new("b")])
    assert [j.id for j in store.list_jobs()] == ["b", "a"]


def test_a_retried_claim_returns_the_job_it_took(
    open_pg: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_pg()
    store.insert_jobs([new("a"), new("b")])
    lose_next_acknowledgement(store, monkeypatch)
    job = store.claim("w1", None, T0 + 1, T0 + 31)
    assert job is not None and job.id == "a" and job.runs == 1
    assert store.count_jobs()[State.PROCESSING] == 1


def test_a_retried_finish_is_applied_once(open_pg: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_pg()
    store.register_worker(worker_info("w1"))
    store.insert_jobs([new("a")])
    job = store.claim("w1", None, T0 + 1, T0 + 31)
    assert job is not None
    lose_next_acknowledgement(store, monkeypatch)
    assert store.finish(job, result(), Outcome(State.COMPLETED, None)) is True
    done = store.get_job("a")
    assert done is not None and done.state is State.COMPLETED
    assert [a.finished_at for a in store.attempts("a")] == [T0 + 1]


def test_a_retried_finish_and_claim_is_applied_once(
    open_pg: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_pg()
    store.insert_jobs([new("a"), new("b")])
    job = store.claim("w1", None, T0 + 1, T0 + 31)
    assert job is not None and job.id == "a"
    lose_next_acknowledgement(store, monkeypatch)
    done, nxt = store.finish_and_claim(
        job, result(), Outcome(State.COMPLETED, None), "w1", None, T0 + 2, T0 + 32
    )
    assert done is True and nxt is not None and nxt.id == "b"
    held = store.get_job("b")
    assert held is not None and (held.worker_id, held.runs) == ("w1", 1)
    assert [a.attempt for a in store.attempts("b")] == [1]


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_retried_release_is_applied_once(
    open_pg: Opener, monkeypatch: pytest.MonkeyPatch, interrupted: bool
) -> None:
    store = open_pg()
    store.insert_jobs([new("a")])
    job = store.claim("w1", None, T0 + 1, T0 + 31)
    assert job is not None
    lose_next_acknowledgement(store, monkeypatch)
    # A forced stop keeps the attempt it interrupted; a job never started leaves no trace.
    ended = result(ok=False, error="interrupted") if interrupted else None
    assert store.release(job, T0 + 2, ended) is True
    back = store.get_job("a")
    assert back is not None and (back.state, back.attempts) == (State.PENDING, 0)
    assert [a.interrupted for a in store.attempts("a")] == ([True] if interrupted else [])
    assert back.runs == len(store.attempts("a"))


def test_a_retried_revive_reports_what_it_revived(
    open_pg: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_pg()
    store.insert_jobs([new("a", max_retries=0), new("b", max_retries=0)])
    for _ in range(2):
        job = store.claim("w1", None, T0 + 1, T0 + 31)
        assert job is not None
        store.finish(job, result(ok=False), Outcome(State.DEAD, None))
    lose_next_acknowledgement(store, monkeypatch)
    assert store.revive(["a"], T0 + 5) == ["a"]
    lose_next_acknowledgement(store, monkeypatch)
    assert store.revive(None, T0 + 6) == ["b"]


# --- passwords and imports ------------------------------------------------------------


def test_location_masks_the_password(open_pg: Opener) -> None:
    store = open_pg("&password=s3cret")  # trust authentication ignores it
    assert "s3cret" not in store.location and "password=***" in store.location
    target = parse_url("postgresql://alice:s%40cret@db.example:5433/jobs?schema=q")
    assert target.location == "postgresql://alice:***@db.example:5433/jobs?schema=q"
    assert target.where == "db.example:5433/jobs"


def test_errors_never_show_the_password(proxy: Proxy) -> None:
    proxy.down()
    url = f"postgresql://alice:s3cret@127.0.0.1:{proxy.port}/jobs"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore(url, busy_budget=0.2)
    assert "s3cret" not in str(caught.value)
    assert f"cannot reach PostgreSQL at 127.0.0.1:{proxy.port}/jobs" in str(caught.value)


def test_open_store_dispatches_on_the_url(pg_url: str, tmp_path: Path) -> None:
    with closing(open_store(pg_url)) as store:
        assert isinstance(store, PostgresStore)
    code = (
        "import sys; from queuectl.store import open_store;"
        f" open_store({str(tmp_path / 'q.db')!r}).close();"
        " sys.exit('psycopg' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_every_statement_is_valid_sql(pg_url: str) -> None:
    """The server parses and plans every generated statement (templates included)."""
    import re

    from queuectl.store.postgres import PostgresStore, _queries
    from queuectl.store.urls import parse_url

    store = PostgresStore(pg_url)  # creates the schema and its tables
    store.close()
    target = parse_url(pg_url)
    explainable = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
    with psycopg.connect(target.conninfo) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))
        for name, text in _queries().items():
            code = "\n".join(ln for ln in text.splitlines() if not ln.startswith("--"))
            if name.startswith("pick_") or not code.lstrip().startswith(explainable):
                continue  # fragments, and DDL or commands that EXPLAIN cannot take
            named = set(re.findall(r"%\((\w+)\)s", text))
            params: Any = dict.fromkeys(named) if named else [None] * text.count("%s")
            conn.execute(f"EXPLAIN {code}", params or None)  # type: ignore[arg-type]
        conn.rollback()
