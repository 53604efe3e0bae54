"""`config list|get|set|unset`, and `config --key K --value V`."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from .. import config as cfg
from ..errors import UsageError
from .context import Context, add_json


def register(sub: Any) -> None:
    group = sub.add_parser("config", help="settings shared by every worker of the store")
    group.add_argument("--key", help="with --value: set KEY (same as `config set`)")
    group.add_argument("--value", help="the value for --key")
    add_json(group)
    group.set_defaults(handler=config_group)
    csub = group.add_subparsers(dest="config_command", metavar="ACTION")
    p = csub.add_parser("list", aliases=["show"], help="every setting, with its default")
    add_json(p)
    p.set_defaults(handler=config_list)
    keys = _keys_help()
    p = csub.add_parser(
        "get",
        help="one value (every value without KEY)",
        epilog=keys,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key", nargs="?", help="a setting (- or _ both work); see below")
    add_json(p)
    p.set_defaults(handler=config_get)
    p = csub.add_parser(
        "set",
        help="set KEY to VALUE",
        description="Set KEY to VALUE for every worker and CLI of this store.\n"
        "Jobs copy the job settings (max_retries, backoff_base, job_timeout) when enqueued.",
        epilog=keys,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key", help="a setting (- or _ both work); see below")
    p.add_argument("value", help="a number in the range shown below")
    add_json(p)
    p.set_defaults(handler=config_set)
    p = csub.add_parser(
        "unset",
        help="back to the default",
        epilog=keys,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key", help="a setting (- or _ both work); see below")
    add_json(p)
    p.set_defaults(handler=config_unset)


def _keys_help() -> str:
    width = max(len(name) for name in cfg.KEYS)
    lines = ["keys (default, range: meaning):"]
    for key in cfg.KEYS.values():
        default = cfg.format_value(key.default)
        lines.append(f"  {key.name:<{width}}  {default}, {key.describe_range()}: {key.help}")
    aliases = ", ".join(f"{alias} = {name}" for alias, (name, _) in cfg.ALIASES.items())
    text = f"aliases: {aliases} (poll_interval_ms in milliseconds)"
    lines.append(textwrap.fill(text, 88, subsequent_indent="  "))
    return "\n".join(lines)


def config_group(args: argparse.Namespace, ctx: Context) -> int:
    if args.key is None and args.value is None:
        return config_list(args, ctx)
    if args.key is None:
        raise UsageError("--value needs --key")
    if args.value is None:
        return config_get(args, ctx)
    return config_set(args, ctx)


def config_list(args: argparse.Namespace, ctx: Context) -> int:
    q = ctx.queue()
    values = q.config().as_dict()
    if ctx.json:
        ctx.emit_json(values)
        return 0
    from . import render

    render.config_table(values, set(q.config_stored()))
    return 0


def config_get(args: argparse.Namespace, ctx: Context) -> int:
    if args.key is None:
        return config_list(args, ctx)
    key = cfg.resolve_key(args.key)[0].name  # an unknown key fails before the store opens
    value = ctx.queue().config_get(args.key)
    if ctx.json:
        ctx.emit_json({key: value})
    else:
        ctx.say(cfg.format_value(value))
    return 0


def config_set(args: argparse.Namespace, ctx: Context) -> int:
    cfg.parse_value(args.key, args.value)  # validate before the store opens
    name, value = ctx.queue(create=True).config_set(args.key, args.value)
    if ctx.json:
        ctx.emit_json({name: value})
    else:
        ctx.say(f"{name} = {cfg.format_value(value)}")
    return 0


def config_unset(args: argparse.Namespace, ctx: Context) -> int:
    name = cfg.resolve_key(args.key)[0].name
    ctx.queue(create=True).config_unset(args.key)
    default = cfg.KEYS[name].default
    if ctx.json:
        ctx.emit_json({name: default})
    else:
        ctx.say(f"{name} = {cfg.format_value(default)} (default)")
    return 0
