"""The records queuectl keeps: jobs, their attempts, and workers.

They are immutable named tuples (cheap to build, and quick to import, which keeps the CLI's
start-up light): a store returns a fresh one after every change. ``to_dict`` gives the
JSON shapes of the CLI's ``--json`` output (SPEC §6).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from .timeutil import to_iso

if TYPE_CHECKING:
    from .lifecycle import State


class NewJob(NamedTuple):
    """A validated job spec, ready to insert (config defaults already copied in)."""

    id: str
    command: str
    queue: str
    priority: int
    max_retries: int
    backoff_base: float
    timeout: float | None
    run_at: float
    cwd: str
    env: dict[str, str]
    created_at: float


class Job(NamedTuple):
    id: str
    command: str
    state: State
    queue: str
    priority: int
    attempts: int  # attempts spent from the retry budget (reset by `dlq retry`)
    runs: int  # attempts in the history, never reset; numbers them
    max_retries: int
    backoff_base: float
    timeout: float | None
    run_at: float
    next_run_at: float | None
    created_at: float
    updated_at: float
    exit_code: int | None
    last_error: str | None
    worker_id: str | None
    lease_expires_at: float | None
    cwd: str
    env: dict[str, str]

    @property
    def allowed_attempts(self) -> int:
        """The most attempts the job gets (shown beside ``attempts``): ``max_retries``, as
        the seeds define it, where 0 also means one run."""
        return max(1, self.max_retries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "state": str(self.state),
            "queue": self.queue,
            "priority": self.priority,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "backoff_base": self.backoff_base,
            "timeout": self.timeout,
            "run_at": to_iso(self.run_at),
            "next_run_at": to_iso(self.next_run_at),
            "created_at": to_iso(self.created_at),
            "updated_at": to_iso(self.updated_at),
            "exit_code": self.exit_code,
            "last_error": self.last_error,
            "worker_id": self.worker_id,
            "cwd": self.cwd,
        }


def job_document(job: Job, history: list[Attempt], show_env: bool = False) -> dict[str, Any]:
    """``show --json``: the job, its environment and its attempt history."""
    doc = job.to_dict()
    # Values may be secrets (tokens, passwords): only their names unless asked for.
    doc["env"] = dict(job.env) if show_env else sorted(job.env)
    doc["history"] = [a.to_dict() for a in history]
    return doc


class Attempt(NamedTuple):
    """One run of a job, kept as history."""

    attempt: int  # 1-based position in the job's history
    worker_id: str | None
    started_at: float
    finished_at: float | None
    exit_code: int | None
    timed_out: bool
    error: str | None
    interrupted: bool = False  # ended by a forced stop; did not spend the retry budget

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "worker_id": self.worker_id,
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "duration": None if self.duration is None else round(self.duration, 6),
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "error": self.error,
            "interrupted": self.interrupted,
        }


class Output(NamedTuple):
    """The captured end of an attempt's stdout and stderr."""

    job_id: str
    attempt: int
    stdout: bytes
    stderr: bytes
    stdout_total: int  # bytes the command wrote; more than len(stdout) when capped
    stderr_total: int
    finished: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "attempt": self.attempt,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
        }


class AttemptResult(NamedTuple):
    """How an attempt ended, as the worker saw it."""

    exit_code: int | None
    error: str | None
    timed_out: bool
    started_at: float
    finished_at: float
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_total: int = 0
    stderr_total: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None


class Outcome(NamedTuple):
    """What happens to a job next, as the lifecycle decides it (``lifecycle.after_attempt``
    and friends): the state it moves to, and when it is due (None: not to run again)."""

    state: State
    next_run_at: float | None


class WorkerInfo(NamedTuple):
    id: str
    host: str
    pid: int
    queues: tuple[str, ...] | None  # None: every queue
    state: str  # idle | busy | stopping
    started_at: float
    heartbeat_at: float
    current_job: str | None
    jobs_done: int
    supervisor_pid: int | None = None
    stop_requested: int = 0  # 0 no, 1 graceful, 2 force
    wake: str | None = None  # where an enqueuer on the same host can wake it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "queues": list(self.queues) if self.queues is not None else None,
            "state": self.state,
            "started_at": to_iso(self.started_at),
            "heartbeat_at": to_iso(self.heartbeat_at),
            "current_job": self.current_job,
            "jobs_done": self.jobs_done,
        }


class JobFilter(NamedTuple):
    """Which jobs a listing shows; every part is optional (the dashboard's and API's filters)."""

    state: State | None = None
    queue: str | None = None
    text: str | None = None  # part of the id or of the command (case-sensitive)
    error: str | None = None  # exactly this last error (one group of the DLQ)


class Page(NamedTuple):
    """One page of jobs, newest first; ``next`` is the cursor of the page after it."""

    jobs: list[Job]
    next: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"jobs": [j.to_dict() for j in self.jobs], "next": self.next}


class QueueLoad(NamedTuple):
    """A queue's jobs that are still to run, running, or dead."""

    queue: str
    ready: int  # pending or failed, due now
    scheduled: int  # pending or failed, due later (delayed, or waiting out a retry backoff)
    processing: int
    dead: int
    oldest_ready_at: float | None  # when the longest-waiting ready job became due


class MinuteCount(NamedTuple):
    """Attempts that ended in one minute, by outcome."""

    start: float  # the minute's first second
    completed: int
    failed: int


class ErrorGroup(NamedTuple):
    """Dead jobs that share their last error."""

    error: str | None
    size: int  # how many
    latest_at: float  # when the newest of them died


class ActionResult(NamedTuple):
    """What an action on several jobs did: the ids it applied to, and why it skipped others."""

    done: list[str]
    skipped: list[tuple[str, str]]  # (id, reason)

    def merged(self, other: ActionResult) -> ActionResult:
        return ActionResult(self.done + other.done, self.skipped + other.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "skipped": [{"id": i, "reason": r} for i, r in self.skipped],
        }
