"""Human output: Rich tables. The only module that imports Rich."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..api import Status
from ..config import KEYS, Number, format_value
from ..models import Attempt, Job, WorkerInfo
from ..states import State
from ..timeutil import format_duration, to_iso

STATE_STYLE = {
    State.PENDING: "cyan",
    State.PROCESSING: "yellow",
    State.COMPLETED: "green",
    State.FAILED: "magenta",
    State.DEAD: "red",
}


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich's own handler exits with status 1, which `set -o pipefail` scripts read as
        # a failure of `queuectl status | grep -q ...`. A reader that leaves early is
        # normal: hand it to the CLI's one handler, which exits 0.
        self.quiet = True
        raise BrokenPipeError


def _console() -> Console:
    if sys.stdout.isatty():
        return _Console(highlight=False)
    # Piped output keeps whole ids and commands on one line for grep and friends.
    columns = os.environ.get("COLUMNS", "")
    width = max(200, int(columns)) if columns.isdigit() else 200
    return _Console(width=width, no_color=True, highlight=False)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    text = to_iso(ts) or "-"
    return text[:19].replace("T", " ") + "Z"


def _ago(ts: float) -> str:
    return format_duration(max(0.0, time.time() - ts)) + " ago"


def _state(state: State) -> Text:
    return Text(str(state), style=STATE_STYLE[state])


def _short(text: str, width: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _budget(job: Job) -> str:
    used = f"{job.attempts} of {job.allowed_attempts} used"
    if job.runs == job.attempts:
        return used
    # A `dlq retry` resets the budget, and a forced stop gives its attempt back, while the
    # history keeps every attempt: say both, so that "attempt 3" in a log makes sense here.
    return f"{used}; {job.runs} in the history"


def jobs_table(jobs: list[Job], *, limit: int | None = None, empty: str = "No jobs.") -> None:
    console = _console()
    if not jobs:
        console.print(empty)
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("ID", no_wrap=True, overflow="fold")
    table.add_column("STATE", no_wrap=True)
    table.add_column("ATTEMPTS", justify="right", no_wrap=True)
    table.add_column("PRI", justify="right")
    table.add_column("QUEUE", no_wrap=True)
    table.add_column("COMMAND")
    table.add_column("NEXT RUN / UPDATED", no_wrap=True)
    for job in jobs:
        if job.state in (State.PENDING, State.FAILED) and job.next_run_at:
            when = ("due " if job.next_run_at <= time.time() else "at ") + _when(job.next_run_at)
        else:
            when = _when(job.updated_at)
        table.add_row(
            job.id,
            _state(job.state),
            f"{job.attempts}/{job.allowed_attempts}",
            str(job.priority),
            job.queue,
            _short(job.command),
            when,
        )
    console.print(table)
    if limit and len(jobs) >= limit:
        console.print(f"(showing the newest {limit}; use --limit N or --limit 0 for all)")


def job_detail(job: Job, history: list[Attempt], *, show_env: bool = False) -> None:
    console = _console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("id", job.id),
        ("state", _state(job.state)),
        ("command", job.command),
        ("queue", job.queue),
        ("priority", str(job.priority)),
        ("attempts", _budget(job)),
        ("backoff base", f"{job.backoff_base:g}"),
        ("timeout", "none" if job.timeout is None else f"{job.timeout:g}s"),
        ("cwd", job.cwd),
        ("created", _when(job.created_at)),
        ("updated", _when(job.updated_at)),
        ("run at", _when(job.run_at)),
        ("next run", _when(job.next_run_at)),
        ("exit code", "-" if job.exit_code is None else str(job.exit_code)),
        ("last error", job.last_error or "-"),
        ("worker", job.worker_id or "-"),
    ]
    if job.env:
        if show_env:
            rows.append(("env", " ".join(f"{k}={v}" for k, v in sorted(job.env.items()))))
        else:
            rows.append(("env", ", ".join(sorted(job.env)) + "  (values: --show-env)"))
    for key, value in rows:
        grid.add_row(key, value)
    console.print(grid)
    if not history:
        console.print("\nNo attempts yet.")
        return
    table = Table(
        title="History", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False
    )
    for name in ("#", "STARTED", "DURATION", "EXIT", "TIMED OUT", "WORKER", "ERROR"):
        table.add_column(name, no_wrap=name != "ERROR")
    for a in history:
        table.add_row(
            str(a.attempt),
            _when(a.started_at),
            "running" if a.finished_at is None else format_duration(a.duration),
            "-" if a.exit_code is None else str(a.exit_code),
            "yes" if a.timed_out else "no",
            a.worker_id or "-",
            a.error or "",
        )
    console.print()
    console.print(table)


def workers_table(workers: Iterable[WorkerInfo]) -> None:
    console = _console()
    workers = list(workers)
    if not workers:
        console.print("No workers are running.")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("WORKER", "HOST", "PID", "STATE", "QUEUES", "CURRENT JOB", "DONE", "HEARTBEAT"):
        table.add_column(name, no_wrap=True)
    for w in workers:
        table.add_row(
            w.id,
            w.host,
            str(w.pid),
            w.state,
            ",".join(w.queues) if w.queues else "*",
            w.current_job or "-",
            str(w.jobs_done),
            _ago(w.heartbeat_at),
        )
    console.print(table)


#: The counts `status` always prints, in the order of seed 003's block; other states
#: (SPEC §4) get a line of the same form when they hold any job.
STATUS_LINES = (State.PENDING, State.PROCESSING, State.COMPLETED, State.FAILED, State.DEAD)


def status_view(status: Status, location: str) -> None:
    """Seed 003's block, one count per line (scripts grep `Pending: 5`), then the workers."""
    console = _console()
    console.print("Queue Status:\n  Jobs:")
    for state in State:
        count = status.counts.get(state, 0)
        if state in STATUS_LINES or count:
            label = Text(f"    {state.value.capitalize()}: ", style=STATE_STYLE.get(state, ""))
            console.print(label + Text(str(count)))
    console.print(f"    Total: {sum(status.counts.values())}")
    console.print(f"  DLQ: {status.dlq} jobs")  # "jobs" even for 1: scripts match the seed
    console.print(f"  Workers: {len(status.workers)} alive")
    console.print(Text(f"  Store: {location}"))  # Text: a path is not Rich markup
    if status.workers:
        console.print()
        workers_table(status.workers)


def config_table(values: Mapping[str, Number], stored: set[str]) -> None:
    console = _console()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("KEY", "VALUE", "DEFAULT", "MEANING"):
        table.add_column(name)
    for key, value in values.items():
        meta = KEYS[key]
        text = format_value(value)
        shown = text if key in stored else Text(text, style="dim")
        table.add_row(key, shown, format_value(meta.default), meta.help)
    console.print(table)
