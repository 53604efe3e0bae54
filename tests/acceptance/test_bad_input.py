"""Bad input: one `error:` line, exit 2 (or 1 for a missing job or a conflict), no traceback,
and a store whose contents are exactly what they were."""

from __future__ import annotations

import json

import pytest

from ..helpers import Cli, bury_next, dump_store

LINES_WITH_ONE_BAD = "\n".join(
    [
        json.dumps({"id": "b1", "command": "true"}),
        json.dumps({"id": "b2", "command": "true"}),
        '{"id": "b3", "command": }',
        json.dumps({"id": "b4", "command": "true"}),
    ]
)
BATCH_WITH_EXISTING_ID = json.dumps(
    [
        {"id": "n1", "command": "true"},
        {"id": "existing", "command": "evil"},
        {"id": "n2", "command": "x"},
    ]
)

CASES: list[tuple[str, list[str], str | None, int]] = [
    ("malformed JSON", ["enqueue", '{"command": "x"'], None, 2),
    ("command of the wrong type", ["enqueue", '{"command": 5}'], None, 2),
    ("missing command", ["enqueue", "{}"], None, 2),
    ("negative retries in JSON", ["enqueue", '{"command":"x","max_retries":-1}'], None, 2),
    ("negative retries option", ["enqueue", "true", "--max-retries", "-1"], None, 2),
    ("retries not a number", ["enqueue", "true", "--max-retries", "abc"], None, 2),
    ("fractional priority", ["enqueue", "true", "--priority", "1.5"], None, 2),
    ("huge priority", ["enqueue", "true", "--priority", "99999999999999999999"], None, 2),
    ("timeout not a duration", ["enqueue", "true", "--timeout", "5x"], None, 2),
    ("timeout with a unit and a sign", ["enqueue", "true", "--timeout", "-5m"], None, 2),
    ("negative timeout", ["enqueue", "true", "--timeout", "-5"], None, 2),
    ("NaN timeout", ["enqueue", '{"command":"x","timeout":NaN}'], None, 2),
    ("id with a space", ["enqueue", "true", "--id", "bad id"], None, 2),
    ("id too long", ["enqueue", "true", "--id", "x" * 129], None, 2),
    ("duplicate id", ["enqueue", "true", "--id", "existing"], None, 1),
    ("unknown field", ["enqueue", '{"comand":"x"}'], None, 2),
    ("pasted record of a dead job", ["enqueue", '{"command":"x","state":"dead"}'], None, 2),
    ("pasted record with attempts", ["enqueue", '{"command":"x","attempts":2}'], None, 2),
    (
        "pasted record with a retry time",
        ["enqueue", '{"command":"x","next_retry_at":"2025-11-04T10:30:00Z"}'],
        None,
        2,
    ),
    ("repeated field", ["enqueue", '{"command":"x","command":"y"}'], None, 2),
    ("field given twice", ["enqueue", '{"command":"x","priority":1}', "--priority", "2"], None, 2),
    ("run_at not a time", ["enqueue", "true", "--run-at", "tomorrow"], None, 2),
    ("run_at without zone", ["enqueue", "true", "--run-at", "2030-01-01T00:00:00"], None, 2),
    ("bad delay", ["enqueue", "true", "--delay", "5x"], None, 2),
    (
        "delay and run_at",
        ["enqueue", "true", "--delay", "5", "--run-at", "2030-01-01T00:00:00Z"],
        None,
        2,
    ),
    ("empty command", ["enqueue", ""], None, 2),
    ("blank command", ["enqueue", "   "], None, 2),
    ("NUL in command", ["enqueue", '{"command":"a\\u0000b"}'], None, 2),
    ("command over 128 KiB", ["enqueue", "-f", "-"], json.dumps({"command": "x" * 131073}), 2),
    ("10 MB command", ["enqueue", "-f", "-"], json.dumps({"command": "y" * 10_000_000}), 2),
    ("invalid UTF-8 in the command", ["enqueue", "echo \udcff"], None, 2),
    ("file that is not UTF-8", ["enqueue", "--file", "latin1.jsonl"], None, 2),
    ("number too big for JSON", ["enqueue", '{"command":"x","timeout":1e400}'], None, 2),
    ("huge max_retries", ["enqueue", '{"command":"x","max_retries":1e30}'], None, 2),
    ("Infinity in JSON", ["enqueue", '{"command":"x","backoff_base":Infinity}'], None, 2),
    ("boolean priority", ["enqueue", '{"command":"x","priority":true}'], None, 2),
    ("empty id", ["enqueue", "true", "--id", ""], None, 2),
    ("id with a slash", ["enqueue", '{"command":"x","id":"a/b"}'], None, 2),
    ("run_at in the wrong format", ["enqueue", "true", "--run-at", "31/01/2030 09:00"], None, 2),
    ("negative delay", ["enqueue", "true", "--delay", "-5"], None, 2),
    ("logs attempt not a number", ["logs", "existing", "--attempt", "two"], None, 2),
    ("show without id", ["show"], None, 2),
    ("unknown dlq action", ["dlq", "purge"], None, 2),
    ("unknown config action", ["config", "reset"], None, 2),
    ("env value not a string", ["enqueue", '{"command":"x","env":{"A":1}}'], None, 2),
    ("bad --env", ["enqueue", "true", "--env", "NOEQUALS"], None, 2),
    ("bad queue name", ["enqueue", "true", "--queue", "a b"], None, 2),
    ("JSON spec with trailing junk", ["enqueue", '{"command":"x"} and more'], None, 2),
    ("no command at all", ["enqueue"], None, 2),
    ("missing file", ["enqueue", "--file", "missing.json"], None, 2),
    ("file and command", ["enqueue", "true", "--file", "-"], "{}", 2),
    ("batch with a bad line", ["enqueue", "--file", "-"], LINES_WITH_ONE_BAD, 2),
    ("batch with an existing id", ["enqueue", "--file", "-"], BATCH_WITH_EXISTING_ID, 1),
    ("empty array", ["enqueue", "--file", "-"], "[]", 2),
    ("empty file", ["enqueue", "--file", "-"], "", 2),
    ("unknown state", ["list", "--state", "bogus"], None, 2),
    ("negative limit", ["list", "--limit", "-1"], None, 2),
    ("bad list queue", ["list", "--queue", "bad/q"], None, 2),
    ("show a missing job", ["show", "missing"], None, 1),
    ("logs of a missing job", ["logs", "missing"], None, 1),
    ("logs attempt zero", ["logs", "existing", "--attempt", "0"], None, 2),
    ("logs of a job that never ran", ["logs", "existing"], None, 1),
    ("logs of a missing attempt", ["logs", "dead-one", "--attempt", "9"], None, 1),
    ("dlq retry a missing job", ["dlq", "retry", "missing"], None, 1),
    ("dlq retry a pending job", ["dlq", "retry", "existing"], None, 1),
    ("dlq retry one good one bad", ["dlq", "retry", "dead-one", "existing"], None, 1),
    ("dlq retry without ids", ["dlq", "retry"], None, 2),
    ("dlq retry ids and --all", ["dlq", "retry", "dead-one", "--all"], None, 2),
    ("unknown config key", ["config", "set", "bogus", "1"], None, 2),
    ("negative config value", ["config", "set", "max_retries", "-1"], None, 2),
    ("config value not a number", ["config", "set", "backoff_base", "abc"], None, 2),
    ("config value out of range", ["config", "set", "backoff_jitter", "2"], None, 2),
    ("config get unknown key", ["config", "get", "bogus"], None, 2),
    ("config unset unknown key", ["config", "unset", "bogus"], None, 2),
    ("config set without value", ["config", "set", "max_retries"], None, 2),
    ("config --value without --key", ["config", "--value", "5"], None, 2),
    ("zero workers", ["worker", "start", "--count", "0"], None, 2),
    ("workers not a number", ["worker", "start", "--count", "abc"], None, 2),
    ("bad worker queue", ["worker", "start", "--queue", "a b"], None, 2),
    ("log file without detach", ["worker", "start", "--log-file", "x.log"], None, 2),
    ("--daemon with zero workers", ["worker", "start", "--daemon", "--count", "0"], None, 2),
    ("--detached with a bad queue", ["worker", "start", "--detached", "-q", "a b"], None, 2),
    ("config show with a key", ["config", "show", "max_retries"], None, 2),
    ("bad stop timeout", ["worker", "stop", "--timeout", "abc"], None, 2),
    ("zero watch interval", ["status", "--watch", "--interval", "0"], None, 2),
    ("unknown command", ["frobnicate"], None, 2),
    ("unknown option", ["list", "--colour"], None, 2),
    ("abbreviated option", ["list", "--lim", "5"], None, 2),
    ("unsupported store scheme", ["--db", "mysql://localhost/x", "list"], None, 2),
    ("web port out of range", ["web", "--port", "70000"], None, 2),
    ("web port not a number", ["web", "--port", "http"], None, 2),
    ("web on every address without a password", ["web", "--host", "0.0.0.0"], None, 2),
    ("web on a host name without a password", ["web", "--host", "example.invalid"], None, 2),
    (
        "lease below what a heartbeat can honour",
        ["config", "set", "lease_timeout", "0.02"],
        None,
        2,
    ),
    ("lease alias below the floor", ["config", "set", "lock_timeout_s", "0.5"], None, 2),
    ("delay that overflows", ["enqueue", "true", "--delay", "99999999999999999999"], None, 2),
    ("delay of 400 digits", ["enqueue", "true", "--delay", "9" * 400], None, 2),
    ("delay past the year 9999", ["enqueue", "true", "--delay", "300000000000"], None, 2),
    (
        "run_at past the year 9999",
        ["enqueue", "true", "--run-at", "9999-12-31T23:00-05:00"],
        None,
        2,
    ),
    (
        "run_at before the year 1",
        ["enqueue", "true", "--run-at", "0001-01-01T00:00+01:00"],
        None,
        2,
    ),
    (
        "run_at in JSON past 9999",
        ["enqueue", '{"command":"x","run_at":"9999-12-31T23:59-01:00"}'],
        None,
        2,
    ),
    ("deeply nested JSON file", ["enqueue", "--file", "-"], "[" * 100_000 + "]" * 100_000, 2),
    (
        "deeply nested JSON lines",
        ["enqueue", "--file", "-"],
        '{"command":"x"}\n' + "[" * 100_000,
        2,
    ),
    (
        "deeply nested JSON spec",
        ["enqueue", '{"command":"x","env":' + "[" * 50_000 + "]" * 50_000 + "}"],
        None,
        2,
    ),
    ("sqlite URL with a host", ["--db", "sqlite://host/x.db", "list"], None, 2),
    ("enqueue option misspelt after the command", ["enqueue", "echo", "--priorty", "2"], None, 2),
    ("unknown enqueue option before the command", ["enqueue", "--bogus", "echo"], None, 2),
    ("command words and --file", ["enqueue", "echo", "hi", "--file", "-"], "{}", 2),
    ("completion for an unknown shell", ["completion", "tcsh"], None, 2),
    ("completion without a shell", ["completion"], None, 2),
]


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    """The store gets a dead job (with history), a pending job, and a config value."""
    from queuectl import Queue

    with Queue(cli.db) as q:
        q.config_set("max_retries", "4")
        q.enqueue("false", id="dead-one", max_retries=0)
        assert bury_next(cli.db) == "dead-one"
        q.enqueue("true", id="existing")
    return cli


@pytest.mark.parametrize(("name", "args", "stdin", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(seeded: Cli, name: str, args: list[str], stdin: str | None, code: int) -> None:
    cli = seeded
    (cli.cwd / "latin1.jsonl").write_bytes(b'{"command": "caf\xe9"}\n')
    before = dump_store(cli.db)
    result = cli.run(*args, input=stdin)
    assert result.code == code, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    assert dump_store(cli.db) == before


def test_a_byte_order_mark_is_accepted(cli: Cli) -> None:
    lines = '{"id": "first", "command": "true"}\n{"id": "second", "command": "true"}\n'
    (cli.cwd / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + lines.encode())
    assert cli.ok("enqueue", "--file", "bom.jsonl").out.split() == ["first", "second"]
    piped = "\ufeff" + json.dumps({"id": "piped", "command": "true"})
    assert cli.ok("enqueue", "--file", "-", input=piped).out.split() == ["piped"]


@pytest.mark.parametrize("delay", ["300000000000", "99999999999999999999"])
def test_a_delay_too_far_names_the_delay(cli: Cli, delay: str) -> None:
    result = cli.run("enqueue", "true", "--delay", delay)
    assert result.code == 2 and result.err.startswith(f"error: --delay: {delay} from now is ")
    assert "run_at" not in result.err


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60
