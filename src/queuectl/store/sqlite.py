"""The SQLite store: one file, WAL mode, many processes on one host.

Durability: enqueues commit with ``synchronous=FULL`` (fsync of the WAL), so a job that
was acknowledged survives a power cut. Worker connections use ``synchronous=NORMAL``:
their commits are atomic and survive a process crash, but the last few may roll back on
a power cut. The worst case is a finished job that runs once more (at-least-once), never a
lost job, because the enqueue itself was synced.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction, so claims are serialised by
SQLite's writer lock and two workers can never take the same job. Busy waits are bounded
by SQLite's busy timeout and retried here with backoff; a caller only ever sees
``StoreUnavailable`` after ``busy_budget`` seconds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Generator, Sequence
from typing import TypeVar

from ..errors import Conflict, NotAStore, NotFound, StoreError, StoreLost, StoreUnavailable
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
from .queries import load_migrations, load_queries
from .wakeup import DatagramWaker, wake

T = TypeVar("T")

APPLICATION_ID = 0x5143544C  # "QCTL" in the SQLite header marks a queuectl store
MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
BUSY_TIMEOUT = 2.0  # SQLite's own wait for a lock, per attempt
INSERT_BATCH = 200  # jobs per INSERT statement (13 values each; SQLite allows 32766)
INSERT_VALUES = 13


_QUERIES: dict[str, str] | None = None


def _queries() -> dict[str, str]:
    global _QUERIES
    if _QUERIES is None:
        _QUERIES = {
            name: sql.replace("{job_columns}", JOB_COLUMNS)
            for name, sql in load_queries("sqlite").items()
        }
    return _QUERIES


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SqliteStore:
    def __init__(
        self,
        path: str,
        *,
        create: bool = True,
        missing_ok: bool = False,
        durable: bool = True,
        busy_budget: float = 30.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self._on_wait = on_wait
        self.url = path
        self.location = path
        self.created = False
        self.missing = False
        self.busy_budget = busy_budget
        self._q = _queries()
        self._inserts: dict[int, str] = {}  # multi-row INSERT statements by row count
        self._conn = self._connect(create, missing_ok)
        self._header_fd = -1
        self._refuse_writes = False
        try:
            self._prepare(durable)
            # A store that does not exist is read as an empty one, made in memory (see
            # Store.missing); nothing may be written to it.
            self._refuse_writes = self.missing
            if not self.missing:
                self._identity = self._file_identity()
                self._journal = self._journal_identity()
        except BaseException:
            self._conn.close()
            raise

    # --- opening ------------------------------------------------------------------------

    def _connect(self, create: bool, missing_ok: bool) -> sqlite3.Connection:
        path = self.path
        if os.path.isdir(path):
            raise NotAStore(f"{path} is a directory, not a queuectl store")
        if not os.path.exists(path):
            if not create and missing_ok:
                self.missing = True
                return sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            if not create:
                raise self._no_store()
            parent = os.path.dirname(path) or "."
            if not os.path.isdir(parent):
                raise StoreUnavailable(
                    f"cannot create the store: directory {parent} does not exist"
                )
            try:
                # Create it ourselves so that it is private from the first byte.
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                self.created = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the store at {path}: {exc.strerror}"
                ) from None
        elif not os.access(path, os.R_OK):
            raise StoreUnavailable(f"cannot read the store at {path}: permission denied")
        else:
            st = os.stat(path)
            if st.st_mode & stat.S_IWOTH:
                # Anyone who can write the store can make the workers run any command.
                raise StoreError(
                    f"the store at {path} is writable by every user "
                    f"(mode {st.st_mode & 0o777:o}); make it private with `chmod 600 {path}`"
                )
            if st.st_nlink > 1:
                # SQLite names its write-ahead log after the name it was given: through two
                # names, two logs, and each side's commits are lost to the other.
                raise StoreError(
                    f"the store at {path} has {st.st_nlink} hard links; SQLite keeps one "
                    "write-ahead log per name, so writes through another name get lost. "
                    "Keep a single name (a symbolic link is fine) and remove the others"
                )
        try:
            return sqlite3.connect(
                path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    def _prepare(self, durable: bool) -> None:
        try:
            app_id, version, tables = self._read(self._identify)
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc) from None
        migrations = load_migrations("sqlite")
        latest = len(migrations)
        if app_id != APPLICATION_ID:
            if app_id != 0 or tables:
                raise NotAStore(f"{self.path} is a SQLite database, but not a queuectl store")
            self._exec_retry("PRAGMA journal_mode=WAL")
        if version > latest:
            raise StoreError(
                f"the store at {self.path} has schema version {version}, newer than this "
                f"queuectl knows ({latest}); upgrade queuectl"
            )
        if version < latest:
            self._migrate(migrations)
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        # A checkpoint syncs the WAL and the database file; at SQLite's default of every
        # 1,000 pages that is a pair of fsyncs every hundred or so jobs, a quarter of a
        # busy worker's store time. Every 10,000 pages (a WAL of about 40 MB) keeps the same
        # guarantees at a tenth of the syncs.
        self._conn.execute("PRAGMA wal_autocheckpoint=10000")

    def _identify(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """Application id, schema version and table count, from one snapshot: read one by
        one, another process's first migration could commit in between, and a store
        halfway through its birth would look like a stranger's database."""
        conn.execute("BEGIN")
        try:
            app_id, version = self._header(conn)
            tables = conn.execute(self._q["count_user_tables"]).fetchone()[0]
        finally:
            conn.execute("ROLLBACK")
        return app_id, version, int(tables)

    @staticmethod
    def _header(conn: sqlite3.Connection) -> tuple[int, int]:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        return int(app_id), int(version)

    def _migrate(self, migrations: list[tuple[int, str, str]]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            app_id, version = self._header(conn)  # re-read: another process may have won
            if app_id not in (0, APPLICATION_ID):
                raise NotAStore(f"{self.path} is a SQLite database, but not a queuectl store")
            conn.execute(self._q["migrations_table"])
            for number, name, sql in migrations[version:]:
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(self._q["record_migration"], (number, name, time.time()))
                conn.execute(f"PRAGMA user_version={number:d}")
            conn.execute(f"PRAGMA application_id={APPLICATION_ID:d}")

        self._write(run)

    def schema_version(self) -> int:
        return self._read(self._header)[1]

    def _file_identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _journal_identity(self) -> dict[str, tuple[int, int]]:
        """The write-ahead log and its index, named after the store's real path, as this
        open connection uses them (they exist from the first read until the last close)."""
        base = os.path.realpath(self.path)
        found: dict[str, tuple[int, int]] = {}
        for name in (f"{base}-wal", f"{base}-shm"):
            try:
                st = os.stat(name)
            except FileNotFoundError:
                continue
            found[name] = (st.st_dev, st.st_ino)
        return found

    def verify(self) -> None:
        if self.missing:
            return
        # An open connection keeps using a deleted file's inode. Without these checks a
        # worker would drain a ghost while new jobs go to a fresh file at the same path; or,
        # with its write-ahead log deleted, keep committing to a log nobody else reads, then
        # checkpoint it over their work and delete the log that holds their enqueues.
        path = self.path
        try:
            identity = self._file_identity()
        except FileNotFoundError:
            raise StoreLost(f"the store at {path} was deleted") from None
        if identity != self._identity:
            raise StoreLost(f"the store at {path} was replaced by another file")
        try:
            if self._header_fd < 0:
                # Opened once and closed only after the connection: closing any descriptor
                # of the file drops every POSIX lock this process holds on it, SQLite's
                # included, and another process could then checkpoint and delete the log.
                self._header_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            header = os.pread(self._header_fd, len(MAGIC), 0)
        except OSError as exc:
            raise StoreUnavailable(f"cannot read the store at {path}: {exc.strerror}") from None
        if header != MAGIC:
            raise StoreLost(f"the store at {path} was truncated or overwritten in place")
        for name, known in self._journal.items():
            try:
                st = os.stat(name)
            except FileNotFoundError:
                raise StoreLost(f"the store's write-ahead log {name} was deleted") from None
            if (st.st_dev, st.st_ino) != known:
                raise StoreLost(f"the store's write-ahead log {name} was replaced")

    def close(self) -> None:
        self._conn.close()
        if self._header_fd >= 0:
            os.close(self._header_fd)
            self._header_fd = -1

    # --- transactions -------------------------------------------------------------------

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc).lower()
        where = self.path
        if "not a database" in text or "malformed" in text:
            return NotAStore(f"{where} is not a queuectl store (not a SQLite database, or corrupt)")
        if "readonly" in text or "read-only" in text:
            return StoreUnavailable(f"cannot write to the store at {where}: it is read-only")
        if "full" in text:
            return StoreUnavailable(f"cannot write to the store at {where}: the disk is full")
        if _is_busy(exc):
            return StoreUnavailable(
                f"the store at {where} stayed locked for over {self.busy_budget:g}s; try again"
            )
        if "unable to open" in text:
            return StoreUnavailable(f"cannot open the store at {where}")
        if "disk i/o" in text:
            return StoreUnavailable(f"cannot use the store at {where}: disk I/O error")
        return StoreUnavailable(f"store error at {where}: {exc}")

    def _retrying(self, action: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.busy_budget
        delay = 0.002
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise self._translate(exc) from None
                if self._on_wait is not None:
                    left = deadline - time.monotonic()
                    self._on_wait(
                        f"the store at {self.path} is locked by another process; waiting up to"
                        f" {left:.0f}s (QUEUECTL_STORE_TIMEOUT)"
                    )
                    self._on_wait = None  # once is enough
            except sqlite3.IntegrityError:
                raise  # a constraint the caller turns into a precise message
            except sqlite3.DatabaseError as exc:
                raise self._translate(exc) from None
            time.sleep(delay * (0.5 + os.urandom(1)[0] / 255))
            delay = min(delay * 2, 0.1)

    def _no_store(self) -> StoreUnavailable:
        return StoreUnavailable(f"no store at {self.path} (run `queuectl init` to create one)")

    def _write(self, body: Callable[[sqlite3.Connection], T]) -> T:
        if self._refuse_writes:
            raise self._no_store()
        conn = self._conn

        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

        return self._retrying(attempt)

    def _read(self, body: Callable[[sqlite3.Connection], T]) -> T:
        return self._retrying(lambda: body(self._conn))

    def _exec_retry(self, sql: str) -> None:
        self._retrying(lambda: self._conn.execute(sql).fetchall())

    # --- jobs ---------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob]) -> None:
        dumps = json.dumps
        values = [
            value
            for j in jobs
            for value in (
                j.id,
                j.command,
                j.queue,
                j.priority,
                j.max_retries,
                j.backoff_base,
                j.timeout,
                j.run_at,
                j.run_at,  # next_run_at: due at its run_at
                j.created_at,
                j.created_at,  # updated_at
                j.cwd,
                dumps(j.env) if j.env else None,
            )
        ]

        def run(conn: sqlite3.Connection) -> None:
            width = INSERT_BATCH * INSERT_VALUES
            for start in range(0, len(values), width):
                chunk = values[start : start + width]
                conn.execute(self._insert_statement(len(chunk) // INSERT_VALUES), chunk)

        try:
            self._write(run)
        except sqlite3.IntegrityError:
            existing = self._read(
                lambda c: c.execute(
                    self._q["existing_ids"], (json.dumps([j.id for j in jobs]),)
                ).fetchone()
            )
            name = existing[0] if existing else "?"
            raise Conflict(f"a job with id {name!r} already exists; nothing was enqueued") from None
        self._wake_local()

    def _insert_statement(self, rows: int) -> str:
        statement = self._inserts.get(rows)
        if statement is None:
            group = self._q["insert_job_row"]
            statement = self._q["insert_jobs"] + "\n" + ",\n".join([group] * rows)
            self._inserts[rows] = statement
        return statement

    def _wake_local(self) -> None:
        try:
            rows = self._conn.execute(self._q["wake_addresses"]).fetchall()
        except sqlite3.Error:
            return  # a missed wake-up only costs one poll interval
        wake([r[0] for r in rows])

    def get_job(self, job_id: str) -> Job | None:
        row = self._read(lambda c: c.execute(self._q["get_job"], (job_id,)).fetchone())
        return job_from_row(row) if row else None

    def list_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        name, args = list_statement(state, queue, ready_at, -1 if limit is None else limit)
        rows = self._read(lambda c: c.execute(self._q[name], args).fetchall())
        return [job_from_row(r) for r in rows]

    def iter_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> Generator[Job, None, None]:
        name, args = list_statement(state, queue, ready_at, -1 if limit is None else limit)
        # A cursor stepped chunk by chunk: its statement holds one read snapshot throughout.
        cursor = self._read(lambda c: c.execute(self._q[name], args))
        try:
            size = FIRST_CHUNK
            while rows := cursor.fetchmany(size):
                yield from map(job_from_row, rows)
                size = CHUNK
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        finally:
            cursor.close()

    def count_jobs(self) -> dict[State, int]:
        rows = self._read(lambda c: c.execute(self._q["count_jobs"]).fetchall())
        counts = dict.fromkeys(State, 0)
        for state, n in rows:
            counts[State(state)] = n
        return counts

    def attempts(self, job_id: str) -> list[Attempt]:
        rows = self._read(lambda c: c.execute(self._q["attempts"], (job_id,)).fetchall())
        return [attempt_from_row(r) for r in rows]

    def output(self, job_id: str, attempt: int | None = None) -> Output | None:
        args: tuple[object, ...]
        if attempt is None:
            name, args = "output_latest", (job_id,)
        else:
            name, args = "output_attempt", (job_id, attempt)
        row = self._read(lambda c: c.execute(self._q[name], args).fetchone())
        if row is None:
            return None
        return output_from_row(job_id, row)

    # --- the dashboard's reads ----------------------------------------------------------

    def page_jobs(
        self, where: JobFilter, before: int | None, limit: int, window: int | None = None
    ) -> tuple[list[Job], int | None]:
        q = self._q

        def run(conn: sqlite3.Connection) -> tuple[list[Job], int | None]:
            top = before if before is not None else conn.execute(q["max_seq"]).fetchone()[0] + 1
            name, params, floor = page_query(where, top, limit, window)
            return page_from_rows(conn.execute(q[name], params).fetchall(), limit, floor)

        return self._read(run)

    def queue_load(self, now: float) -> list[QueueLoad]:
        rows = self._read(lambda c: c.execute(self._q["queue_load"], (now,)).fetchall())
        return queue_load_from_rows(rows)

    def finished_per_minute(self, since: float) -> list[MinuteCount]:
        sql = self._q["finished_per_minute"]
        return minutes_from_rows(self._read(lambda c: c.execute(sql, (since,)).fetchall()))

    def dead_groups(self, limit: int) -> list[ErrorGroup]:
        sql = self._q["dead_groups"]
        return groups_from_rows(self._read(lambda c: c.execute(sql, (limit,)).fetchall()))

    def change_marker(self) -> object:
        # data_version moves with every commit by another connection; total_changes with
        # this connection's own.
        sql = self._q["data_version"]
        version = self._read(lambda c: c.execute(sql).fetchone()[0])
        return version, self._conn.total_changes

    # --- dead letter queue --------------------------------------------------------------

    def revive(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        q = self._q

        outcome = on_revive(now)
        moved = (str(outcome.state), outcome.next_run_at, now)

        def run(conn: sqlite3.Connection) -> list[str]:
            if job_ids is None:
                return [r[0] for r in conn.execute(q["revive_all"], moved).fetchall()]
            for job_id in job_ids:
                row = conn.execute(q["job_state"], (job_id,)).fetchone()
                if row is None:
                    raise NotFound(f"no job with id {job_id!r}; nothing was retried")
                if State(row[0]) not in DLQ:
                    raise Conflict(
                        f"job {job_id!r} is {row[0]}, not in the DLQ; nothing was retried"
                    )
            for job_id in job_ids:
                conn.execute(q["revive"], (*moved, job_id))
            return list(job_ids)

        revived = self._write(run)
        if revived:
            self._wake_local()
        return revived

    def revive_some(self, job_ids: Sequence[str], now: float) -> list[str]:
        outcome = on_revive(now)
        args = (str(outcome.state), outcome.next_run_at, now, json.dumps(list(job_ids)))
        rows = self._write(lambda c: c.execute(self._q["revive_some"], args).fetchall())
        if rows:
            self._wake_local()
        return [r[0] for r in rows]

    def purge_dead(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            conn.execute(self._q["purge_dead_attempts"])
            return conn.execute(self._q["purge_dead"]).rowcount

        return self._write(run)

    # --- config -------------------------------------------------------------------------

    def config_items(self) -> dict[str, str]:
        rows = self._read(lambda c: c.execute(self._q["config_items"]).fetchall())
        return {k: v for k, v in rows}

    def config_set(self, key: str, value: str) -> None:
        self._write(lambda c: c.execute(self._q["config_set"], (key, value)))

    def config_unset(self, key: str) -> bool:
        return bool(self._write(lambda c: c.execute(self._q["config_unset"], (key,)).rowcount))

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
        self._write(lambda c: c.execute(self._q["register_worker"], args))

    def unregister_worker(self, worker_id: str) -> None:
        self._write(lambda c: c.execute(self._q["unregister_worker"], (worker_id,)))

    def heartbeat(
        self, worker_id: str, job: Job | None, now: float, lease_until: float, jobs_done: int
    ) -> tuple[int | None, bool]:
        q = self._q
        asked_at = time.monotonic()

        def run(conn: sqlite3.Connection) -> tuple[int | None, bool]:
            row = conn.execute(q["heartbeat_worker"], (now, jobs_done, worker_id)).fetchall()
            holds = True
            if job is not None:
                lease = lease_at_write(lease_until, asked_at)
                cur = conn.execute(q["extend_lease"], (lease, job.id, worker_id, job.runs))
                holds = cur.rowcount == 1
            return (int(row[0][0]) if row else None), holds

        return self._write(run)

    def list_workers(self) -> list[WorkerInfo]:
        rows = self._read(lambda c: c.execute(self._q["list_workers"]).fetchall())
        return [worker_from_row(r) for r in rows]

    def request_stop(self, worker_ids: Sequence[str], level: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(self._q["request_stop"], [(level, w) for w in worker_ids])

        self._write(run)

    def forget_workers(self, worker_ids: Sequence[str]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(self._q["forget_worker"], [(w,) for w in worker_ids])

        self._write(run)

    def mark_stop(self, at: float) -> None:
        self._write(lambda c: c.execute(self._q["mark_stop"], (at,)))

    def stop_mark(self) -> float | None:
        row = self._read(lambda c: c.execute(self._q["stop_mark"]).fetchone())
        return None if row is None else float(row[0])

    # --- execution ----------------------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, now: float, lease_until: float
    ) -> Job | None:
        asked_at = time.monotonic()
        return self._write(
            lambda conn: self._claim(
                conn, worker_id, queues, now, lease_at_write(lease_until, asked_at)
            )
        )

    def _claim(
        self,
        conn: sqlite3.Connection,
        worker_id: str,
        queues: Sequence[str] | None,
        now: float,
        lease_until: float,
    ) -> Job | None:
        q = self._q
        if queues is None:
            rows = conn.execute(q["claim"], (worker_id, now, lease_until)).fetchall()
        else:
            best: tuple[int, float, int] | None = None
            for name in queues:
                cand = conn.execute(q["claim_candidate_queue"], (name, now)).fetchone()
                if cand is not None:
                    key = (-cand[1], cand[2], cand[0])
                    if best is None or key < best:
                        best = key
            if best is None:
                return None
            rows = conn.execute(q["claim_seq"], (worker_id, now, lease_until, best[2])).fetchall()
        if not rows:
            return None
        job = job_from_row(rows[0])
        conn.execute(q["start_attempt"], (job.id, job.runs, worker_id, now))
        return job

    def save_output(self, job: Job, result_so_far: AttemptResult) -> bool:
        r = result_so_far
        args = (r.stdout, r.stderr, r.stdout_total, r.stderr_total, job.id, job.runs)
        return bool(self._write(lambda c: c.execute(self._q["save_output"], args).rowcount))

    def finish(self, job: Job, result: AttemptResult, outcome: Outcome) -> bool:
        done = self._write(lambda conn: self._finish(conn, job, result, outcome))
        self._wake_if_retrying(done, outcome)
        return done

    def _wake_if_retrying(self, done: bool, outcome: Outcome) -> None:
        # Idle workers sleep until the earliest due time they last read; a retry scheduled
        # since may be earlier, so they should read it again.
        if done and outcome.state in CLAIMABLE:
            self._wake_local()

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
        asked_at = time.monotonic()

        def run(conn: sqlite3.Connection) -> tuple[bool, Job | None]:
            done = self._finish(conn, job, result, outcome)
            lease = lease_at_write(lease_until, asked_at)
            return done, self._claim(conn, worker_id, queues, now, lease)

        done, claimed = self._write(run)
        self._wake_if_retrying(done, outcome)
        return done, claimed

    def recover(self, job: Job, result: AttemptResult, outcome: Outcome) -> bool:
        done = self._write(lambda conn: self._finish(conn, job, result, outcome, recovery=True))
        self._wake_if_retrying(done, outcome)
        return done

    def _finish(
        self,
        conn: sqlite3.Connection,
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
            return False  # fenced off: the lease was lost and the job moved on
        conn.execute(q["finish_attempt"], attempt_end_values(job, r))
        return True

    def release(self, job: Job, now: float, interrupted: AttemptResult | None = None) -> bool:
        q = self._q
        outcome = on_forced_stop(job, now)
        fence = (str(outcome.state), outcome.next_run_at, now, job.id, job.worker_id, job.runs)

        def run(conn: sqlite3.Connection) -> bool:
            if interrupted is None:
                if conn.execute(q["release_job"], fence).rowcount != 1:
                    return False
                conn.execute(q["drop_attempt"], (job.id, job.runs))
                return True
            if conn.execute(q["keep_job"], fence).rowcount != 1:
                return False
            conn.execute(q["interrupt_attempt"], attempt_end_values(job, interrupted))
            return True

        released = self._write(run)
        if released:
            self._wake_local()
        return released

    def expired(self, now: float, limit: int = 100) -> list[Job]:
        rows = self._read(lambda c: c.execute(self._q["expired"], (now, limit)).fetchall())
        return [job_from_row(r) for r in rows]

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        if queues is None:
            row = self._read(lambda c: c.execute(self._q["next_due"]).fetchone())
            return row[0] if row else None
        sql = self._q["next_due_queue"]

        def run(conn: sqlite3.Connection) -> float | None:
            found = [conn.execute(sql, (name,)).fetchone()[0] for name in queues]
            due = [f for f in found if f is not None]
            return min(due) if due else None

        return self._read(run)

    def open_waker(self, worker_id: str) -> DatagramWaker:
        return DatagramWaker(worker_id)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit mid-transaction)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        statements.append(current.strip())
    return statements
