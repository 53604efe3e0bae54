"""Run one peer once and write what happened as JSON.

``python -m peer_tasks.driver PEER --jobs N --workers W --timeout S --out FILE``, started by
bench/peers.py in a session of its own, with ``bench/`` on PYTHONPATH and a fresh temporary
directory as the working directory. The steps, the same for every peer:

1. create a fresh store (a temp SQLite file, a new PostgreSQL database, a dedicated Redis db);
2. enqueue all N jobs through the peer's own API while no worker runs;
3. note the time and launch the peer's own workers (its CLI, as people run it);
4. poll the peer's store until N jobs are finished, then stop the workers gracefully;
5. verify from the peer's store that all N succeeded, and take the finish time of the last
   job from it: ``seconds`` = that finish time minus the launch time of step 3.

Each worker command leads a process group of its own (so it can be signalled with its
children) inside the driver's session (so bench/peers.py can find anything left over).
Failures are reported, never hidden: a peer that cannot run gives ``skipped`` with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
PG_URL_ENV = "QUEUECTL_BENCH_PG_URL"
REDIS_URL_ENV = "QUEUECTL_BENCH_REDIS_URL"
PROCRASTINATE_MODE_ENV = "QUEUECTL_BENCH_PROCRASTINATE_MODE"

# Only decides how soon we notice the end; the reported time comes from the peer's store.
POLL_S = 0.05
# Long enough for a worker to finish a ``true`` and deregister, short enough not to hang.
STOP_GRACE_S = 15.0
# Huey's consumer loop sleeps ``delay`` seconds only when the queue is empty; 10 ms with no
# backoff is as eager as it gets without a busy loop.
HUEY_DELAY_S = 0.01
PARENT_PID = os.getppid()


class Skip(Exception):
    """The peer cannot run here; the message says why."""


class Terminated(BaseException):
    """Told to stop, or orphaned: unwind so the workers get stopped; the message says why."""


class Orphaned(Terminated):
    """bench/peers.py is gone, so nobody will read the result or remove the directory."""


@dataclass(frozen=True)
class Outcome:
    seconds: float
    note: str


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # One unwind is enough; a second SIGTERM must not interrupt the cleanup it started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated("stopped by SIGTERM before it finished")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _require(*dists: str) -> None:
    for dist in dists:
        try:
            metadata.version(dist)
        except metadata.PackageNotFoundError:
            raise Skip(f"{dist} is not installed (pip install -e '.[bench]')") from None


class Workers:
    """The peer's worker commands, each the leader of its own process group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> None:
        with open(self.log_dir / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.procs.append((name, proc))

    def tail(self, name: str, lines: int = 6) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited early with code {proc.returncode}: {self.tail(name)}"
                )

    def stop(self, graceful: signal.Signals) -> None:
        """Ask each leader to stop, as its docs say; then kill whatever is left of each group."""
        for _, proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(graceful)
        deadline = time.monotonic() + STOP_GRACE_S
        for _, proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        # A leader that exited may still have children in its group (Huey's worker processes).
        for _, proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(done: Callable[[], int], jobs: int, workers: Workers, timeout: float) -> None:
    start = time.monotonic()
    while (count := done()) < jobs:
        workers.check_alive()
        # bench/peers.py killed outright cannot stop us; being re-parented is how we learn it.
        if os.getppid() != PARENT_PID:
            raise Orphaned("bench/peers.py went away")
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"only {count}/{jobs} jobs finished within {timeout:.0f}s")
        time.sleep(POLL_S)


def _peak_concurrency(spans: Iterable[tuple[float, float]]) -> int:
    # Ends sort before starts at the same instant: back-to-back jobs do not overlap.
    events = sorted(ev for s, e in spans for ev in ((s, 1), (e, -1)))
    peak = running = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def _timing(launched: float, spans: list[tuple[float, float]], enqueue_s: float) -> Outcome:
    first_start = min(s for s, _ in spans)
    last_end = max(e for _, e in spans)
    note = (
        f"clock from worker launch (all jobs already enqueued; enqueue took {enqueue_s:.2f}s,"
        f" not counted) to the last job's finish in the peer's store; first job started"
        f" {first_start - launched:.2f}s after launch; peak concurrency"
        f" {_peak_concurrency(spans)}"
    )
    return Outcome(seconds=last_end - launched, note=note)


def _python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


# --- Huey ----------------------------------------------------------------------------------


def drive_huey(jobs: int, workers: int, tmp: Path, timeout: float) -> Outcome:
    _require("huey")
    worker_type = "process"
    db = tmp / "huey.db"
    os.environ["PEERS_BENCH_HUEY_DB"] = str(db)
    # Imported only now: the module builds its SqliteHuey from the variable just set.
    from peer_tasks import huey_app

    huey = huey_app.huey
    begin = time.monotonic()
    handles = [huey_app.run_true() for _ in range(jobs)]
    enqueue_s = time.monotonic() - begin
    if (pending := huey.pending_count()) != jobs:
        raise RuntimeError(f"{pending} jobs in the Huey queue after enqueueing {jobs}")

    group = Workers(tmp)
    delay = str(HUEY_DELAY_S)
    argv = _python_module(
        "huey.bin.huey_consumer",
        "peer_tasks.huey_app.huey",
        f"--workers={workers}",
        f"--worker-type={worker_type}",
        f"--delay={delay}",
        f"--max-delay={delay}",
        "--backoff=1.0",
    )
    launched = time.time()
    group.start("huey-consumer", argv)
    try:
        _wait_for(huey.result_count, jobs, group, timeout)
    finally:
        group.stop(signal.SIGINT)  # Huey's graceful signal

    # get() raises TaskException for a job that failed, so this is the success check too.
    results: list[Any] = [handle.get() for handle in handles]
    missing = sum(1 for r in results if not isinstance(r, dict))
    if missing:
        raise RuntimeError(f"{missing}/{jobs} Huey jobs have no result")
    timing = _timing(launched, [(r["start"], r["end"]) for r in results], enqueue_s)
    note = (
        f"huey {_version('huey')}; SqliteHuey on a fresh temp file (Huey's defaults:"
        f" WAL, synchronous=FULL); huey_consumer --workers={workers}"
        f" --worker-type={worker_type} --delay={delay} --max-delay={delay} --backoff=1.0"
        f" (polls every {HUEY_DELAY_S * 1000:.0f} ms when idle, no backoff); all {jobs}"
        f" results present and successful; {timing.note}"
    )
    return Outcome(timing.seconds, note)


# --- Procrastinate -------------------------------------------------------------------------


def drive_procrastinate(jobs: int, workers: int, tmp: Path, timeout: float) -> Outcome:
    _require("procrastinate", "psycopg")
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    admin_url = os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        why = " ".join(str(exc).split())
        raise Skip(f"PostgreSQL not reachable at {admin_url}: {why}") from None
    # A database of our own, not a schema: Procrastinate's types, functions and triggers, and
    # its NOTIFY channels (which are per database), then cannot meet anyone else's.
    dbname = f"peers_bench_procrastinate_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        try:
            url = make_conninfo(admin_url, dbname=dbname)
            return _procrastinate_in(url, jobs, workers, tmp, timeout)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


def _procrastinate_in(url: str, jobs: int, workers: int, tmp: Path, timeout: float) -> Outcome:
    import psycopg

    os.environ["PEERS_BENCH_PROCRASTINATE_URL"] = url
    from peer_tasks import procrastinate_app

    async def prepare() -> None:
        async with procrastinate_app.app.open_async():
            await procrastinate_app.app.schema_manager.apply_schema_async()
            await procrastinate_app.run_true.batch_defer_async(*({} for _ in range(jobs)))

    with psycopg.connect(url, autocommit=True) as conn:

        def count(where: str) -> int:
            row = conn.execute(f"SELECT count(*) FROM procrastinate_jobs WHERE {where}").fetchone()
            return int(row[0]) if row else 0

        begin = time.monotonic()
        asyncio.run(prepare())
        enqueue_s = time.monotonic() - begin
        if (todo := count("status = 'todo'")) != jobs:
            raise RuntimeError(f"{todo} Procrastinate jobs to do after deferring {jobs}")

        # Two processes with one slot each by default: like queuectl's, Huey's and RQ's two
        # worker processes, each execution gets its own interpreter. Procrastinate's own
        # scaling knob (one process, --concurrency=2, sync tasks in threads) is the alternative.
        mode = os.environ.get(PROCRASTINATE_MODE_ENV, "processes")
        if mode not in ("processes", "concurrency"):
            raise Skip(f"{PROCRASTINATE_MODE_ENV} must be 'processes' or 'concurrency'")
        procs, per_proc = (workers, 1) if mode == "processes" else (1, workers)
        group = Workers(tmp)
        launched = time.time()
        for i in range(procs):
            group.start(
                f"procrastinate-worker-{i}",
                _python_module(
                    "procrastinate",
                    "--app=peer_tasks.procrastinate_app.app",
                    "worker",
                    f"--name=peers-bench-{i}",
                    f"--concurrency={per_proc}",
                    "--listen-notify",
                ),
            )
        try:
            _wait_for(lambda: count("status NOT IN ('todo', 'doing')"), jobs, group, timeout)
        finally:
            group.stop(signal.SIGTERM)  # Procrastinate's graceful signal

        if (succeeded := count("status = 'succeeded'")) != jobs:
            raise RuntimeError(f"only {succeeded}/{jobs} Procrastinate jobs succeeded")
        rows = conn.execute(
            "SELECT job_id, type::text, extract(epoch FROM at)::float8 FROM procrastinate_events"
            " WHERE type IN ('started', 'succeeded')"
        ).fetchall()
    starts = {job: at for job, kind, at in rows if kind == "started"}
    ends = {job: at for job, kind, at in rows if kind == "succeeded"}
    timing = _timing(launched, [(starts[job], ends[job]) for job in ends], enqueue_s)
    shape = (
        f"{workers} worker processes, --concurrency=1 each"
        if mode == "processes"
        else f"1 worker process, --concurrency={workers} (sync task in threads)"
    )
    note = (
        f"procrastinate {_version('procrastinate')}, psycopg {_version('psycopg')}; a fresh"
        f" PostgreSQL database with Procrastinate's schema applied, dropped afterwards;"
        f" {shape}, --listen-notify (polling interval left at its default: the jobs are"
        f" already waiting, workers fetch back to back); deferred with batch_defer; all"
        f" {jobs} jobs 'succeeded' in procrastinate_jobs; times from procrastinate_events;"
        f" {timing.note}"
    )
    return Outcome(timing.seconds, note)


# --- RQ ------------------------------------------------------------------------------------


def drive_rq(jobs: int, workers: int, tmp: Path, timeout: float) -> Outcome:
    _require("rq", "redis")
    from redis import Redis
    from redis.exceptions import RedisError

    url = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
    conn = Redis.from_url(url, socket_connect_timeout=3)
    try:
        conn.ping()
    except RedisError as exc:
        raise Skip(f"Redis not reachable at {url}: {exc}") from None
    # A db number of our own, so flushing it touches nobody else's keys.
    conn.flushdb()
    try:
        return _rq_in(conn, url, jobs, workers, tmp, timeout)
    finally:
        conn.flushdb()
        conn.close()


def _rq_in(conn: Any, url: str, jobs: int, workers: int, tmp: Path, timeout: float) -> Outcome:
    from rq import Queue
    from rq.job import Job, JobStatus

    from peer_tasks import shell

    queue = Queue("peers-bench", connection=conn)
    begin = time.monotonic()
    # result_ttl well past any run, so the finished registry still holds every job when we count.
    enqueued = queue.enqueue_many(
        [Queue.prepare_data(shell.run_true, result_ttl=3600) for _ in range(jobs)]
    )
    enqueue_s = time.monotonic() - begin
    if (queued := queue.count) != jobs:
        raise RuntimeError(f"{queued} jobs in the RQ queue after enqueueing {jobs}")

    group = Workers(tmp)
    launched = time.time()
    for i in range(workers):
        group.start(
            f"rq-worker-{i}",
            _python_module(
                "rq.cli", "worker", f"--url={url}", f"--name=peers-bench-{i}", queue.name
            ),
        )
    try:
        _wait_for(
            lambda: queue.finished_job_registry.count + queue.failed_job_registry.count,
            jobs,
            group,
            timeout,
        )
    finally:
        group.stop(signal.SIGTERM)  # RQ's warm shutdown: finish the current job, then exit

    fetched = Job.fetch_many([job.id for job in enqueued], connection=conn)
    ok = [job for job in fetched if job is not None and job.get_status() == JobStatus.FINISHED]
    if len(ok) != jobs:
        raise RuntimeError(f"only {len(ok)}/{jobs} RQ jobs finished successfully")

    def epoch(moment: datetime | None) -> float:
        if moment is None:
            raise RuntimeError("an RQ job has no start or end time")
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

    spans = [(epoch(job.started_at), epoch(job.ended_at)) for job in ok]
    timing = _timing(launched, spans, enqueue_s)
    note = (
        f"rq {_version('rq')}, redis-py {_version('redis')}; Redis at {url} (a dedicated db,"
        f" flushed before and after); {workers} x `rq worker` with the default Worker class,"
        f" which forks a work horse per job (that is how RQ is normally run); enqueued with"
        f" enqueue_many; all {jobs} jobs FINISHED; times are RQ's started_at/ended_at;"
        f" {timing.note}"
    )
    return Outcome(timing.seconds, note)


DRIVERS: dict[str, Callable[[int, int, Path, float], Outcome]] = {
    "huey": drive_huey,
    "procrastinate": drive_procrastinate,
    "rq": drive_rq,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=sorted(DRIVERS))
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True, help="for the jobs to finish")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)

    report: dict[str, object] = {"seconds": None, "skipped": None, "note": ""}
    try:
        outcome = DRIVERS[args.peer](args.jobs, args.workers, Path.cwd(), args.timeout)
        report.update(seconds=outcome.seconds, note=outcome.note)
    except Skip as exc:
        report["skipped"] = str(exc)
    except Orphaned:
        # Nobody else will remove the temp dir bench/peers.py made for us (and only that).
        here = Path.cwd()
        if here.parent == Path(tempfile.gettempdir()) and here.name.startswith("queuectl-peer-"):
            shutil.rmtree(here, ignore_errors=True)
        return 1
    except Terminated as exc:
        report["skipped"] = str(exc)
    except Exception as exc:
        traceback.print_exc()  # into the driver's log, for whoever investigates
        report["skipped"] = f"failed: {type(exc).__name__}: {' '.join(str(exc).split())}"
    args.out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
