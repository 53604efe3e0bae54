"""The PostgreSQL store: worker processes on many machines share one queue.

Layout: the tables live in a schema of their own (``queuectl`` unless the URL says
``?schema=NAME``), created and migrated on first use. Every connection sets its
``search_path`` to that schema, so the SQL in ``sql/postgres`` names tables bare. The schema
name is the only identifier that varies: it is validated, then quoted by
``psycopg.sql.Identifier``; every other value travels as a bind parameter. Migrations run
under ``pg_advisory_xact_lock`` keyed on the schema, so concurrent first uses by many
processes apply each migration once. A schema that holds tables but no migrations table
belongs to someone else and is refused untouched.

Claims: the claim is one guarded ``UPDATE`` whose candidate is picked with
``FOR UPDATE SKIP LOCKED``: a row another worker is claiming is passed over, so workers
claim side by side instead of queueing behind one row lock, and never take the same job.
Writes lock rows in one order (jobs, then attempts, then workers) to keep deadlocks out;
any that still happen are retried like a lost connection.

Wake-ups: ``insert_jobs``, ``revive`` and ``release`` send ``pg_notify`` on the channel
``queuectl_<schema>`` inside their transaction (so only committed work wakes anyone). A
worker's waker is a dedicated connection that ``LISTEN``s there; polling stays as the
safety net for any wake-up missed while that connection was down.

Resilience: each method is one transaction, retried whole on a dropped connection, a
restarting server, a deadlock or a serialization failure, reconnecting with backoff for up
to ``busy_budget`` seconds before ``StoreUnavailable``. No wait is unbounded: each
connection sets ``lock_timeout``, ``statement_timeout`` and
``idle_in_transaction_session_timeout`` from that budget (see ``_session_settings``).
A commit whose acknowledgement was lost may have happened, so the retry of a call that is
not naturally idempotent first checks for its own earlier effect: ``finish`` for its
attempt ending exactly as reported, ``release`` for its attempt row gone, ``insert_jobs``
for its whole batch present as written, ``claim`` for the job it took at that instant,
``revive`` for the jobs it revived at that instant. None of them is ever applied twice.

Durability: every commit is synchronous, workers' included (``durable`` changes nothing
here). Almost every worker transaction claims a job, and a claim forgotten by a crashed
server while its worker runs on elsewhere would let a second worker start the same job.
Round trips are what a busy worker pays for instead: its step (record the attempt, claim
and start the next job) is one statement, ``finish_and_claim``.

Not supported: poolers in transaction mode (pgbouncer): the store relies on session state
(``search_path``) and ``LISTEN``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from ..errors import (
    Conflict,
    NotAStore,
    NotFound,
    StoreError,
    StoreLost,
    StoreUnavailable,
)
from ..lifecycle import CLAIMABLE, DLQ, State, on_forced_stop, on_revive
from ..models import (
    Attempt,
    AttemptResult,
    ErrorGroup,
    Job,
    JobFilter,
    MinuteCount,
    NewJob,
    Outcome,
    Output,
    QueueLoad,
    WorkerInfo,
)
from .base import (
    CHUNK,
    FIRST_CHUNK,
    JOB_COLUMNS,
    attempt_end_values,
    attempt_from_row,
    finish_job_args,
    groups_from_rows,
    job_from_row,
    lease_at_write,
    list_statement,
    minutes_from_rows,
    output_from_row,
    page_from_rows,
    page_query,
    queue_load_from_rows,
    worker_from_row,
)
from .listen import NotifyWaker
from .queries import load_migrations, load_queries
from .urls import channel_for, one_line, parse_url

T = TypeVar("T")
Conn = psycopg.Connection[TupleRow]
Body = Callable[[Conn, bool], T]  # (connection, retried): one transaction's work

MIGRATIONS_TABLE = "queuectl_migrations"

ANALYZE_AFTER = 5000  # jobs in one batch that make the table's statistics worth refreshing
RETRY_FIRST_DELAY = 0.02
RETRY_MAX_DELAY = 1.0
WAKER_CONNECT_TIMEOUT = 2.0  # a waker reconnects from the worker's idle loop: keep it short
STATEMENT_TIMEOUT_MIN_MS = 30_000  # a running statement's bound: at least this, or 2x budget

# Errors after which running the whole transaction again can succeed: serialization
# failure, deadlock, lock not available, too many connections, server shutting down or
# starting up. (A broken connection is recognised on the connection itself.)
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03"})
# A connection refused with one of these (as libpq words it) is worth trying again; any
# other server-side refusal (no such database or role, bad password, pg_hba) is final.
TRANSIENT_CONNECT = (
    "starting up",
    "shutting down",
    "not yet accepting connections",
    "in recovery mode",
    "too many clients",
    "connection slots are reserved",
    "administrator command",
)


_QUERIES: dict[str, str] | None = None


# Statements made twice from one template: with pick_any, and with pick_queues (``_queues``).
_PICKING = ("claim", "claim_and_start", "finish_and_claim")


def _queries() -> dict[str, str]:
    global _QUERIES
    if _QUERIES is None:
        raw = {
            name: text.replace("{job_columns}", JOB_COLUMNS)
            for name, text in load_queries("postgres").items()
        }
        ctes = raw.pop("claim_ctes")
        for name in _PICKING:
            template = raw.pop(name).replace("{claim_ctes}", ctes)
            raw[name] = template.replace("{pick}", raw["pick_any"])
            raw[f"{name}_queues"] = template.replace("{pick}", raw["pick_queues"])
        _QUERIES = raw
    return _QUERIES


def _lock_key(schema: str) -> int:
    digest = hashlib.blake2b(f"queuectl:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# --- rows -----------------------------------------------------------------------------


def _claim_params(
    worker_id: str, queues: Sequence[str] | None, now: float, lease_until: float
) -> dict[str, Any]:
    params: dict[str, Any] = {"worker": worker_id, "now": now, "lease": lease_until}
    if queues is not None:
        params["queues"] = list(queues)
    return params


def _one(cur: psycopg.Cursor[TupleRow]) -> TupleRow:
    row = cur.fetchone()
    assert row is not None, "statement returns exactly one row"
    return row


# --- the store ------------------------------------------------------------------------


class PostgresStore:
    """The ``Store`` protocol on PostgreSQL; see the module docstring for the design.

    One connection per store, used by one thread at a time (open one store per thread).
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        missing_ok: bool = False,
        durable: bool = True,
        busy_budget: float = 30.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        target = parse_url(url)
        self._on_wait = on_wait
        self.url = url
        self.location = target.location
        self.created = False
        self.missing = False
        self.schema = target.schema
        self.channel = channel_for(target.schema)
        self.busy_budget = busy_budget
        self._target = target
        self._q = _queries()
        self._conn: Conn | None = None
        self._identity: tuple[int, int] | None = None  # see verify()
        try:
            self._prepare(create, missing_ok)
        except BaseException:
            self.close()
            raise

    def _sql(self, name: str, **names: str) -> sql.Composed:
        """A statement whose only varying parts are identifiers (the schema, the channel)."""
        ids = {key: sql.Identifier(value) for key, value in names.items()}
        return sql.SQL(self._q[name]).format(**ids)

    # --- opening ------------------------------------------------------------------------

    def _prepare(self, create: bool, missing_ok: bool) -> None:
        migrations = load_migrations("postgres")
        latest = len(migrations)
        relations = self._run(self._relations, write=False)
        if relations and MIGRATIONS_TABLE not in relations:
            raise self._not_a_store()
        version = self.schema_version() if relations else 0
        if version > latest:
            raise self._too_new(version, latest)
        if version == latest:
            return
        if not relations and not create:
            if not missing_ok:
                raise self._no_store()
            # Read as an empty store, create nothing: the schema may be missing because an
            # administrator dropped it, and its workers must not carry on with a new one.
            self.missing = True
            self.close()  # the next connection gets the stand-in (see _stand_in)
            return
        self._run(lambda conn, retried: self._migrate(conn, migrations))

    def _relations(self, conn: Conn, retried: bool = False) -> set[str]:
        rows = conn.execute(self._q["schema_relations"], (self.schema,)).fetchall()
        return {r[0] for r in rows}

    def _not_a_store(self) -> NotAStore:
        return NotAStore(
            f"schema {self.schema!r} at {self._target.where} holds tables but is not a"
            " queuectl store; choose another with ?schema=NAME"
        )

    def _too_new(self, version: int, latest: int) -> StoreError:
        return StoreError(
            f"the store at {self.location} has schema version {version}, newer than this "
            f"queuectl knows ({latest}); upgrade queuectl"
        )

    def _migrate(self, conn: Conn, migrations: list[tuple[int, str, str]]) -> None:
        q = self._q
        conn.execute(q["migration_lock"], (_lock_key(self.schema),))
        relations = self._relations(conn)  # re-read under the lock: another process may have won
        if relations and MIGRATIONS_TABLE not in relations:
            raise self._not_a_store()
        if not _one(conn.execute(q["schema_exists"], (self.schema,)))[0]:
            # Only when missing: CREATE SCHEMA checks the database privilege even with
            # IF NOT EXISTS, and a schema made ready by an administrator must do.
            conn.execute(self._sql("create_schema", schema=self.schema))
        if MIGRATIONS_TABLE not in relations:
            conn.execute(q["migrations_table"])
        version = _one(conn.execute(q["schema_version"]))[0]
        if version > len(migrations):
            raise self._too_new(version, len(migrations))
        self.created = version == 0
        for number, name, text in migrations[version:]:
            conn.execute(text)  # several statements, no parameters: one simple query
            conn.execute(q["record_migration"], (number, name, time.time()))

    def _no_store(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"no queuectl store in schema {self.schema!r} at {self._target.where}"
            " (`queuectl init`, an enqueue or `worker start` creates one)"
        )

    def _stand_in(self, conn: Conn) -> None:
        """For a store that does not exist: its tables as temporary tables of this session
        (search_path is pg_temp), so reads find an empty store and nothing is created that
        anyone else can see. Writes are refused before they get here (see ``_run``)."""
        conn.execute(self._q["migrations_table"])
        for _, _, text in load_migrations("postgres"):
            conn.execute(text)

    def verify(self) -> None:
        # The schema dropped (and perhaps made again by someone) under running workers: they
        # must stop, as on a deleted SQLite file, not carry on with an empty store.
        if self.missing:
            return
        row = self._run(
            lambda c, r: c.execute(self._q["store_identity"], (self.schema,)).fetchone(),
            write=False,
        )
        where = f"schema {self.schema!r} at {self._target.where}"
        if row is None or row[1] is None:
            raise StoreLost(f"the queuectl store in {where} was dropped")
        identity = (int(row[0]), int(row[1]))
        if self._identity is None:
            self._identity = identity
        elif identity != self._identity:
            raise StoreLost(f"the queuectl store in {where} was dropped and made again")

    def schema_version(self) -> int:
        return int(
            self._run(lambda c, r: _one(c.execute(self._q["schema_version"]))[0], write=False)
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- connections and transactions ---------------------------------------------------

    def _open(self, deadline: float | None = None) -> Conn:
        """A new autocommit connection; ``StoreUnavailable`` when retrying cannot help."""
        target = self._target
        params = conninfo_to_dict(target.conninfo)
        options: dict[str, Any] = {}
        if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
            # libpq waits forever by default; never wait past this call's budget.
            left = 10.0 if deadline is None else deadline - time.monotonic()
            options["connect_timeout"] = max(2, min(10, math.ceil(left)))
        if "application_name" not in params and "PGAPPNAME" not in os.environ:
            options["application_name"] = "queuectl"
        if "keepalives_idle" not in params:
            # Notice a vanished server (or machine) in about a minute, not TCP's 15.
            options.update(keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        try:
            return psycopg.connect(target.conninfo, autocommit=True, **options)
        except psycopg.OperationalError as exc:
            text = str(exc)
            if "FATAL" in text and not any(t in text for t in TRANSIENT_CONNECT):
                raise StoreUnavailable(self._cannot_reach(exc)) from None
            raise

    def _connection(self, deadline: float) -> Conn:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        self._conn = None
        conn = self._open(deadline)
        try:
            conn.execute(self._q["session_settings"], self._session_settings(conn))
            if self.missing:
                self._stand_in(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _session_settings(self, conn: Conn) -> dict[str, str]:
        """Waits bounded by this store's budget (``QUEUECTL_STORE_TIMEOUT`` for the CLI).

        A lock wait may take the whole budget; a statement that is running, not waiting,
        gets more room (a large batch insert), but not forever; a transaction left idle
        (its process frozen or stuck) is ended by the server, which releases its locks.
        """
        budget_ms = max(1000, round(self.busy_budget * 1000))
        return {
            "search_path": "pg_temp"
            if self.missing
            else sql.Identifier(self.schema).as_string(conn),
            "lock_timeout": f"{budget_ms}ms",
            "statement_timeout": f"{max(2 * budget_ms, STATEMENT_TIMEOUT_MIN_MS)}ms",
            "idle_timeout": f"{budget_ms}ms",
        }

    def _cannot_reach(self, exc: BaseException) -> str:
        return f"cannot reach PostgreSQL at {self._target.where}: {self._text(exc)}"

    def _text(self, exc: BaseException) -> str:
        return one_line(exc, self._target.secrets)

    def _transient(self, exc: psycopg.Error) -> bool:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            return True  # never connected, or the connection died: reconnect and redo
        state = exc.sqlstate or ""
        return state in TRANSIENT_SQLSTATES or state.startswith("08")

    def _translate(self, exc: psycopg.Error) -> StoreError:
        where, text = self._target.where, self._text(exc)
        state = exc.sqlstate or ""
        if state in ("42P01", "3F000"):
            gone = exc.diag.message_primary or text
            return StoreLost(
                f"the queuectl tables of schema {self.schema!r} at {where} are gone ({gone})"
            )
        if state == "42501":
            return StoreUnavailable(f"permission denied by PostgreSQL at {where}: {text}")
        if state == "25006":
            return StoreUnavailable(f"PostgreSQL at {where} is read-only (a standby?): {text}")
        if state == "53100":
            return StoreUnavailable(f"cannot write to PostgreSQL at {where}: the disk is full")
        if state == "57014":
            return StoreUnavailable(
                f"PostgreSQL at {where} did not answer in time (statement timeout); try again"
            )
        return StoreUnavailable(f"PostgreSQL error at {where}: {text}")

    def _gave_up(self, exc: psycopg.Error) -> StoreUnavailable:
        state = exc.sqlstate or ""
        if state == "55P03":
            return StoreUnavailable(
                f"PostgreSQL at {self._target.where} kept the store's tables locked for over "
                f"{self.busy_budget:g}s (another session holds a lock); try again"
            )
        if state.startswith("40"):
            return StoreUnavailable(
                f"PostgreSQL at {self._target.where} kept aborting the transaction for over "
                f"{self.busy_budget:g}s ({self._text(exc)}); try again"
            )
        return StoreUnavailable(self._cannot_reach(exc))

    def _attempt(self, conn: Conn, body: Body[T], retried: bool, write: bool) -> T:
        """One try of a call: a transaction for writes, a single autocommit read otherwise."""
        if not write:
            return body(conn, retried)
        with conn.transaction():
            return body(conn, retried)

    def _run(self, body: Body[T], *, write: bool = True) -> T:
        """Run ``body`` until it commits, reconnecting as needed, within ``busy_budget``.

        ``body`` gets ``retried=True`` once an earlier try failed in a way that may have
        hidden a successful commit; calls that are not naturally idempotent use it to
        recognise their own earlier effect.
        """
        if write and self.missing:
            raise self._no_store()
        deadline = time.monotonic() + self.busy_budget
        delay = RETRY_FIRST_DELAY
        retried = False
        while True:
            try:
                return self._attempt(self._connection(deadline), body, retried, write)
            except psycopg.Error as exc:
                if not self._transient(exc):
                    raise self._translate(exc) from None
                if self._conn is not None and (self._conn.closed or self._conn.broken):
                    self._conn.close()
                    self._conn = None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._gave_up(exc) from None
                if self._conn is None and self._on_wait is not None:
                    self._on_wait(
                        f"{self._cannot_reach(exc)}; retrying for up to {left:.0f}s"
                        " (QUEUECTL_STORE_TIMEOUT)"
                    )
                    self._on_wait = None  # once is enough
                time.sleep(min(left, delay * (0.5 + random.random())))
                delay = min(delay * 2, RETRY_MAX_DELAY)
                retried = True

    def _notify(self, conn: Conn) -> None:
        conn.execute(self._q["notify"], (self.channel,))

    # --- jobs ---------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob]) -> None:
        if not jobs:
            return
        ids = [j.id for j in jobs]
        columns: dict[str, list[Any]] = {
            "id": ids,
            "command": [j.command for j in jobs],
            "queue": [j.queue for j in jobs],
            "priority": [int(j.priority) for j in jobs],
            "max_retries": [int(j.max_retries) for j in jobs],
            "backoff_base": [float(j.backoff_base) for j in jobs],
            "timeout": [None if j.timeout is None else float(j.timeout) for j in jobs],
            "run_at": [float(j.run_at) for j in jobs],
            "created_at": [float(j.created_at) for j in jobs],
            "cwd": [j.cwd for j in jobs],
            "env": [json.dumps(j.env) if j.env else None for j in jobs],
        }
        q = self._q

        def run(conn: Conn, retried: bool) -> None:
            inserted = {r[0] for r in conn.execute(q["insert_jobs"], columns).fetchall()}
            if len(inserted) < len(jobs):
                if retried and not inserted and self._batch_present(conn, jobs):
                    return  # an earlier try committed; only its acknowledgement was lost
                raise self._duplicate(ids, inserted)  # rolls back the rows just inserted
            self._notify(conn)

        self._run(run)
        if len(jobs) >= ANALYZE_AFTER:
            try:
                self._run(lambda c, r: c.execute(self._q["analyze_jobs"]), write=False)
            except StoreError:
                pass  # only statistics: autovacuum will get there too

    def _batch_present(self, conn: Conn, jobs: Sequence[NewJob]) -> bool:
        ids = [j.id for j in jobs]
        if len(set(ids)) != len(ids):
            return False  # such a batch can never have been inserted
        found = _one(
            conn.execute(
                self._q["batch_already_inserted"],
                (ids, [float(j.created_at) for j in jobs], [j.command for j in jobs]),
            )
        )[0]
        return bool(found == len(ids))

    @staticmethod
    def _duplicate(ids: Sequence[str], inserted: set[str]) -> Conflict:
        """The first id of the batch that ON CONFLICT DO NOTHING skipped, and why."""
        seen: set[str] = set()
        for job_id in ids:
            if job_id in seen:
                return Conflict(
                    f"job id {job_id!r} appears twice in the batch; nothing was enqueued"
                )
            if job_id not in inserted:
                return Conflict(f"a job with id {job_id!r} already exists; nothing was enqueued")
            seen.add(job_id)
        return Conflict("a job of the batch already exists; nothing was enqueued")

    def get_job(self, job_id: str) -> Job | None:
        row = self._run(
            lambda c, r: c.execute(self._q["get_job"], (job_id,)).fetchone(), write=False
        )
        return job_from_row(row) if row else None

    def list_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        lim = None if limit is None or limit < 0 else limit  # LIMIT NULL: no limit
        name, args = list_statement(state, queue, ready_at, lim)
        rows = self._run(lambda c, r: c.execute(self._q[name], args).fetchall(), write=False)
        return [job_from_row(r) for r in rows]

    def iter_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> Generator[Job, None, None]:
        lim = None if limit is None or limit < 0 else limit
        name, args = list_statement(state, queue, ready_at, lim)
        conn = self._run(lambda c, r: c, write=False)  # connected, riding out a restart
        try:
            # A server-side cursor, so that rows come over as they are read, not all first.
            with conn.transaction(), conn.cursor(name="queuectl_list_jobs") as cursor:
                cursor.execute(self._q[name], args)
                size = FIRST_CHUNK
                while rows := cursor.fetchmany(size):
                    yield from map(job_from_row, rows)
                    size = CHUNK
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    def count_jobs(self) -> dict[State, int]:
        rows = self._run(lambda c, r: c.execute(self._q["count_jobs"]).fetchall(), write=False)
        counts = dict.fromkeys(State, 0)
        for state, n in rows:
            counts[State(state)] = int(n)
        return counts

    def attempts(self, job_id: str) -> list[Attempt]:
        rows = self._run(
            lambda c, r: c.execute(self._q["attempts"], (job_id,)).fetchall(), write=False
        )
        return [attempt_from_row(r) for r in rows]

    def output(self, job_id: str, attempt: int | None = None) -> Output | None:
        args: tuple[object, ...]
        if attempt is None:
            name, args = "output_latest", (job_id,)
        else:
            name, args = "output_attempt", (job_id, attempt)
        row = self._run(lambda c, r: c.execute(self._q[name], args).fetchone(), write=False)
        if row is None:
            return None
        return output_from_row(job_id, row)

    # --- the dashboard's reads ----------------------------------------------------------

    def page_jobs(
        self, where: JobFilter, before: int | None, limit: int, window: int | None = None
    ) -> tuple[list[Job], int | None]:
        q = self._q

        def run(conn: Conn, retried: bool) -> tuple[list[Job], int | None]:
            top = before if before is not None else int(_one(conn.execute(q["max_seq"]))[0]) + 1
            name, params, floor = page_query(where, top, limit, window)
            return page_from_rows(conn.execute(q[name], params).fetchall(), limit, floor)

        return self._run(run, write=False)

    def queue_load(self, now: float) -> list[QueueLoad]:
        args = {"now": now}
        rows = self._run(
            lambda c, r: c.execute(self._q["queue_load"], args).fetchall(), write=False
        )
        return queue_load_from_rows(rows)

    def finished_per_minute(self, since: float) -> list[MinuteCount]:
        sql = self._q["finished_per_minute"]
        rows = self._run(lambda c, r: c.execute(sql, (since,)).fetchall(), write=False)
        return minutes_from_rows(rows)

    def dead_groups(self, limit: int) -> list[ErrorGroup]:
        sql = self._q["dead_groups"]
        rows = self._run(lambda c, r: c.execute(sql, (limit,)).fetchall(), write=False)
        return groups_from_rows(rows)

    def change_marker(self) -> object:
        sql = self._q["change_marker"]
        return tuple(self._run(lambda c, r: _one(c.execute(sql)), write=False))

    # --- dead letter queue --------------------------------------------------------------

    def revive(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        q = self._q
        outcome = on_revive(now)
        moved = {"state": str(outcome.state), "next_run_at": outcome.next_run_at, "now": now}

        def run(conn: Conn, retried: bool) -> list[str]:
            if job_ids is None:
                args = {**moved, "retry": retried}
                revived = [r[0] for r in conn.execute(q["revive_all"], args).fetchall()]
            else:
                wanted = list(job_ids)
                rows = {r[0]: r for r in conn.execute(q["lock_jobs"], (wanted,)).fetchall()}
                for job_id in wanted:
                    row = rows.get(job_id)
                    if row is None:
                        raise NotFound(f"no job with id {job_id!r}; nothing was retried")
                    _, state, attempts, updated_at, next_run_at = row
                    # On a retry, a job this call already revived carries its exact time.
                    ours = retried and (state, attempts, updated_at, next_run_at) == (
                        outcome.state,
                        0,
                        now,
                        outcome.next_run_at,
                    )
                    if State(state) not in DLQ and not ours:
                        raise Conflict(
                            f"job {job_id!r} is {state}, not in the DLQ; nothing was retried"
                        )
                conn.execute(q["revive"], {**moved, "ids": wanted})
                revived = wanted
            if revived:
                self._notify(conn)
            return revived

        return self._run(run)

    def revive_some(self, job_ids: Sequence[str], now: float) -> list[str]:
        wanted = list(dict.fromkeys(job_ids))
        outcome = on_revive(now)

        def run(conn: Conn, retried: bool) -> list[str]:
            args = {
                "ids": wanted,
                "state": str(outcome.state),
                "next_run_at": outcome.next_run_at,
                "now": now,
                "retry": retried,
            }
            revived = [r[0] for r in conn.execute(self._q["revive_some"], args).fetchall()]
            if revived:
                self._notify(conn)
            return revived

        return self._run(run)

    def purge_dead(self) -> int:
        return int(self._run(lambda c, r: _one(c.execute(self._q["purge_dead"]))[0]))

    # --- config -------------------------------------------------------------------------

    def config_items(self) -> dict[str, str]:
        rows = self._run(lambda c, r: c.execute(self._q["config_items"]).fetchall(), write=False)
        return {k: v for k, v in rows}

    def config_set(self, key: str, value: str) -> None:
        self._run(lambda c, r: c.execute(self._q["config_set"], (key, value)))

    def config_unset(self, key: str) -> bool:
        return bool(self._run(lambda c, r: c.execute(self._q["config_unset"], (key,)).rowcount))

    # --- workers ------------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        queues = json.dumps(list(worker.queues)) if worker.queues is not None else None
        args = (
            worker.id,
            worker.host,
            worker.pid,
            worker.supervisor_pid,
            queues,
            worker.started_at,
            worker.heartbeat_at,
            worker.wake,
        )
        self._run(lambda c, r: c.execute(self._q["register_worker"], args))

    def unregister_worker(self, worker_id: str) -> None:
        self._run(lambda c, r: c.execute(self._q["unregister_worker"], (worker_id,)))

    def heartbeat(
        self, worker_id: str, job: Job | None, now: float, lease_until: float, jobs_done: int
    ) -> tuple[int | None, bool]:
        q = self._q
        asked_at = time.monotonic()

        def run(conn: Conn, retried: bool) -> tuple[int | None, bool]:
            # The job row before the worker row: the order every write locks them in.
            holds = True
            if job is not None:
                lease = lease_at_write(lease_until, asked_at)
                cur = conn.execute(q["extend_lease"], (lease, job.id, worker_id, job.runs))
                holds = cur.rowcount == 1
            row = conn.execute(q["heartbeat_worker"], (now, jobs_done, worker_id)).fetchone()
            return (int(row[0]) if row else None), holds

        return self._run(run)

    def list_workers(self) -> list[WorkerInfo]:
        rows = self._run(lambda c, r: c.execute(self._q["list_workers"]).fetchall(), write=False)
        return [worker_from_row(r) for r in rows]

    def request_stop(self, worker_ids: Sequence[str], level: int) -> None:
        args = (level, list(worker_ids))
        self._run(lambda c, r: c.execute(self._q["request_stop"], args))

    def forget_workers(self, worker_ids: Sequence[str]) -> None:
        args = (list(worker_ids),)
        self._run(lambda c, r: c.execute(self._q["forget_workers"], args))

    def mark_stop(self, at: float) -> None:
        self._run(lambda c, r: c.execute(self._q["mark_stop"], (at,)))

    def stop_mark(self) -> float | None:
        row = self._run(lambda c, r: c.execute(self._q["stop_mark"]).fetchone(), write=False)
        return None if row is None else float(row[0])

    # --- execution ----------------------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, now: float, lease_until: float
    ) -> Job | None:
        params = _claim_params(worker_id, queues, now, lease_until)
        name = "claim_and_start" if queues is None else "claim_and_start_queues"
        asked_at = time.monotonic()

        def run(conn: Conn, retried: bool) -> Job | None:
            params["lease"] = lease = lease_at_write(lease_until, asked_at)
            if retried:  # the careful path, which recognises an earlier try's effect
                with conn.transaction():
                    return self._claim(conn, True, worker_id, queues, now, lease)
            row = conn.execute(self._q[name], params).fetchone()  # one round trip
            return job_from_row(row) if row else None

        return self._run(run, write=False)

    def _claim(
        self,
        conn: Conn,
        retried: bool,
        worker_id: str,
        queues: Sequence[str] | None,
        now: float,
        lease: float,
    ) -> Job | None:
        q = self._q
        if retried:
            # If an earlier try committed, its job is ours: return it rather than leave it
            # leased to nobody until the lease runs out.
            row = conn.execute(q["claimed_by_call"], (worker_id, now)).fetchone()
            if row is not None:
                return job_from_row(row)
        params = _claim_params(worker_id, queues, now, lease)
        row = conn.execute(q["claim" if queues is None else "claim_queues"], params).fetchone()
        if row is None:
            return None
        job = job_from_row(row)
        conn.execute(q["start_attempt"], (job.id, job.runs, worker_id, now))
        return job

    def save_output(self, job: Job, result_so_far: AttemptResult) -> bool:
        r = result_so_far
        args = (r.stdout, r.stderr, r.stdout_total, r.stderr_total, job.id, job.runs)
        return bool(self._run(lambda c, _: c.execute(self._q["save_output"], args).rowcount))

    def finish(self, job: Job, result: AttemptResult, outcome: Outcome) -> bool:
        def run(conn: Conn, retried: bool) -> bool:
            done = self._finish(conn, retried, job, result, outcome)
            self._notify_if_retrying(conn, done, outcome)
            return done

        return self._run(run)

    def _notify_if_retrying(self, conn: Conn, done: bool, outcome: Outcome) -> None:
        # Idle workers sleep until the earliest due time they last read; a retry scheduled
        # since may be earlier, so they should read it again. (A separate notify is a second
        # round trip, paid only by failures.)
        if done and outcome.state in CLAIMABLE:
            self._notify(conn)

    def finish_and_claim(
        self,
        job: Job,
        result: AttemptResult,
        outcome: Outcome,
        worker_id: str,
        queues: Sequence[str] | None,
        now: float,
        lease_until: float,
    ) -> tuple[bool, Job | None]:
        r = result
        params = _claim_params(worker_id, queues, now, lease_until)
        params.update(
            state=str(outcome.state),
            next_run_at=outcome.next_run_at,
            exit_code=r.exit_code,
            error=r.error,
            finished_at=r.finished_at,
            timed_out=r.timed_out,
            stdout=r.stdout,
            stderr=r.stderr,
            stdout_total=r.stdout_total,
            stderr_total=r.stderr_total,
            job=job.id,
            holder=job.worker_id,
            runs=job.runs,
        )
        name = "finish_and_claim" if queues is None else "finish_and_claim_queues"
        asked_at = time.monotonic()

        def run(conn: Conn, retried: bool) -> tuple[bool, Job | None]:
            params["lease"] = lease = lease_at_write(lease_until, asked_at)
            if retried:  # the careful path, which recognises an earlier try's effect
                with conn.transaction():
                    done = self._finish(conn, True, job, result, outcome)
                    claimed = self._claim(conn, True, worker_id, queues, now, lease)
            else:
                row = _one(conn.execute(self._q[name], params))  # one round trip
                done = bool(row[0])
                claimed = job_from_row(row[1:]) if row[1] is not None else None
            self._notify_if_retrying(conn, done, outcome)
            return done, claimed

        return self._run(run, write=False)

    def recover(self, job: Job, result: AttemptResult, outcome: Outcome) -> bool:
        def run(conn: Conn, retried: bool) -> bool:
            done = self._finish(conn, retried, job, result, outcome, recovery=True)
            self._notify_if_retrying(conn, done, outcome)
            return done

        return self._run(run)

    def _finish(
        self,
        conn: Conn,
        retried: bool,
        job: Job,
        r: AttemptResult,
        outcome: Outcome,
        recovery: bool = False,
    ) -> bool:
        q = self._q
        args = finish_job_args(job, r, outcome)
        if recovery:
            cur = conn.execute(q["recover_job"], (*args, job.lease_expires_at))
        else:
            cur = conn.execute(q["finish_job"], args)
        if cur.rowcount != 1:
            if not retried:
                return False  # fenced off: the lease was lost and the job moved on
            # Or fenced off by our own earlier try, whose acknowledgement was lost.
            mine = (job.id, job.runs, r.finished_at, r.exit_code, r.error)
            return bool(_one(conn.execute(q["attempt_finished_as"], mine))[0])
        conn.execute(q["finish_attempt"], attempt_end_values(job, r))
        return True

    def release(self, job: Job, now: float, interrupted: AttemptResult | None = None) -> bool:
        q = self._q
        outcome = on_forced_stop(job, now)
        fence = (str(outcome.state), outcome.next_run_at, now, job.id, job.worker_id, job.runs)
        mine = {"job": job.id, "runs": job.runs, "worker": job.worker_id}

        def run(conn: Conn, retried: bool) -> bool:
            if interrupted is not None:
                if conn.execute(q["keep_job"], fence).rowcount == 1:
                    conn.execute(q["interrupt_attempt"], attempt_end_values(job, interrupted))
                elif not retried:
                    return False
                else:
                    # Or our own earlier try committed, and only its acknowledgement was lost.
                    args = {**mine, "finished": interrupted.finished_at}
                    if not _one(conn.execute(q["attempt_interrupted_as"], args))[0]:
                        return False
            elif conn.execute(q["release_job"], fence).rowcount == 1:
                conn.execute(q["drop_attempt"], (job.id, job.runs))
            elif retried:
                # A release deletes the attempt row its claim made; a recovery keeps it.
                exists, held = _one(conn.execute(q["attempt_held"], mine))
                if not exists or held:
                    return False
            else:
                return False
            self._notify(conn)
            return True

        return self._run(run)

    def expired(self, now: float, limit: int = 100) -> list[Job]:
        rows = self._run(
            lambda c, r: c.execute(self._q["expired"], (now, limit)).fetchall(), write=False
        )
        return [job_from_row(r) for r in rows]

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        if queues is None:
            name, args = "next_due", None
        else:
            name, args = "next_due_queues", (list(queues),)
        row = self._run(lambda c, r: _one(c.execute(self._q[name], args)), write=False)
        return None if row[0] is None else float(row[0])

    def open_waker(self, worker_id: str) -> NotifyWaker:
        listen = self._sql("listen", channel=self.channel)
        return NotifyWaker(lambda: self._open(time.monotonic() + WAKER_CONNECT_TIMEOUT), listen)
