"""Human output: tables and blocks of text that fit the terminal (see ``table.py``).

Job listings stream: the first rows print at once and 100,000 rows take a second or two,
because the table is laid out from its first rows and the rest are written as they come.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from itertools import islice

from ..api import Status
from ..config import KEYS, Number, format_value
from ..lifecycle import State
from ..models import Attempt, Job, WorkerInfo
from ..timeutil import format_duration, to_iso
from .table import Cell, Column, Screen, Table, printable

STATE_STYLE = {
    State.PENDING: "cyan",
    State.PROCESSING: "yellow",
    State.COMPLETED: "green",
    State.FAILED: "magenta",
    State.DEAD: "red",
}

FIRST_ROWS = 100  # rows that lay out a streamed table, printed before the rest is read
CHUNK_ROWS = 2000


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    text = to_iso(ts) or "-"
    return text[:19].replace("T", " ") + "Z"


def _age(seconds: float) -> str:
    """Coarse and short, for a column: ``45s``, ``12m``, ``5h``, ``3d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit == "d" else 1):
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _ago(ts: float) -> str:
    return format_duration(max(0.0, time.time() - ts)) + " ago"


def _state(state: State) -> Cell:
    return (str(state), STATE_STYLE.get(state, ""))


def _budget(job: Job) -> str:
    used = f"{job.attempts} of {job.allowed_attempts} used"
    if job.runs == job.attempts:
        return used
    # A `dlq retry` resets the budget, and a forced stop gives its attempt back, while the
    # history keeps every attempt: say both, so that "attempt 3" in a log makes sense here.
    return f"{used}; {job.runs} in the history"


def _note(text: str, terminal_only: bool = False) -> None:
    """A remark about the output, not part of it: stderr, so that pipes get only data."""
    if terminal_only and not sys.stderr.isatty():
        return
    sys.stdout.flush()
    sys.stderr.write(text + "\n")


def _left_out(table: Table) -> None:
    if table.left_out:
        names = ", ".join(table.left_out)
        width = table.screen.width
        _note(f"({names} left out to fit {width} columns; --json has every field)", True)


# --- jobs -----------------------------------------------------------------------------

JOB_COLUMNS = (
    Column("ID", never_drop=True),
    Column("STATE", keep=90),
    Column("ATTEMPTS", keep=60, right=True),
    Column("PRI", keep=20, right=True),
    Column("QUEUE", keep=30),
    Column("COMMAND", keep=80, cut=20),
    Column("WHEN", keep=40),
)


def _job_row(job: Job, now: float) -> list[Cell]:
    if job.state in (State.PENDING, State.FAILED) and job.next_run_at is not None:
        wait = job.next_run_at - now
        if wait > 0:
            when = f"in {_age(wait)}"
        else:
            when = "due now" if wait > -1 else f"due {_age(-wait)} ago"
    else:
        when = f"{_age(now - job.updated_at)} ago"
    return [
        job.id,
        _state(job.state),
        f"{job.attempts}/{job.allowed_attempts}",
        str(job.priority),
        job.queue,
        printable(job.command),
        when,
    ]


def jobs_table(jobs: Iterable[Job], *, limit: int | None = None, empty: str = "No jobs.") -> None:
    """Stream ``jobs`` as a table: laid out from the first rows, written as they come."""
    screen = Screen()
    stream = iter(jobs)
    now = time.time()
    rows = [_job_row(job, now) for job in islice(stream, FIRST_ROWS)]
    if not rows:
        screen.write(empty + "\n")
        return
    table = Table(JOB_COLUMNS, screen)
    table.fit(rows)
    screen.write(table.header() + table.rows(rows))
    screen.stream.flush()
    shown = len(rows)
    while chunk := list(islice(stream, CHUNK_ROWS)):
        screen.write(table.rows(_job_row(job, now) for job in chunk))
        shown += len(chunk)
    _left_out(table)
    if limit and shown >= limit:
        _note(f"(showing the newest {limit}; use --limit N or --limit 0 for all)")


# --- one job --------------------------------------------------------------------------

HISTORY_COLUMNS = (
    Column("#", never_drop=True, right=True),
    Column("STARTED", keep=50),
    Column("DURATION", keep=40, right=True),
    Column("EXIT", keep=70, right=True),
    Column("TIMED OUT", keep=10),
    Column("WORKER", keep=60),
    Column("ERROR", keep=80, wrap=True),
)
DETAIL_COLUMNS = (Column("", never_drop=True), Column("", keep=90, wrap=True))


def job_detail(job: Job, history: list[Attempt], *, show_env: bool = False) -> None:
    screen = Screen()
    command = "\n".join(printable(line) for line in job.command.splitlines() or [""])
    rows: list[list[Cell]] = [
        ["id", job.id],
        ["state", _state(job.state)],
        ["command", command],
        ["queue", job.queue],
        ["priority", str(job.priority)],
        ["attempts", _budget(job)],
        ["backoff base", f"{job.backoff_base:g}"],
        ["timeout", "none" if job.timeout is None else f"{job.timeout:g}s"],
        ["cwd", printable(job.cwd)],
        ["created", _when(job.created_at)],
        ["updated", _when(job.updated_at)],
        ["run at", _when(job.run_at)],
        ["next run", _when(job.next_run_at)],
        ["exit code", "-" if job.exit_code is None else str(job.exit_code)],
        ["last error", printable(job.last_error or "-")],
        ["worker", job.worker_id or "-"],
    ]
    if job.env:
        if show_env:
            env = " ".join(f"{k}={v}" for k, v in sorted(job.env.items()))
            rows.append(["env", printable(env)])
        else:
            rows.append(["env", ", ".join(sorted(job.env)) + "  (values: --show-env)"])
    grid = Table(DETAIL_COLUMNS, screen)
    grid.fit(rows)
    screen.write(grid.rows([((str(key), "bold"), value) for key, value in rows]))
    if not history:
        screen.write("\nNo attempts yet.\n")
        return
    attempts: list[list[Cell]] = [
        [
            str(a.attempt),
            _when(a.started_at),
            "running" if a.finished_at is None else format_duration(a.duration),
            "-" if a.exit_code is None else str(a.exit_code),
            "yes" if a.timed_out else "no",
            a.worker_id or "-",
            printable(a.error or ""),
        ]
        for a in history
    ]
    table = Table(HISTORY_COLUMNS, screen)
    table.fit(attempts)
    screen.write("\nHistory\n" + table.header() + table.rows(attempts))
    _left_out(table)


# --- workers and status ---------------------------------------------------------------

WORKER_COLUMNS = (
    Column("WORKER", never_drop=True),
    Column("HOST", keep=10),
    Column("PID", never_drop=True, right=True),
    Column("STATE", keep=70),
    Column("QUEUES", keep=30, cut=6),
    Column("CURRENT JOB", keep=80),
    Column("DONE", keep=40, right=True),
    Column("HEARTBEAT", keep=50),
)


def workers_table(workers: Iterable[WorkerInfo]) -> None:
    screen = Screen()
    rows: list[list[Cell]] = [
        [
            w.id,
            w.host,
            str(w.pid),
            w.state,
            ",".join(w.queues) if w.queues else "*",
            w.current_job or "-",
            str(w.jobs_done),
            _ago(w.heartbeat_at),
        ]
        for w in workers
    ]
    if not rows:
        screen.write("No workers are running.\n")
        return
    table = Table(WORKER_COLUMNS, screen)
    table.fit(rows)
    screen.write(table.header() + table.rows(rows))
    _left_out(table)


#: The counts `status` always prints, in the order of seed 003's block; other states
#: (SPEC §4) get a line of the same form when they hold any job.
STATUS_LINES = (State.PENDING, State.PROCESSING, State.COMPLETED, State.FAILED, State.DEAD)


def status_view(status: Status, location: str) -> None:
    """Seed 003's block, one count per line (scripts grep `Pending: 5`), then the workers."""
    screen = Screen()
    lines = ["Queue Status:", "  Jobs:"]
    for state in State:
        count = status.counts.get(state, 0)
        if state in STATUS_LINES or count:
            label = screen.style(f"{state.value.capitalize()}:", STATE_STYLE.get(state, ""))
            lines.append(f"    {label} {count}")
    lines.append(f"    Total: {sum(status.counts.values())}")
    lines.append(f"  DLQ: {status.dlq} jobs")  # "jobs" even for 1: scripts match the seed
    lines.append(f"  Workers: {len(status.workers)} alive")
    lines.append(f"  Store: {printable(location)}")
    screen.write("\n".join(lines) + "\n")
    if status.workers:
        screen.write("\n")
        workers_table(status.workers)


# --- config ---------------------------------------------------------------------------

CONFIG_COLUMNS = (
    Column("KEY", never_drop=True),
    Column("VALUE", never_drop=True, right=True),
    Column("DEFAULT", keep=50, right=True),
    Column("MEANING", keep=60, wrap=True),
)


def config_table(values: Mapping[str, Number], stored: set[str]) -> None:
    screen = Screen()
    rows: list[list[Cell]] = [
        [
            key,
            (format_value(value), "" if key in stored else "dim"),
            format_value(KEYS[key].default),
            KEYS[key].help,
        ]
        for key, value in values.items()
    ]
    table = Table(CONFIG_COLUMNS, screen)
    table.fit(rows)
    screen.write(table.header() + table.rows(rows))
