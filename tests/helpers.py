"""Shared test helpers: the real `queuectl` executable, workers, and deadline waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")

QUEUECTL = str(Path(sys.executable).with_name("queuectl"))


def wait_for(
    predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class Result(NamedTuple):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs the installed `queuectl` against one store."""

    def __init__(self, db: str, cwd: Path, env: dict[str, str]) -> None:
        self.db = db
        self.cwd = cwd
        self.env = env

    @classmethod
    def fresh(cls, db: str, tmp_path: Path) -> Cli:
        """A CLI on ``db``, run from a new work folder, with no QUEUECTL_* setting (nor the
        terminal size of whoever runs the tests) leaking in."""
        work = tmp_path / "work"
        work.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("QUEUECTL_") and k not in ("COLUMNS", "LINES")
        }
        return cls(db, work, env)

    def run(
        self, *args: str, input: str | None = None, timeout: float = 60, db: bool = True
    ) -> Result:
        env = dict(self.env)
        if db:
            env["QUEUECTL_DB"] = self.db
        proc = subprocess.run(
            [QUEUECTL, *args],
            input=input,
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=env,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.code == 0, f"queuectl {' '.join(args)} failed: {result}"
        assert "Traceback" not in result.err
        return result

    def json(self, *args: str) -> Any:
        return self.ok(*args, "--json").json()

    def job(self, job_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.json("show", job_id)
        return doc

    def state(self, job_id: str) -> str:
        return str(self.job(job_id)["state"])

    def counts(self) -> dict[str, int]:
        doc: dict[str, int] = self.json("status")["jobs"]
        return doc

    def workers(self, *args: str) -> Workers:
        return Workers(self, *args)

    def terminal(
        self, *args: str, columns: int = 80, env: dict[str, str] | None = None
    ) -> Terminal:
        """``queuectl ARGS`` on a pseudo-terminal ``columns`` wide (stdin, stdout, stderr)."""
        full_env = dict(self.env, QUEUECTL_DB=self.db, **(env or {}))
        full_env.pop("COLUMNS", None)
        return Terminal([QUEUECTL, *args], full_env, self.cwd, columns)


class Terminal:
    """A process whose stdin, stdout and stderr are one pseudo-terminal, read in the
    background (so a large output never blocks the writer). Use as a context manager: the
    process group is killed on the way out."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, columns: int) -> None:
        import fcntl
        import struct
        import termios
        import threading

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        self._master = master
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self.first_output_at: float | None = None
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not data:
                return
            with self._lock:
                if self.first_output_at is None:
                    self.first_output_at = time.monotonic()
                self._chunks.append(data)

    @property
    def output(self) -> str:
        with self._lock:
            data = b"".join(self._chunks)
        return data.decode(errors="replace").replace("\r\n", "\n")

    def wait_for_text(self, text: str, timeout: float = 15) -> None:
        wait_for(lambda: text in self.output, timeout, what=f"{text!r} on the terminal")

    def signal(self, signum: int) -> None:
        """As the terminal does for Ctrl+C: to the whole foreground process group."""
        os.killpg(self.proc.pid, signum)

    def wait(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)
        self._reader.join(5)
        os.close(self._master)


def enqueue_long_first_run(cli: Cli, job_id: str) -> Path:
    """Enqueue a job whose first run writes its pid to the returned file and sleeps a
    minute; any later run prints "recovered" and succeeds at once."""
    marker = cli.cwd / f"{job_id}.ran"
    pidfile = cli.cwd / f"{job_id}.pid"
    cli.ok(
        "enqueue",
        f"if [ -f {marker} ]; then echo recovered; exit 0; fi; touch {marker}; "
        f"echo $$ > {pidfile}; sleep 60",
        "--id",
        job_id,
    )
    return pidfile


class Workers:
    """A `queuectl worker start` supervisor run as a real background process."""

    def __init__(
        self,
        cli: Cli,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        argv: list[str] | None = None,
    ) -> None:
        """``argv`` replaces ``queuectl worker start`` (e.g. a Python script that runs it)."""
        self.cli = cli
        self.log_path = cli.cwd / f"worker-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        full_env = dict(cli.env)
        full_env["QUEUECTL_DB"] = cli.db
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [*(argv or [QUEUECTL, "worker", "start"]), *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd or cli.cwd,
            env=full_env,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, count: int = 1, timeout: float = 15) -> None:
        wait_for(
            lambda: self.log().count("action=worker_started") >= count,
            timeout,
            what=f"{count} workers to start",
        )

    def worker_pids(self) -> list[int]:
        pids = []
        for line in self.log().splitlines():
            if "action=worker_started" in line:
                pids.append(int(line.split("worker=")[1].split()[0]))
        return pids

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        stop_group(self.proc)
        self._log.close()


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    """SIGTERM, then (after ``timeout``) SIGKILL to the process group of a process that a
    test started with ``start_new_session=True``, so that nothing it started lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.wait(5)


TABLES = ("jobs", "attempts", "workers", "config", "stop_marks", "queuectl_migrations")


@contextmanager
def store_locked(url: str) -> Iterator[None]:
    """Hold the store's write lock (SQLite) or an exclusive lock on its jobs table
    (PostgreSQL, as an administrator's VACUUM FULL or ALTER TABLE would) until the block
    ends: writes wait; on PostgreSQL, reads of the jobs table too."""
    if url.startswith("postgresql://"):
        import psycopg
        from psycopg import sql

        from queuectl.store.urls import parse_url

        target = parse_url(url)
        with psycopg.connect(target.conninfo) as conn:  # one transaction, to the end
            jobs = sql.Identifier(target.schema, "jobs")
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(jobs))
            yield
            conn.rollback()
        return
    import sqlite3

    conn = sqlite3.connect(url, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def dump_store(url: str) -> list[str]:
    """Every row of every queuectl table, read without writing anything."""
    if url.startswith("postgresql://"):
        import psycopg
        from psycopg import sql

        from queuectl.store.urls import parse_url

        target = parse_url(url)
        rows: list[str] = []
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            for table in TABLES:
                name = sql.Identifier(target.schema, table)
                query = sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(name)
                rows.extend(f"{table}: {r!r}" for r in conn.execute(query).fetchall())
        return rows
    import sqlite3

    conn = sqlite3.connect(f"file:{url}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def proc_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (None when the process is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return None
    return stat[stat.rfind(b")") + 2 :][:1].decode()


def alive(pid: int) -> bool:
    state = proc_state(pid)
    return state is not None and state != "Z"


def detached_pid(out: str) -> int:
    """The supervisor pid that `worker start --detach` reports (in words or as JSON)."""
    if out.lstrip().startswith("{"):
        return int(json.loads(out)["pid"])
    return int(out.split("supervisor pid ")[1].split(")")[0])


def stop_supervisor(pid: int, timeout: float = 20) -> None:
    """Stop a supervisor the test started outside its own process tree (`--detach`, or
    `worker start &` in a shell): SIGTERM, then SIGKILL; its workers follow it."""
    try:
        if b"queuectl" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return  # gone, and the pid perhaps reused
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ProcessLookupError):
        return
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def bury_next(url: str) -> str | None:
    """Claim the next ready job and record its attempt as failed for good (dead), as a worker
    would, without running anything; returns its id (None when no job was ready)."""
    from queuectl.lifecycle import State
    from queuectl.models import AttemptResult, Outcome
    from queuectl.store import open_store

    store = open_store(url)
    try:
        now = time.time()
        job = store.claim("w", None, now, now + 30)
        if job is None:
            return None
        failed = AttemptResult(1, "exit code 1", False, now, now)
        assert store.finish(job, failed, Outcome(State.DEAD, None))
        return job.id
    finally:
        store.close()
