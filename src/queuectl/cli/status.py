"""`init` and `status [--watch]`: the store as a whole."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .context import Context, add_json, seconds


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="create or migrate the store and say where it is")
    add_json(p)
    p.set_defaults(handler=init)

    p = sub.add_parser("status", help="counts per state, the DLQ, and live workers")
    p.add_argument("--watch", "-w", action="store_true", help="refresh until interrupted")
    p.add_argument(
        "--interval", type=seconds, default=2.0, help="seconds between refreshes (default 2)"
    )
    add_json(p)
    p.set_defaults(handler=status)


def init(args: argparse.Namespace, ctx: Context) -> int:
    ctx.announce_created = False  # said on stdout instead
    q = ctx.queue(create=True)
    version = q.schema_version()
    if ctx.json:
        ctx.emit_json({"db": q.location, "schema_version": version, "created": q.created})
    else:
        done = "created a new empty store" if q.created else "store ready"
        ctx.say(f"{done} at {q.location} (schema version {version})")
    return 0


def status(args: argparse.Namespace, ctx: Context) -> int:
    q = ctx.queue()
    if not args.watch:
        snapshot = q.status()
        if ctx.json:
            ctx.emit_json(snapshot.to_dict())
        else:
            from . import render

            render.status_view(snapshot, q.location)
        return 0
    if args.interval <= 0:
        from ..errors import ValidationError

        raise ValidationError("--interval: must be more than 0")
    from . import render

    tty = sys.stdout.isatty()
    try:
        while True:
            snapshot = q.status()
            if ctx.json:
                # One document per line, so a reader can parse each refresh on its own.
                sys.stdout.write(json.dumps(snapshot.to_dict()) + "\n")
            else:
                if tty:
                    sys.stdout.write("\x1b[H\x1b[2J")
                render.status_view(snapshot, q.location)
                if not tty:
                    sys.stdout.write("\n")
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
