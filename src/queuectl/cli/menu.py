"""The interactive menu (`queuectl` on a terminal, or `queuectl -i`).

A numbered loop over the same operations as the commands, for people who would rather
not remember flags. Each choice calls the API and the same renderers as the CLI; an error
is shown and the menu carries on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..errors import QueuectlError
from ..lifecycle import State
from .context import Context

MENU = [
    ("1", "Show queue status"),
    ("2", "List jobs"),
    ("3", "Enqueue a job"),
    ("4", "Start workers (Ctrl+C stops them)"),
    ("5", "Stop workers"),
    ("6", "View the dead letter queue"),
    ("7", "Retry a job from the DLQ"),
    ("8", "View configuration"),
    ("9", "Set a configuration value"),
    ("0", "Exit"),
]


def _ask(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def run_menu(ctx: Context) -> int:
    actions: dict[str, Callable[[Context], None]] = {
        "1": _status,
        "2": _list,
        "3": _enqueue,
        "4": _start,
        "5": _stop,
        "6": _dlq,
        "7": _retry,
        "8": _config,
        "9": _set_config,
    }
    while True:
        sys.stdout.write("\nqueuectl: job queue manager\n")
        for key, label in MENU:
            sys.stdout.write(f"  {key}. {label}\n")
        try:
            choice = _ask("Choose 0-9: ")
        except (EOFError, KeyboardInterrupt):
            sys.stdout.write("\n")
            return 0
        if choice in ("0", "q", "quit", "exit"):
            return 0
        action = actions.get(choice)
        if action is None:
            sys.stdout.write(f"error: {choice!r} is not a choice\n")
            continue
        try:
            action(ctx)
        except QueuectlError as exc:
            sys.stdout.write(f"error: {exc.message}\n")
        except (EOFError, KeyboardInterrupt):
            sys.stdout.write("\n")
        finally:
            ctx.close()


def _status(ctx: Context) -> None:
    from . import render

    q = ctx.queue()
    render.status_view(q.status(), q.location)


def _list(ctx: Context) -> None:
    from . import render

    states = ["all", *[s.value for s in State]]
    for i, name in enumerate(states, start=1):
        sys.stdout.write(f"  {i}. {name}\n")
    answer = _ask(f"Which jobs (1-{len(states)}, default 1)? ") or "1"
    if not answer.isdigit() or not 1 <= int(answer) <= len(states):
        raise QueuectlError(f"{answer!r} is not a choice")
    picked = states[int(answer) - 1]
    render.jobs_table(ctx.queue().list(state=None if picked == "all" else picked))


def _enqueue(ctx: Context) -> None:
    job_id = _ask("Job id (empty: generated): ")
    command = _ask("Command: ")
    retries = _ask("Max retries (empty: from config): ")
    fields: dict[str, object] = {"command": command}
    if job_id:
        fields["id"] = job_id
    if retries:
        if not retries.isdigit():
            raise QueuectlError(f"max retries must be a whole number, not {retries!r}")
        fields["max_retries"] = int(retries)
    job = ctx.queue(create=True).enqueue_many([fields])[0]
    sys.stdout.write(f"enqueued {job.id}\n")


def _start(ctx: Context) -> None:
    q = ctx.queue(create=True)
    raw = _ask(f"How many workers (empty: {q.config().worker_count})? ")
    if raw and (not raw.isdigit() or int(raw) < 1):
        raise QueuectlError(f"the number of workers must be at least 1, not {raw!r}")
    q.run_workers(int(raw) if raw else None)


def _stop(ctx: Context) -> None:
    report = ctx.queue(create=True).stop_workers()
    sys.stdout.write(f"stopped {len(report.stopped)} worker(s)\n")


def _dlq(ctx: Context) -> None:
    from . import render

    render.jobs_table(ctx.queue().dlq_list(), empty="The dead letter queue is empty.")


def _retry(ctx: Context) -> None:
    job_id = _ask("Job id to retry: ")
    ids = ctx.queue().dlq_retry([job_id])
    sys.stdout.write(f"moved {', '.join(ids)} back to pending\n")


def _config(ctx: Context) -> None:
    from . import render

    q = ctx.queue()
    render.config_table(q.config().as_dict(), set(q.config_stored()))


def _set_config(ctx: Context) -> None:
    from ..config import KEYS

    sys.stdout.write("Keys: " + ", ".join(KEYS) + "\n")
    key = _ask("Key: ")
    value = _ask("Value: ")
    name, number = ctx.queue(create=True).config_set(key, value)
    sys.stdout.write(f"{name} = {number}\n")
