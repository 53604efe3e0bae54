"""Secrets stay out of listings, and commands run exactly as they were given."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import QUEUECTL, Cli, Workers, detached_pid, wait_for
from ..pg import isolated_schema


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


def _with_password(url: str) -> tuple[str, str]:
    """``url`` with a password in its user part (trust authentication ignores it), and the
    password; a URL that has one already keeps it."""
    scheme, _, rest = url.partition("://")
    userinfo, at, hosts = rest.partition("@")
    if not at:
        userinfo, hosts = "postgres", rest
    user, colon, password = userinfo.partition(":")
    if colon and len(password) >= 4:
        return url, password
    password = "Sup3rSecretPw"
    return f"{scheme}://{user}:{password}@{hosts}", password


@pytest.mark.postgres
def test_the_postgres_password_never_shows(
    tmp_path: Path, pg_base_url: str, supervisors: list[int]
) -> None:
    with isolated_schema(pg_base_url) as plain:
        url, password = _with_password(plain)
        cli = Cli.fresh(url, tmp_path)
        cli.ok(
            "enqueue",
            f"env | grep ^QUEUECTL_DB=; {QUEUECTL} enqueue true --id from-job",
            "--id",
            "peek",
        )
        w = Workers(cli, "--count", "1")
        try:
            wait_for(lambda: cli.counts()["completed"] == 2, what="the job and the one it enqueued")
        finally:
            w.stop()
        # Not in the foreground log, and not in the job's environment, which still names the
        # store (without the password) so that a job can enqueue more work.
        assert "supervisor_started" in w.log() and password not in w.log()
        assert 'store="postgresql://' in w.log() and ":***@" in w.log()
        seen = cli.ok("logs", "peek").out
        assert seen.startswith("QUEUECTL_DB=postgresql://") and password not in seen
        # Nor in the detached log file, nor in status, nor in an error.
        started = cli.ok("worker", "start", "--detach")
        supervisors.append(detached_pid(started.out))
        log_file = Path(started.out.rsplit("log: ", 1)[1].strip())
        cli.ok("worker", "stop")
        assert "supervisor_started" in log_file.read_text()
        assert password not in log_file.read_text()
        assert password not in cli.ok("status").out + cli.ok("init").out
        wrong_port = url.replace(url.split("@", 1)[1].split("/", 1)[0], "127.0.0.1:1", 1)
        cli.env["QUEUECTL_STORE_TIMEOUT"] = "1"
        failed = cli.run("--db", wrong_port, "status")
        assert failed.code == 1 and failed.err.startswith("error: ")
        assert password not in failed.err
