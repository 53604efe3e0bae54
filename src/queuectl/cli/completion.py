"""`completion bash|zsh|fish`: a shell completion script generated from this very parser.

shtab turns the argparse tree into a static script, so every command and option that exists
is completed and nothing else; the script never runs queuectl at TAB time. shtab is
imported here only, keeping it out of every other command's start-up.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from .context import Context

SHELLS = ("bash", "zsh", "fish")

INSTALL = """\
to load it in every new shell:
  bash  queuectl completion bash > ~/.local/share/bash-completion/completions/queuectl
        (or add to ~/.bashrc: eval "$(queuectl completion bash)")
  zsh   add to ~/.zshrc, after compinit: eval "$(queuectl completion zsh)"
  fish  queuectl completion fish > ~/.config/fish/completions/queuectl.fish"""

# Options whose values are paths, by option string: they complete file or folder names.
FILES = {"--db", "--file", "--log-file"}
FOLDERS = {"--cwd"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for SHELL on stdout.",
        epilog=INSTALL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(handler=completion)


def completion(args: argparse.Namespace, ctx: Context) -> int:
    import shtab

    from ..lifecycle import State
    from . import build_parser

    parser = build_parser()
    for action in _actions(parser):
        # This parser only generates the script, so hints can be attached freely: states
        # become choices (the real parser checks them itself, with a better message).
        if action.dest == "state" and action.option_strings:
            action.choices = [s.value for s in State]
        elif FILES.intersection(action.option_strings):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif FOLDERS.intersection(action.option_strings):
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every action of ``parser`` and of its subcommands, each parser visited once."""
    seen: set[int] = set()
    todo = [parser]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for action in current._actions:
            yield action
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
