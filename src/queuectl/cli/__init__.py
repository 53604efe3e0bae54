"""The ``queuectl`` command line: parsing, dispatch, and the one error boundary.

Each command group lives in its own module and only parses, calls :class:`queuectl.Queue`
and renders. Rich and the worker machinery are imported by the commands that need them,
so ``queuectl enqueue`` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import QueuectlError, UsageError
from . import completion as completion_cmd
from . import config as config_cmd
from . import dlq as dlq_cmd
from . import jobs as jobs_cmd
from . import status as status_cmd
from . import web as web_cmd
from . import workers as workers_cmd
from .context import Context


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line and exit code 2.

    Abbreviated options are off everywhere: `--lim` must not silently mean `--limit`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", Commands)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose own --help says what they do (the one-line help, as a sentence),
    and which name themselves as the parser that reports a misplaced argument."""

    def add_parser(self, name: str, **kwargs: Any) -> Parser:
        summary = kwargs.get("help")
        if summary and "description" not in kwargs:
            kwargs["description"] = summary[0].upper() + summary[1:].rstrip(".") + "."
        parser: Parser = super().add_parser(name, **kwargs)
        parser.set_defaults(leaf_parser=parser)
        return parser


def build_parser() -> Parser:
    parser = Parser(
        prog="queuectl",
        description="A background job queue for shell commands.",
    )
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="the store: a SQLite path or postgresql:// URL (default: $QUEUECTL_DB, "
        "else ~/.local/share/queuectl/queuectl.db)",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "-i", "--interactive", action="store_true", help="open the interactive menu"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (
        jobs_cmd,
        workers_cmd,
        status_cmd,
        dlq_cmd,
        config_cmd,
        web_cmd,
        completion_cmd,
    ):
        module.register(sub)
    return parser


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(jobs_cmd.command_words_last(list(argv)))
    if extra:
        # Reported by the subcommand that was given them, so that the hint is its --help.
        leaf: argparse.ArgumentParser = getattr(args, "leaf_parser", parser)
        leaf.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.version:
        from .. import __version__

        print(f"queuectl {__version__}")
        return 0
    ctx = Context(db=args.db, json=getattr(args, "json", False))
    if args.interactive or args.command is None:
        if args.interactive or (sys.stdin.isatty() and sys.stdout.isatty()):
            from .menu import run_menu

            return run_menu(ctx)
        parser.print_help()
        return 0
    handler: Any = getattr(args, "handler", None)
    if handler is None:  # a group such as `queuectl dlq` without its subcommand
        args.group_parser.print_help()
        return 2
    try:
        return int(handler(args, ctx) or 0)
    finally:
        ctx.close()


def main(argv: Sequence[str] | None = None) -> NoReturn:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = run(argv)
    except QueuectlError as exc:
        code = _fail(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`queuectl list | head`); stay quiet like other tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except Exception as exc:  # the one place an unexpected error is turned into a line
        if os.environ.get("QUEUECTL_DEBUG"):
            raise
        code = _fail(
            f"unexpected {type(exc).__name__}: {exc} (set QUEUECTL_DEBUG=1 for details)", 1
        )
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    sys.exit(code)


def _fail(message: str, code: int) -> int:
    if os.environ.get("QUEUECTL_DEBUG"):
        import traceback

        traceback.print_exc()
    first = " ".join(message.split("\n")).strip()
    sys.stderr.write(f"error: {first}\n")
    return code
