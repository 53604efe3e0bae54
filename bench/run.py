"""`make bench`: what queuectl costs on top of the work it runs, measured side by side.

Every figure is taken in the same run as its baseline, repeated (the median is reported),
printed as a table and written to ``bench/results/<time>-<store>.json``:

1. throughput: N jobs running ``true`` on 2 workers, from all enqueued to all completed,
   beside the same N ``sh -c true`` spawned by ``xargs -P2`` with no queue at all;
2. enqueue: 100,000 jobs through one ``enqueue --file`` (JSON Lines), and one
   ``queuectl enqueue true`` beside ``python -c pass`` (the same interpreter);
3. pickup latency: 2 idle workers; from an enqueue returning to the command starting;
4. scale: status, ``list --state pending --limit 50`` and throughput with 1,000,000 jobs
   in the store (900,000 completed with their history, 100,000 pending), beside the same
   on an empty store;
5. memory: peak RSS of the supervisor and workers, and its growth over 20,000 jobs;
6. peers (bench/peers.py): Huey, Procrastinate and RQ on the same workload;
7. web: ``queuectl web`` on a store of 1,000,000 jobs (50,000 of them dead, in four error
   groups): p50/p95 of every page and the filtered lists, the server's peak RSS, and a bulk
   retry of the 50,000 dead jobs through the API while 2 workers claim, with the longest
   write transaction seen meanwhile.

Run ``python bench/run.py --help`` for the options (store, sizes, sections, repeats).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
QUEUECTL = str(Path(sys.executable).with_name("queuectl"))
PG_BASE = os.environ.get("QUEUECTL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

sys.path.insert(0, str(HERE.parent / "src"))
from queuectl import Queue  # noqa: E402


def median(values: list[float]) -> float:
    return statistics.median(values)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- stores -------------------------------------------------------------------------------


@contextmanager
def fresh_store(kind: str) -> Iterator[str]:
    """A new, empty store URL: a temp SQLite file or a PostgreSQL schema of its own."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="queuectl-bench-")
        try:
            yield os.path.join(folder, "bench.db")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    schema = f"bench_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    sep = "&" if "?" in PG_BASE else "?"
    try:
        yield f"{PG_BASE}{sep}schema={schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env["QUEUECTL_DB"] = url
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure the CLI as installed: with bytecode
    return env


def completed(q: Queue) -> int:
    from queuectl.lifecycle import State

    return q.counts()[State.COMPLETED]


class Peek:
    """Cheap read-only questions straight to the store's tables.

    The benchmark must not load the machine it measures: ``counts()`` is a GROUP BY over
    every job (fine for `status`, too heavy to poll every few milliseconds on a million
    rows), so progress is polled with one narrow indexed count, and the exact end of a run
    is read afterwards from the attempts' own ``finished_at``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("postgresql://"):
            import psycopg

            from queuectl.store.urls import parse_url

            target = parse_url(url)
            self._pg = psycopg.connect(target.conninfo, autocommit=True)
            self._pg.execute(f'SET search_path TO "{target.schema}"')
            self._param = "%s"
        else:
            self._lite = sqlite3.connect(f"file:{url}?mode=ro", uri=True)
            self._param = "?"

    def _one(self, sql: str, *args: Any) -> Any:
        sql = sql.replace("?", self._param)
        if hasattr(self, "_pg"):
            return self._pg.execute(sql, args).fetchone()[0]
        return self._lite.execute(sql, args).fetchone()[0]

    def unfinished(self) -> int:
        return int(self._one("SELECT count(*) FROM jobs WHERE state IN ('pending', 'processing')"))

    def nth_finish_since(self, since: float, n: int) -> float:
        return float(
            self._one(
                "SELECT finished_at FROM attempts WHERE started_at >= ?"
                " ORDER BY finished_at LIMIT 1 OFFSET ?",
                since,
                n - 1,
            )
        )

    def close(self) -> None:
        if hasattr(self, "_pg"):
            self._pg.close()
        else:
            self._lite.close()


@contextmanager
def workers(url: str, count: int = 2, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [QUEUECTL, "worker", "start", "--count", str(count), "--quiet", *extra],
        env=env_for(url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL to its process group if it has not stopped within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting for the queue")
        time.sleep(poll)


def wait_workers(q: Queue, count: int, timeout: float = 30) -> None:
    wait_until(lambda: len(q.workers()) >= count, timeout, poll=0.02)


# --- 1. throughput ------------------------------------------------------------------------


def spawn_baseline(jobs: int) -> float:
    """jobs/s of ``xargs -P2`` running ``sh -c true``: what the machine can spawn."""
    start = time.perf_counter()
    subprocess.run(
        ["xargs", "-P2", "-n1", "sh", "-c"],
        input="true\n" * jobs,
        text=True,
        check=True,
    )
    return jobs / (time.perf_counter() - start)


def queue_throughput(url: str, jobs: int, backlog: bool = False) -> float:
    """jobs/s over ``jobs`` completions by 2 workers, worker start-up included.

    Without ``backlog`` the store gets exactly ``jobs`` jobs first; with it, the store already
    holds a larger backlog and the run measures its first ``jobs`` completions.
    """
    if not backlog:
        with Queue(url) as q:
            q.enqueue_many([{"command": "true"} for _ in range(jobs)])
    peek = Peek(url)
    try:
        target = peek.unfinished() - jobs
        started = time.time()
        with workers(url):
            # Only decides when to stop; the end time is read exactly from the store below.
            wait_until(lambda: peek.unfinished() <= target, timeout=600, poll=0.25)
        return jobs / (peek.nth_finish_since(started, jobs) - started)
    finally:
        peek.close()


def bench_throughput(kind: str, jobs: int, repeat: int) -> dict[str, Any]:
    ours, base = [], []
    for _ in range(repeat):
        base.append(spawn_baseline(jobs))
        with fresh_store(kind) as url:
            ours.append(queue_throughput(url, jobs))
    q, b = median(ours), median(base)
    return {
        "jobs": jobs,
        "queuectl_jobs_per_s": round(q, 1),
        "baseline_jobs_per_s": round(b, 1),
        "ratio": round(q / b, 3),
        "runs": {"queuectl": [round(x, 1) for x in ours], "baseline": [round(x, 1) for x in base]},
    }


# --- 2. enqueue ---------------------------------------------------------------------------


def timed(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_enqueue(kind: str, bulk: int, repeat: int) -> dict[str, Any]:
    lines = "\n".join(json.dumps({"command": "true", "priority": i % 3}) for i in range(bulk))
    rates = []
    for _ in range(repeat):
        with fresh_store(kind) as url:
            Queue(url).close()  # created beforehand: measure the enqueue, not the migration
            rates.append(bulk / timed([QUEUECTL, "enqueue", "--file", "-"], env_for(url), lines))
    singles, passes = [], []
    with fresh_store(kind) as url:
        env = env_for(url)
        Queue(url).close()
        for _ in range(max(15, repeat)):
            singles.append(timed([QUEUECTL, "enqueue", "true"], env))
            passes.append(timed([sys.executable, "-c", "pass"], env))
    one, bare = median(singles) * 1000, median(passes) * 1000
    return {
        "bulk_jobs": bulk,
        "bulk_jobs_per_s": round(median(rates)),
        "bulk_runs": [round(r) for r in rates],
        "single_enqueue_ms": round(one, 1),
        "python_pass_ms": round(bare, 1),
        "single_overhead_ms": round(one - bare, 1),
    }


# --- 3. pickup latency --------------------------------------------------------------------


def bench_latency(kind: str, samples: int) -> dict[str, Any]:
    """From ``Queue.enqueue`` returning to the command's first instruction (``date``)."""
    folder = Path(tempfile.mkdtemp(prefix="queuectl-lat-"))
    # The command's own start-up (sh, then date) is part of what we time; measure it alone
    # so that the queue's share can be told apart.
    spawn = []
    for _ in range(20):
        t = time.time()
        out = subprocess.run(["sh", "-c", "date +%s.%N"], capture_output=True, text=True)
        spawn.append(float(out.stdout) - t)
    latencies = []
    try:
        with fresh_store(kind) as url, Queue(url) as q, workers(url):
            wait_workers(q, 2)
            time.sleep(0.5)  # both workers settle into their idle wait
            for i in range(samples):
                mark = folder / f"{i}.t"
                q.enqueue(f"date +%s.%N > {mark}")
                returned = time.time()
                wait_until(lambda m=mark: m.exists() and m.stat().st_size > 0, timeout=30)  # type: ignore[misc]
                latencies.append(float(mark.read_text()) - returned)
                time.sleep(0.02)  # idle again before the next one
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ms = [x * 1000 for x in latencies]
    return {
        "samples": samples,
        "p50_ms": round(pct(ms, 0.5), 2),
        "p95_ms": round(pct(ms, 0.95), 2),
        "max_ms": round(max(ms), 2),
        "command_startup_p50_ms": round(pct([x * 1000 for x in spawn], 0.5), 2),
    }


# --- 4. scale -----------------------------------------------------------------------------


def fill_sqlite(path: str, total: int, pending: int) -> None:
    """``total`` jobs: the newest ``pending`` ready to run, the rest completed with history."""
    Queue(path).close()
    done = total - pending
    now = time.time()
    if done <= 0:
        with Queue(path) as q:
            q.enqueue_many([{"command": "true"} for _ in range(pending)])
        return
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO jobs (id, command, queue, state, priority, attempts, runs, max_retries,
                              backoff_base, run_at, next_run_at, created_at, updated_at,
                              exit_code, cwd)
            SELECT 'old-' || i, 'true', 'default', 'completed', 0, 1, 1, 3, 2.0,
                   ?2 - 86400 + i * 0.01, NULL, ?2 - 86400 + i * 0.01, ?2 - 86400 + i * 0.01,
                   0, '/tmp'
            FROM n
            """,
            (done, now),
        )
        conn.execute(
            """
            INSERT INTO attempts (job_id, attempt, worker_id, started_at, finished_at, exit_code)
            SELECT id, 1, 'bench', created_at, created_at + 0.002, 0 FROM jobs
            """
        )
    conn.close()
    with Queue(path) as q:
        for start in range(0, pending, 50_000):
            q.enqueue_many([{"command": "true"} for _ in range(min(50_000, pending - start))])


def fill_postgres(url: str, total: int, pending: int) -> None:
    import psycopg

    from queuectl.store.urls import parse_url

    Queue(url).close()
    target = parse_url(url)
    done = total - pending
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{target.schema}"')
        conn.execute(
            """
            INSERT INTO jobs (id, command, queue, state, priority, attempts, runs, max_retries,
                              backoff_base, run_at, next_run_at, created_at, updated_at,
                              exit_code, cwd)
            SELECT 'old-' || i, 'true', 'default', 'completed', 0, 1, 1, 3, 2.0,
                   %(now)s - 86400 + i * 0.01, NULL, %(now)s - 86400 + i * 0.01,
                   %(now)s - 86400 + i * 0.01, 0, '/tmp'
            FROM generate_series(1, %(done)s) AS i
            """,
            {"done": done, "now": time.time()},
        )
        conn.execute(
            """
            INSERT INTO attempts (job_id, attempt, worker_id, started_at, finished_at, exit_code)
            SELECT id, 1, 'bench', created_at, created_at + 0.002, 0 FROM jobs
            """
        )
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("VACUUM ANALYZE attempts")
    with Queue(url) as q:
        for start in range(0, pending, 50_000):
            q.enqueue_many([{"command": "true"} for _ in range(min(50_000, pending - start))])


def cli_ms(url: str, *args: str, repeat: int = 7) -> float:
    env = env_for(url)
    return median([timed([QUEUECTL, *args], env) for _ in range(repeat)]) * 1000


def scale_point(url: str, jobs: int) -> dict[str, float]:
    return {
        "status_ms": round(cli_ms(url, "status"), 1),
        "status_json_ms": round(cli_ms(url, "status", "--json"), 1),
        "list_pending_50_ms": round(cli_ms(url, "list", "--state", "pending", "--limit", "50"), 1),
        "throughput_jobs_per_s": round(queue_throughput(url, jobs, backlog=True), 1),
    }


def bench_scale(kind: str, total: int, pending: int, jobs: int) -> dict[str, Any]:
    fill = fill_sqlite if kind == "sqlite" else fill_postgres
    with fresh_store(kind) as url:
        fill(url, jobs * 2, jobs * 2)  # the empty-store point: a small backlog, same run
        empty = scale_point(url, jobs)
    with fresh_store(kind) as url:
        started = time.perf_counter()
        fill(url, total, pending)
        filled_in = time.perf_counter() - started
        big = scale_point(url, jobs)
        size = os.path.getsize(url) if kind == "sqlite" else None
    return {
        "total_jobs": total,
        "pending": pending,
        "fill_seconds": round(filled_in, 1),
        "store_bytes": size,
        "empty": empty,
        "full": big,
        "throughput_ratio": round(big["throughput_jobs_per_s"] / empty["throughput_jobs_per_s"], 3),
    }


# --- 5. memory ----------------------------------------------------------------------------


def rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            if int(fields[1]) == pid and b"queuectl" in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
    return found


def bench_memory(kind: str, jobs: int) -> dict[str, Any]:
    warmup = 500
    with fresh_store(kind) as url, Queue(url) as q:
        q.enqueue_many([{"command": "echo some output; echo more >&2"} for _ in range(jobs)])
        with workers(url) as sup:
            wait_until(lambda: completed(q) >= warmup, timeout=120)
            pids = children(sup.pid)
            before = {p: rss_kb(p)[0] for p in pids}
            wait_until(lambda: completed(q) >= jobs, timeout=600)
            after = {p: rss_kb(p) for p in pids}
            supervisor = rss_kb(sup.pid)
    growth = {str(p): round((after[p][0] - before[p]) / 1024, 2) for p in pids}
    return {
        "jobs": jobs,
        "supervisor_peak_mb": round(supervisor[1] / 1024, 1),
        "worker_peak_mb": {str(p): round(after[p][1] / 1024, 1) for p in pids},
        "worker_growth_mb": growth,
        "max_worker_growth_mb": max(growth.values()),
    }


# --- 6. peers -----------------------------------------------------------------------------


def bench_peers(jobs: int, repeat: int, kind: str) -> dict[str, Any]:
    try:
        sys.path.insert(0, str(HERE))
        import peers  # type: ignore[import-not-found]
    except ImportError as exc:
        return {"skipped": f"bench/peers.py unavailable: {exc}"}
    report: dict[str, Any] = {}
    for name in peers.PEERS:
        runs = [peers.run_peer(name, jobs=jobs, workers=2) for _ in range(repeat)]
        rates = [r["jobs_per_s"] for r in runs if r.get("jobs_per_s")]
        first = runs[0]
        report[name] = {
            "store": first.get("store"),
            "jobs_per_s": round(median(rates), 1) if rates else None,
            "runs": rates,
            "skipped": first.get("skipped"),
            "note": first.get("note"),
        }
    return report


# --- 7. web -------------------------------------------------------------------------------

WEB_ERRORS = ["exit code 1", "exit code 2", "timed out after 30s", "worker lost"]


def make_dead(url: str, dead: int) -> None:
    """The oldest ``dead`` completed jobs become dead, spread over four errors."""
    sql = (
        "UPDATE jobs SET state = 'dead', exit_code = 1, last_error = CASE seq - seq / 4 * 4"
        + "".join(f" WHEN {i} THEN '{e}'" for i, e in enumerate(WEB_ERRORS))
        + " END WHERE state = 'completed' AND seq <= ?"
    )
    if url.startswith("postgresql://"):
        import psycopg

        from queuectl.store.urls import parse_url

        target = parse_url(url)
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{target.schema}"')
            conn.execute(sql.replace("?", "%s"), (dead,))
            conn.execute("VACUUM ANALYZE jobs")
    else:
        conn = sqlite3.connect(url)
        with conn:
            conn.execute(sql, (dead,))
        conn.close()


@contextmanager
def web_server(url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    err = tempfile.NamedTemporaryFile(prefix="queuectl-web-", suffix=".log")  # noqa: SIM115
    proc = subprocess.Popen(
        [QUEUECTL, "web", "--host", "127.0.0.1", "--port", "0"],
        env=env_for(url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=err,
        start_new_session=True,
    )
    try:
        found: list[str] = []

        def started() -> bool:
            text = Path(err.name).read_text()
            found[:] = re.findall(r"http://127\.0\.0\.1:\d+", text)
            return bool(found) or proc.poll() is not None

        wait_until(started, timeout=60, poll=0.05)
        if not found:
            raise SystemExit(f"bench: queuectl web did not start: {Path(err.name).read_text()}")
        yield proc, found[0]
    finally:
        stop(proc)
        err.close()


def fetch_ms(base: str, path: str, method: str = "GET", body: bytes | None = None) -> float:
    import urllib.request

    request = urllib.request.Request(base + path, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()
        if response.status != 200:
            raise SystemExit(f"bench: {path} answered {response.status}")
    return (time.perf_counter() - started) * 1000


def web_paths(url: str) -> list[str]:
    peek = Peek(url)
    try:
        middle = int(peek._one("SELECT max(seq) FROM jobs")) // 2
        some_id = peek._one("SELECT id FROM jobs WHERE seq = ?", middle)
    finally:
        peek.close()
    return [
        "/",
        "/?_part=overview",
        "/jobs",
        "/jobs?state=pending",
        "/jobs?state=dead",
        "/jobs?state=completed",
        "/jobs?queue=default",
        f"/jobs?cursor={middle}",
        f"/jobs?q={some_id}",
        "/jobs?q=no-such-text",
        f"/jobs/{some_id}",
        "/dlq",
        "/dlq?error=worker%20lost",
        "/workers",
        "/config",
        "/api/v1/status",
        "/api/v1/jobs?state=dead&limit=100",
    ]


class WriteProbe:
    """The longest write transaction of anyone else while it runs: on SQLite, the longest
    wait to take the writer lock; on PostgreSQL, the oldest open transaction of a queuectl
    connection, sampled every 10 ms (0 means none lasted that long)."""

    def __init__(self, url: str) -> None:
        import threading

        self.url = url
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WriteProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        if self.url.startswith("postgresql://"):
            import psycopg

            from queuectl.store.urls import parse_url

            with psycopg.connect(parse_url(self.url).conninfo, autocommit=True) as conn:
                while not self._stop.wait(0.01):
                    row = conn.execute(
                        "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)),"
                        " 0) FROM pg_stat_activity WHERE application_name = 'queuectl'"
                        " AND state <> 'idle' AND pid <> pg_backend_pid()"
                    ).fetchone()
                    self.longest = max(self.longest, float(row[0]) if row else 0.0)
            return
        conn = sqlite3.connect(self.url, timeout=60, isolation_level=None)
        try:
            while not self._stop.wait(0.005):
                started = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                self.longest = max(self.longest, time.perf_counter() - started)
        finally:
            conn.close()


def bench_web(kind: str, total: int, dead: int, requests: int) -> dict[str, Any]:
    fill = fill_sqlite if kind == "sqlite" else fill_postgres
    with fresh_store(kind) as url:
        pending = min(100_000, total // 10)
        fill(url, total, pending)
        make_dead(url, dead)
        with web_server(url) as (proc, base):
            pages: dict[str, dict[str, float]] = {}
            for path in web_paths(url):
                for _ in range(2):
                    fetch_ms(base, path)  # warm: plans, caches, the first connection
                times = [fetch_ms(base, path) for _ in range(requests)]
                pages[path] = {
                    "p50_ms": round(pct(times, 0.5), 1),
                    "p95_ms": round(pct(times, 0.95), 1),
                }
            rss = rss_kb(proc.pid)
            peek = Peek(url)
            try:
                body = json.dumps({"filter": {"state": "dead"}}).encode()
                with workers(url):
                    wait_until(lambda: peek.unfinished() < pending, timeout=120, poll=0.05)
                    with WriteProbe(url) as probe:
                        started = time.time()
                        bulk_ms = fetch_ms(base, "/api/v1/bulk/retry", "POST", body)
                        ended = time.time()
                claimed = int(
                    peek._one(
                        "SELECT count(*) FROM attempts WHERE started_at BETWEEN ? AND ?",
                        started,
                        ended,
                    )
                )
                dead_left = int(peek._one("SELECT count(*) FROM jobs WHERE state = 'dead'"))
            finally:
                peek.close()
    worst = max(pages.values(), key=lambda p: p["p95_ms"])
    return {
        "total_jobs": total,
        "dead_jobs": dead,
        "requests_per_page": requests,
        "pages": pages,
        "worst_p95_ms": worst["p95_ms"],
        "rss_mb": round(rss[0] / 1024, 1),
        "peak_rss_mb": round(rss[1] / 1024, 1),
        "bulk_retry": {
            "jobs": dead,
            "seconds": round(bulk_ms / 1000, 2),
            "longest_write_transaction_ms": round(probe.longest * 1000, 1),
            "claims_meanwhile": claimed,
            "dead_left": dead_left,
        },
    }


# --- the report ---------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    kind = results["store"]
    t = results.get("throughput")
    if t:
        target = 0.8 if kind == "sqlite" else 0.6
        rows.append(
            (
                f"throughput, {t['jobs']} x true, 2 workers",
                f"{t['queuectl_jobs_per_s']:.0f} jobs/s"
                f" vs xargs -P2 {t['baseline_jobs_per_s']:.0f}",
                f"ratio {t['ratio']:.2f} (target >= {target})",
            )
        )
    e = results.get("enqueue")
    if e:
        rows.append(
            (f"enqueue --file, {e['bulk_jobs']} jobs", f"{e['bulk_jobs_per_s']} jobs/s", ">= 50000")
        )
        rows.append(
            (
                "one `queuectl enqueue true`",
                f"{e['single_enqueue_ms']} ms vs python -c pass {e['python_pass_ms']} ms",
                f"+{e['single_overhead_ms']} ms (target <= 60)",
            )
        )
    lat = results.get("latency")
    if lat:
        rows.append(
            (
                f"pickup latency, {lat['samples']} jobs",
                f"p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms",
                f"(sh+date alone: {lat['command_startup_p50_ms']} ms)",
            )
        )
    s = results.get("scale")
    if s:
        for label, point in (("empty", s["empty"]), (f"{s['total_jobs']:,} jobs", s["full"])):
            rows.append(
                (
                    f"scale: {label}",
                    f"status {point['status_ms']} ms, list {point['list_pending_50_ms']} ms",
                    f"{point['throughput_jobs_per_s']:.0f} jobs/s",
                )
            )
        rows.append(("scale: throughput full/empty", f"{s['throughput_ratio']:.2f}", ">= 0.8"))
    m = results.get("memory")
    if m:
        rows.append(
            (
                f"memory over {m['jobs']} jobs",
                f"supervisor {m['supervisor_peak_mb']} MB, workers "
                + ", ".join(f"{v} MB" for v in m["worker_peak_mb"].values()),
                f"growth <= {m['max_worker_growth_mb']} MB (target < 5)",
            )
        )
    p = results.get("peers")
    if p:
        for name, peer in p.items():
            if not isinstance(peer, dict):
                continue
            value = (
                f"{peer['jobs_per_s']:.0f} jobs/s ({peer['store']})"
                if peer.get("jobs_per_s")
                else f"skipped: {peer.get('skipped')}"
            )
            rows.append((f"peer: {name}", value, ""))
    w = results.get("web")
    if w:
        b = w["bulk_retry"]
        rows.append(
            (
                f"web, {w['total_jobs']:,} jobs: worst page p95",
                f"{w['worst_p95_ms']} ms ({len(w['pages'])} pages)",
                "target < 300 ms",
            )
        )
        rows.append(("web: peak RSS", f"{w['peak_rss_mb']} MB", "target < 150 MB"))
        rows.append(
            (
                f"web: bulk retry of {b['jobs']:,} dead",
                f"{b['seconds']} s, longest write transaction"
                f" {b['longest_write_transaction_ms']} ms",
                f"target < 1000 ms; {b['claims_meanwhile']} claims meanwhile",
            )
        )
    width = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    lines = [f"queuectl benchmark ({kind}, {results['machine']})"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    return "\n".join(lines)


SECTIONS = ("throughput", "enqueue", "latency", "scale", "memory", "peers", "web")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="skip these")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per throughput run")
    parser.add_argument("--bulk", type=int, default=100_000, help="jobs in the bulk enqueue")
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--scale-total", type=int, default=1_000_000)
    parser.add_argument("--scale-pending", type=int, default=100_000)
    parser.add_argument("--memory-jobs", type=int, default=20_000)
    parser.add_argument("--web-total", type=int, default=1_000_000, help="jobs in the web store")
    parser.add_argument("--web-dead", type=int, default=50_000, help="of them dead")
    parser.add_argument("--web-requests", type=int, default=20, help="timed requests per page")
    args = parser.parse_args()
    sections = [s for s in (args.only or SECTIONS) if s not in args.skip]
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    RESULTS.mkdir(exist_ok=True)
    for kind in kinds:
        results: dict[str, Any] = {
            "store": kind,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": f"{os.cpu_count()} cpu, {platform.python_implementation()} "
            f"{platform.python_version()}, {platform.machine()}",
            "repeat": args.repeat,
        }
        steps: dict[str, Callable[[], Any]] = {
            "throughput": lambda k=kind: bench_throughput(k, args.jobs, args.repeat),
            "enqueue": lambda k=kind: bench_enqueue(k, args.bulk, args.repeat),
            "latency": lambda k=kind: bench_latency(k, args.latency_samples),
            "scale": lambda k=kind: bench_scale(k, args.scale_total, args.scale_pending, args.jobs),
            "memory": lambda k=kind: bench_memory(k, args.memory_jobs),
            "peers": lambda k=kind: bench_peers(args.jobs, args.repeat, k),
            "web": lambda k=kind: bench_web(k, args.web_total, args.web_dead, args.web_requests),
        }
        for name in sections:
            if name == "peers" and kind != kinds[0]:
                continue  # peers cover both store kinds in one pass
            print(f"[{kind}] {name}...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            results[name] = steps[name]()
            results[name]["seconds_spent"] = round(time.perf_counter() - started, 1)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        out = RESULTS / f"{stamp}-{kind}.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(table(results))
        print(f"(written to {out.relative_to(HERE.parent)})")


if __name__ == "__main__":
    main()
