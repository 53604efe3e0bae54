"""`web`: the dashboard and JSON API (the web stack is imported by this command only)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..extras import require
from .context import Context


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0: any free)")
    return int(text)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "web",
        help="serve the web dashboard and JSON API",
        description="Serve the dashboard and /api/v1 on this store. Listening beyond this "
        "machine needs QUEUECTL_WEB_PASSWORD (HTTP Basic) or QUEUECTL_WEB_TOKEN (Bearer).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=port_number, default=8765, help="port (default 8765; 0: any free port)"
    )
    p.add_argument(
        "--read-only", action="store_true", help="show everything, change nothing (no actions)"
    )
    p.set_defaults(handler=web)


def web(args: argparse.Namespace, ctx: Context) -> int:
    require("web", "queuectl web")
    from ..web.security import Credentials, check_exposure
    from ..web.server import serve

    check_exposure(args.host, Credentials.from_env(os.environ))  # before the store is touched
    q = ctx.queue(create=True)  # a server, like `worker start`: it may be first
    return serve(q.url, q.location, args.host, args.port, args.read_only)
