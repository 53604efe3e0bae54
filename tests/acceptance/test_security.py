"""Secrets stay out of listings, and commands run exactly as they were given."""

from __future__ import annotations

from ..helpers import Cli, Workers, wait_for


def test_env_values_are_not_printed_unless_asked(cli: Cli) -> None:
    cli.ok("enqueue", "true", "--id", "secret", "--env", "API_TOKEN=hunter2", "--env", "MODE=x")
    for args in (
        ["list"],
        ["list", "--json"],
        ["status"],
        ["status", "--json"],
        ["show", "secret"],
    ):
        assert "hunter2" not in cli.ok(*args).out, args
    assert cli.json("show", "secret")["env"] == ["API_TOKEN", "MODE"]
    assert cli.json("show", "secret", "--show-env")["env"] == {"API_TOKEN": "hunter2", "MODE": "x"}
    assert "API_TOKEN=hunter2" in cli.ok("show", "secret", "--show-env").out


def test_commands_run_exactly_as_given(cli: Cli, workers: list[Workers]) -> None:
    # Braces, dollars, percents and backslashes that a template engine or a second layer of
    # quoting would touch: the shell alone interprets the command, once.
    command = r"""printf '%s|' '{id}' '{{job}}' '$HOME' "%d" '\n' "a\"b" `echo sub`"""
    cli.ok("enqueue", command, "--id", "literal")
    cli.ok("enqueue", '{"id": "json-literal", "command": "echo {} %s {{x}}"}')
    workers.append(cli.workers())
    wait_for(lambda: cli.counts()["completed"] == 2, what="both jobs")
    assert cli.json("show", "literal")["command"] == command
    assert cli.json("logs", "literal")["stdout"] == r"""{id}|{{job}}|$HOME|%d|\n|a"b|sub|"""
    assert cli.json("logs", "json-literal")["stdout"] == "{} %s {{x}}\n"
