"""The storage boundary: everything queuectl asks of a store.

Two implementations fill it, :mod:`.sqlite` and :mod:`.postgres`, and one contract test
suite runs against both. Rules every implementation keeps:

* Each method is one transaction: it fully happens or not at all.
* Job state changes are guarded by the lifecycle's table (``lifecycle.sources``) and, for a
  worker's results, fenced by ``(worker_id, runs)``: a result from a worker that lost its
  lease changes nothing and the method returns False.
* Busy or locked conditions are retried with bounded waits inside the store; what reaches
  the caller is ``StoreUnavailable``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Sequence
from typing import Any, Protocol

from ..lifecycle import State
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

#: The job columns every store selects, in this order (``job_from_row`` reads them so).
JOB_COLUMNS = (
    "id, command, state, queue, priority, attempts, runs, max_retries, backoff_base, timeout,"
    " run_at, next_run_at, created_at, updated_at, exit_code, last_error, worker_id,"
    " lease_expires_at, cwd, env"
)


def lease_at_write(lease_until: float, asked_at: float) -> float:
    """A lease that counts from when it is written rather than from when it was asked for:
    ``lease_until`` moved on by the time the call spent waiting (``asked_at`` is its
    ``time.monotonic()``). A heartbeat held up behind a lock for longer than the lease must
    not write a lease that has already run out, for another worker to recover a live job.
    (PostgreSQL adds the wait inside the transaction, which only the server sees.)"""
    return lease_until + (time.monotonic() - asked_at)


def finish_job_args(job: Job, r: AttemptResult, outcome: Outcome) -> tuple[Any, ...]:
    """The parameters of the ``finish_job`` and ``recover_job`` statements, in order (the
    latter adds the lease it found expired)."""
    return (
        str(outcome.state),
        outcome.next_run_at,
        r.exit_code,
        r.error,
        r.finished_at,
        job.id,
        job.worker_id,
        job.runs,
    )


def job_from_row(row: Sequence[Any]) -> Job:
    """A ``Job`` from a row of ``JOB_COLUMNS`` (``env`` is stored as JSON text)."""
    return Job(
        id=row[0],
        command=row[1],
        state=State(row[2]),
        queue=row[3],
        priority=row[4],
        attempts=row[5],
        runs=row[6],
        max_retries=row[7],
        backoff_base=row[8],
        timeout=row[9],
        run_at=row[10],
        next_run_at=row[11],
        created_at=row[12],
        updated_at=row[13],
        exit_code=row[14],
        last_error=row[15],
        worker_id=row[16],
        lease_expires_at=row[17],
        cwd=row[18],
        env=json.loads(row[19]) if row[19] else {},
    )


def list_statement(
    state: State | None, queue: str | None, ready_at: float | None, limit: object
) -> tuple[str, tuple[object, ...]]:
    """The named statement that lists jobs with these filters (one per combination, so that
    each has a plan that uses its index), and its parameters; ``limit`` as the dialect says
    "no limit" (SQLite -1, PostgreSQL NULL)."""
    if ready_at is not None:
        if queue is None:
            return "list_jobs_ready", (ready_at, limit)
        return "list_jobs_ready_queue", (ready_at, queue, limit)
    if state is not None and queue is not None:
        return "list_jobs_state_queue", (str(state), queue, limit)
    if state is not None:
        return "list_jobs_state", (str(state), limit)
    if queue is not None:
        return "list_jobs_queue", (queue, limit)
    return "list_jobs", (limit,)


#: Rows per fetch when jobs are streamed: small at first, so that the first line shows at once.
FIRST_CHUNK = 100
CHUNK = 2000


def attempt_from_row(r: Sequence[Any]) -> Attempt:
    """From ``attempt, worker_id, started_at, finished_at, exit_code, timed_out, error,
    interrupted``."""
    return Attempt(
        attempt=r[0],
        worker_id=r[1],
        started_at=r[2],
        finished_at=r[3],
        exit_code=r[4],
        timed_out=bool(r[5]),
        error=r[6],
        interrupted=bool(r[7]),
    )


def attempt_end_values(job: Job, r: AttemptResult) -> tuple[Any, ...]:
    """The parameters of ``finish_attempt`` and ``interrupt_attempt``: how the attempt
    ended, then which attempt it is."""
    return (
        r.finished_at,
        r.exit_code,
        r.timed_out,
        r.error,
        r.stdout,
        r.stderr,
        r.stdout_total,
        r.stderr_total,
        job.id,
        job.runs,
    )


def output_from_row(job_id: str, r: Sequence[Any]) -> Output:
    """From ``attempt, stdout, stderr, stdout_total, stderr_total, finished``."""
    return Output(
        job_id=job_id,
        attempt=r[0],
        stdout=bytes(r[1] or b""),
        stderr=bytes(r[2] or b""),
        stdout_total=r[3],
        stderr_total=r[4],
        finished=bool(r[5]),
    )


def worker_from_row(r: Sequence[Any]) -> WorkerInfo:
    """From the columns of the ``list_workers`` statement (``queues`` as JSON text)."""
    return WorkerInfo(
        id=r[0],
        host=r[1],
        pid=r[2],
        queues=tuple(json.loads(r[3])) if r[3] else None,
        state=r[4],
        started_at=r[5],
        heartbeat_at=r[6],
        current_job=r[7],
        jobs_done=r[8],
        supervisor_pid=r[9],
        stop_requested=r[10],
        wake=r[11],
    )


def page_from_rows(
    rows: Sequence[Sequence[Any]], limit: int, floor: int
) -> tuple[list[Job], int | None]:
    """A page from up to ``limit + 1`` rows of ``JOB_COLUMNS, seq`` (newest first), and the
    key the next page starts below: the last row's seq when more rows follow, else ``floor``
    when the window stopped short of the oldest job, else None."""
    jobs = [job_from_row(r) for r in rows[:limit]]
    if len(rows) > limit:
        return jobs, int(rows[limit - 1][-1])
    return jobs, (floor if floor > 1 else None)


def page_query(
    where: JobFilter, top: int, limit: int, window: int | None
) -> tuple[str, dict[str, Any], int]:
    """The statement name and parameters of a page of seqs below ``top``, and its floor: the
    lowest seq it may read (1: no bound)."""
    floor = max(top - window, 1) if window else 1
    params = {
        "state": None if where.state is None else str(where.state),
        "queue": where.queue,
        "text": where.text,
        "error": where.error,
        "before": top,
        "floor": floor,
        "limit": limit + 1,  # one more than shown: whether another page follows
    }
    return ("page_jobs" if where.state is None else "page_jobs_state"), params, floor


def queue_load_from_rows(rows: Sequence[Sequence[Any]]) -> list[QueueLoad]:
    """From the ``queue_load`` statement's ``queue, part, count, ready, oldest_ready`` rows."""
    found: dict[str, dict[str, Any]] = {}
    for queue, part, count, ready, oldest in rows:
        entry = found.setdefault(queue, {"waiting": 0, "ready": 0, "oldest": None})
        entry[part] = int(count)
        if part == "waiting":
            entry["ready"] = int(ready or 0)
            entry["oldest"] = oldest
    return [
        QueueLoad(
            queue=name,
            ready=e["ready"],
            scheduled=e["waiting"] - e["ready"],
            processing=e.get("live", 0),
            dead=e.get("dlq", 0),
            oldest_ready_at=e["oldest"],
        )
        for name, e in sorted(found.items())
    ]


def minutes_from_rows(rows: Sequence[Sequence[Any]]) -> list[MinuteCount]:
    """From ``finished_per_minute``'s ``minute, attempts, succeeded`` rows."""
    return [MinuteCount(float(m) * 60, int(ok), int(n) - int(ok)) for m, n, ok in rows]


def groups_from_rows(rows: Sequence[Sequence[Any]]) -> list[ErrorGroup]:
    return [ErrorGroup(error, int(n), float(latest)) for error, n, latest in rows]


class Waker(Protocol):
    """A worker's wake-up channel: readable when there may be new work."""

    address: str | None  # stored in the worker row so that enqueuers can reach it

    def fileno(self) -> int: ...

    def drain(self) -> None: ...

    def close(self) -> None: ...


class Store(Protocol):
    url: str  # how to open this store again (may hold a password: never print it)
    location: str  # where the store is, for people (a path, or a URL without password)
    created: bool  # this handle created the store (it did not exist before)
    # Opened with missing_ok and there is none: it reads as an empty store (a stand-in that
    # nobody else sees) and refuses writes.
    missing: bool

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    def verify(self) -> None:
        """Raise ``StoreLost`` if the store this handle opened is no longer there (a SQLite
        file deleted, replaced or overwritten under a long-running worker, a PostgreSQL
        schema dropped); ``StoreUnavailable`` when that cannot be checked right now."""
        ...

    # --- jobs -------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob]) -> None:
        """Insert all or none; ``Conflict`` names the first id that already exists."""
        ...

    def get_job(self, job_id: str) -> Job | None: ...

    def list_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Newest first. ``ready_at``: only claimable jobs due at that time."""
        ...

    def iter_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> Generator[Job, None, None]:
        """``list_jobs`` as a stream, read in chunks from one snapshot of the store: the first
        jobs arrive at once however many follow. Consume it before other calls."""
        ...

    def count_jobs(self) -> dict[State, int]: ...

    def attempts(self, job_id: str) -> list[Attempt]: ...

    def page_jobs(
        self, where: JobFilter, before: int | None, limit: int, window: int | None = None
    ) -> tuple[list[Job], int | None]:
        """Up to ``limit`` jobs matching ``where`` with seq below ``before`` (None: from the
        newest), newest first, and the key to pass as ``before`` for the next page (None at
        the end). ``window``: look at no more than that many seqs (a text search stays cheap
        however many jobs there are; the next key then continues below the window)."""
        ...

    def queue_load(self, now: float) -> list[QueueLoad]:
        """Per queue with jobs to run, running or dead: those counts (finished jobs excluded)."""
        ...

    def finished_per_minute(self, since: float) -> list[MinuteCount]:
        """Attempts that ended since ``since``, per minute (minutes without any left out)."""
        ...

    def dead_groups(self, limit: int) -> list[ErrorGroup]:
        """Dead jobs grouped by their last error, the largest groups first."""
        ...

    def change_marker(self) -> object:
        """A cheap value that differs once jobs were added or changed state (it may also
        differ when nothing visible did). Together with the waker, what a live view polls."""
        ...

    def output(self, job_id: str, attempt: int | None = None) -> Output | None:
        """The captured output of one attempt (the latest when ``attempt`` is None)."""
        ...

    # --- dead letter queue ------------------------------------------------------------

    def revive(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        """Move dead jobs back to pending with a fresh retry budget; None means all.

        All or nothing: ``NotFound`` or ``Conflict`` for the first id that is missing or
        not dead, and then nothing changes.
        """
        ...

    def revive_some(self, job_ids: Sequence[str], now: float) -> list[str]:
        """Move those of ``job_ids`` that are dead back to pending (fresh retry budget); the
        others are left alone. Returns the ids moved."""
        ...

    def purge_dead(self) -> int:
        """Delete every dead job and its history; returns how many."""
        ...

    # --- config -----------------------------------------------------------------------

    def config_items(self) -> dict[str, str]: ...

    def config_set(self, key: str, value: str) -> None: ...

    def config_unset(self, key: str) -> bool: ...

    # --- workers ----------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None: ...

    def unregister_worker(self, worker_id: str) -> None: ...

    def heartbeat(
        self, worker_id: str, job: Job | None, now: float, lease_until: float, jobs_done: int
    ) -> tuple[int | None, bool]:
        """Refresh the worker (and its count of jobs done) and extend the lease of ``job``.

        Returns the stop level requested for this worker (0 none, 1 graceful, 2 force; None
        when its registry row is gone) and whether the worker still holds ``job`` (False once
        its lease was recovered by someone else).
        """
        ...

    def list_workers(self) -> list[WorkerInfo]: ...

    def request_stop(self, worker_ids: Sequence[str], level: int) -> None: ...

    def forget_workers(self, worker_ids: Sequence[str]) -> None:
        """Remove registry rows of workers known to be gone."""
        ...

    def mark_stop(self, at: float) -> None:
        """Every supervisor launched at or before ``at`` is to stop (``worker stop``); the
        mark only ever moves forward."""
        ...

    def stop_mark(self) -> float | None:
        """The latest ``mark_stop`` time (None before the first)."""
        ...

    # --- execution --------------------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, now: float, lease_until: float
    ) -> Job | None:
        """Atomically take the next due job: highest priority, then earliest due, then oldest.

        The returned job is ``processing``, holds the lease, has ``attempts`` and ``runs``
        already counted, and its attempt is in the history as started.
        """
        ...

    def save_output(self, job: Job, result_so_far: AttemptResult) -> bool:
        """Store the output captured so far of a running attempt (for ``logs --follow``)."""
        ...

    def finish(self, job: Job, result: AttemptResult, outcome: Outcome) -> bool:
        """Record the end of the attempt ``job.runs`` and move the job to ``outcome``."""
        ...

    def recover(self, job: Job, result: AttemptResult, outcome: Outcome) -> bool:
        """``finish`` for a job found by ``expired``, fenced also by the lease it had then:
        if its holder renewed the lease since (a late heartbeat), nothing changes."""
        ...

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
        """``finish`` then ``claim``, in one transaction: a busy worker commits once per job."""
        ...

    def release(self, job: Job, now: float, interrupted: AttemptResult | None = None) -> bool:
        """Put a claimed job back to pending without spending an attempt.

        ``interrupted``: the attempt ran and a forced stop ended it; it stays in the history,
        marked interrupted, with its output. Without it the attempt never started (a job
        claimed together with the last result when a stop came) and leaves no trace.
        """
        ...

    def expired(self, now: float, limit: int = 100) -> list[Job]:
        """Processing jobs whose lease ran out (their worker is presumed dead); hand them
        to ``recover``."""
        ...

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        """When the earliest claimable job becomes due (None when there is none)."""
        ...

    def open_waker(self, worker_id: str) -> Waker: ...
