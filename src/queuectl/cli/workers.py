"""`worker start|stop|list` and the `start`/`stop` aliases."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import QueuectlError, ValidationError
from ..models import WorkerInfo
from .context import Context, add_json, positive_int, seconds


def _start_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--count", "-c", type=positive_int, help="worker processes (config worker_count)"
    )
    p.add_argument(
        "--queue",
        "-q",
        action="append",
        metavar="Q",
        help="only these queues (repeat, or comma-separate); default: all",
    )
    p.add_argument(
        "--detach",
        "--detached",
        "--daemon",
        "-d",
        action="store_true",
        help="run in the background",
    )
    p.add_argument("--log-file", metavar="PATH", help="with --detach: where the log goes")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="leave out the routine per-job lines (started, completed, failed, dead)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="log JSON Lines, one object per event (on stdout in the foreground); with "
        "--detach, also print the start as JSON",
    )
    p.set_defaults(handler=start)


def _stop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force", action="store_true", help="terminate running jobs (they are put back)"
    )
    p.add_argument(
        "--timeout", type=seconds, default=60.0, help="seconds to wait for them (default 60)"
    )
    add_json(p)
    p.set_defaults(handler=stop)


def register(sub: Any) -> None:
    group = sub.add_parser("worker", help="start, stop and list workers")
    group.set_defaults(group_parser=group, handler=None)
    wsub = group.add_subparsers(dest="worker_command", metavar="ACTION")
    _start_options(wsub.add_parser("start", help="run N worker processes under a supervisor"))
    _stop_options(wsub.add_parser("stop", help="stop every worker of this store"))
    p = wsub.add_parser("list", help="workers that are alive")
    add_json(p)
    p.set_defaults(handler=list_workers)
    _start_options(sub.add_parser("start", help="alias of `worker start`"))
    _stop_options(sub.add_parser("stop", help="alias of `worker stop`"))


def _queues(raw: list[str] | None) -> tuple[str, ...] | None:
    """``--queue a,b --queue c``: the API checks the names (before the store is opened)."""
    from ..api import worker_queues

    names = [name for item in raw or () for name in item.split(",")]
    return worker_queues(names, label="--queue")


def start(args: argparse.Namespace, ctx: Context) -> int:
    queues = _queues(args.queue)
    if args.log_file and not args.detach:
        raise ValidationError("--log-file goes with --detach (otherwise the log is stderr)")
    q = ctx.queue(create=True)  # opened (or made) here, so that errors show here, not in a worker
    from ..worker.control import process_started_at

    # Not the time this code got going: a `worker stop` right after it in a script may
    # run before that.
    options: dict[str, Any] = {
        "queues": queues,
        "quiet": args.quiet,
        "json_log": ctx.json,
        "launched_at": process_started_at(),
    }
    if not args.detach:
        import signal

        from ..worker.signals import STOP_SIGNALS

        # This process ends when the pool does. A stop signal that comes after that (from
        # a `worker stop` that saw a worker still registered) must not kill it on its way
        # out (exit 143): stop signals stay blocked from here to the exit, except while the
        # supervisor runs, which unblocks them for its own handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        return q.run_workers(args.count, **options)
    pool = q.start_workers(args.count, log_file=args.log_file, **options)
    if ctx.json:
        ctx.emit_json({"pid": pool.pid, "workers": pool.workers, "log": pool.log})
    else:
        ctx.say(
            f"started {pool.workers} worker(s) in the background (supervisor pid {pool.pid});"
            f" log: {pool.log}"
        )
    return 0


def stop(args: argparse.Namespace, ctx: Context) -> int:
    def waiting(workers: list[WorkerInfo]) -> None:
        busy = [w.current_job for w in workers if w.current_job]
        what = f"{len(workers)} worker(s)"
        if busy and not args.force:
            what += f" to finish {len(busy)} running job(s) ({', '.join(busy[:3])}"
            what += ", ...)" if len(busy) > 3 else ")"
        hint = "" if args.force else "; `queuectl worker stop --force` interrupts them"
        ctx.tell(f"waiting up to {args.timeout:g}s for {what}{hint}")

    # It writes its stop mark, which a supervisor still making the store must find there.
    report = ctx.queue(create=True).stop_workers(
        force=args.force, timeout=args.timeout, on_wait=waiting
    )
    if ctx.json:
        ctx.emit_json(
            {
                "stopped": [w.id for w in report.stopped],
                "lost": [w.id for w in report.lost],
                "remaining": [w.id for w in report.remaining],
                "after_this_job": [w.id for w in report.own],
            }
        )
    if report.remaining:
        ids = ", ".join(w.id for w in report.remaining)
        if args.force:
            hint = "see `queuectl worker list`; their jobs come back once their lease expires"
        else:
            hint = "`queuectl worker stop --force` interrupts their running jobs"
        raise QueuectlError(
            f"{len(report.remaining)} worker(s) still running after {args.timeout:g}s"
            f" ({ids}); {hint}"
        )
    if not ctx.json:
        if report.stopped or report.lost:
            lost = f"; forgot {len(report.lost)} lost worker(s)" if report.lost else ""
            ctx.say(f"stopped {len(report.stopped)} worker(s){lost}")
        elif not report.own:
            ctx.say("no workers are running")
        if report.own:
            ctx.say(f"the worker running this job ({report.own[0].id}) stops when it ends")
    return 0


def list_workers(args: argparse.Namespace, ctx: Context) -> int:
    workers = ctx.queue().workers()
    if ctx.json:
        ctx.emit_json([w.to_dict() for w in workers])
        return 0
    from . import render

    render.workers_table(workers)
    return 0
