"""`dlq list|retry|clear`: the dead letter queue."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .context import Context, add_json, non_negative_int


def register(sub: Any) -> None:
    group = sub.add_parser("dlq", help="the dead letter queue: list, retry, clear")
    group.set_defaults(group_parser=group, handler=None)
    dsub = group.add_subparsers(dest="dlq_command", metavar="ACTION")
    p = dsub.add_parser("list", help="dead jobs, newest first")
    p.add_argument("--limit", "-n", type=non_negative_int, default=100, help="0: all")
    add_json(p)
    p.set_defaults(handler=dlq_list)
    p = dsub.add_parser("retry", help="back to pending with a fresh retry budget")
    p.add_argument("ids", nargs="*", metavar="ID", help="dead jobs to retry (all or none move)")
    p.add_argument("--all", action="store_true", help="every dead job")
    add_json(p)
    p.set_defaults(handler=dlq_retry)
    p = dsub.add_parser("clear", help="delete every dead job")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    add_json(p)
    p.set_defaults(handler=dlq_clear)


def dlq_list(args: argparse.Namespace, ctx: Context) -> int:
    jobs = ctx.queue().dlq_list(limit=args.limit)
    if ctx.json:
        ctx.emit_json([j.to_dict() for j in jobs])
        return 0
    from . import render

    render.jobs_table(jobs, limit=args.limit, empty="The dead letter queue is empty.")
    return 0


def dlq_retry(args: argparse.Namespace, ctx: Context) -> int:
    from ..api import retry_targets

    retry_targets(args.ids, args.all)  # the API's own check, before a store is opened or made
    ids = ctx.queue().dlq_retry(args.ids, all=args.all)
    if ctx.json:
        ctx.emit_json({"retried": ids})
    elif ids:
        ctx.say(f"moved {len(ids)} job(s) back to pending: {', '.join(ids)}")
    else:
        ctx.say("the dead letter queue is empty; nothing to retry")
    return 0


def dlq_clear(args: argparse.Namespace, ctx: Context) -> int:
    q = ctx.queue()
    if not args.yes and sys.stdin.isatty():
        dead = q.counts()
        from ..lifecycle import State

        count = dead[State.DEAD]
        if count == 0:
            ctx.say("the dead letter queue is already empty")
            return 0
        sys.stderr.write(f"Delete {count} dead job(s) and their history? [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            ctx.say("nothing deleted")
            return 1
    deleted = q.dlq_clear()
    if ctx.json:
        ctx.emit_json({"deleted": deleted})
    else:
        ctx.say(f"deleted {deleted} dead job(s)")
    return 0
