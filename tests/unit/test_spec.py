from __future__ import annotations

import json
from typing import Any

import pytest

from queuectl.config import Config
from queuectl.errors import ValidationError
from queuectl.spec import build, build_batch, new_id, parse_batch, parse_spec_argument

NOW = 1_800_000_000.0
CWD = "/srv/app"


def make(spec: Any, config: Config | None = None) -> Any:
    return build(spec, config or Config(), CWD, NOW)


def test_defaults_come_from_config() -> None:
    job = make({"command": "echo hi"}, Config(max_retries=5, backoff_base=3, job_timeout=10))
    assert job.command == "echo hi"
    assert (job.max_retries, job.backoff_base, job.timeout) == (5, 3, 10)
    assert (job.queue, job.priority, job.run_at, job.cwd, job.env) == ("default", 0, NOW, CWD, {})
    assert len(job.id) == 36


def test_zero_job_timeout_means_none() -> None:
    assert make({"command": "x"}).timeout is None


def test_explicit_null_timeout_overrides_config() -> None:
    assert make({"command": "x", "timeout": None}, Config(job_timeout=5)).timeout is None


def test_all_fields() -> None:
    job = make(
        {
            "id": "job-123",
            "command": "python script.py",
            "priority": 10,
            "run_at": "2030-01-01T00:00:00Z",
            "timeout_s": 300,
            "max_retries": 5,
            "backoff_base": 2.0,
            "queue": "emails",
            "cwd": "sub",
            "env": {"A": "1"},
        }
    )
    assert job.id == "job-123" and job.priority == 10 and job.timeout == 300
    assert job.run_at == 1_893_456_000.0
    assert job.cwd == "/srv/app/sub"
    assert job.env == {"A": "1"}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({}, "command: is required"),
        ({"command": ""}, "command: must not be empty"),
        ({"command": "   "}, "command: must not be empty"),
        ({"command": 5}, "command: must be a string"),
        ({"command": "a\x00b"}, "NUL"),
        ({"command": "x" * (128 * 1024 + 1)}, "128 KiB"),
        ({"command": "x", "id": ""}, "id:"),
        ({"command": "x", "id": "a b"}, "not a valid id"),
        ({"command": "x", "id": "x" * 129}, "not a valid id"),
        ({"command": "x", "id": 7}, "id: must be a string"),
        ({"command": "x", "max_retries": -1}, "max_retries: must be between 0"),
        ({"command": "x", "max_retries": True}, "max_retries: must be a whole number"),
        ({"command": "x", "max_retries": 1.5}, "max_retries: must be a whole number"),
        ({"command": "x", "max_retries": "3"}, "max_retries: must be a whole number"),
        ({"command": "x", "timeout": 0}, "timeout: must be a number of seconds > 0"),
        ({"command": "x", "timeout": -3}, "timeout"),
        ({"command": "x", "timeout": "5"}, "timeout: must be a number"),
        ({"command": "x", "priority": 2**40}, "priority: must be between"),
        ({"command": "x", "run_at": "tomorrow"}, "run_at:"),
        ({"command": "x", "run_at": "2030-01-01T00:00:00"}, "no time zone"),
        ({"command": "x", "backoff_base": 0.5}, "backoff_base: must be >= 1"),
        ({"command": "x", "queue": "a/b"}, "not a valid queue"),
        ({"command": "x", "env": {"A": 1}}, "env: value of 'A' must be a string"),
        ({"command": "x", "env": ["A=1"]}, "env: must be an object"),
        ({"command": "x", "env": {"A=B": "1"}}, "variable name"),
        ({"command": "x", "comand": "y"}, "did you mean 'command'"),
        ({"command": "x", "timeout": 1, "timeout_s": 2}, "given twice"),
        (
            {"command": "x", "state": "dead"},
            'state: a new job starts pending with 0 attempts, not "dead"',
        ),
        ({"command": "x", "state": None}, "state: a new job starts pending"),
        (
            {"command": "x", "attempts": 3},
            "attempts: a new job starts pending with 0 attempts, not 3",
        ),
        ({"command": "x", "attempts": False}, "attempts: a new job starts pending"),
        ({"command": "x", "attempts": "0"}, "attempts: a new job starts pending"),
        ({"command": "x", "next_retry_at": "2025-11-04T10:30:00Z"}, "next_retry_at: a new job"),
        ({"command": "x", "stat": "pending"}, "did you mean 'state'"),
        (["echo"], "must be a JSON object"),
    ],
)
def test_refused_specs(spec: Any, needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        make(spec)
    assert needle in err.value.message


def test_a_pasted_job_record_enqueues() -> None:
    """Seed 003 prints job records with these fields; pasted into `enqueue`, one describing
    a new job is a job spec. The store sets the timestamps itself."""
    record = {
        "id": "unique-job-id",
        "command": "echo 'Hello World'",
        "state": "pending",
        "attempts": 0,
        "max_retries": 3,
        "created_at": "2025-11-04T10:30:00Z",
        "updated_at": "2025-11-04T10:30:00Z",
        "next_retry_at": None,
    }
    job = make(record)
    assert (job.id, job.command, job.max_retries) == ("unique-job-id", "echo 'Hello World'", 3)
    assert (job.created_at, job.run_at) == (NOW, NOW)


def test_spec_argument_json_errors() -> None:
    with pytest.raises(ValidationError, match="invalid JSON"):
        parse_spec_argument('{"command": "x"')
    with pytest.raises(ValidationError, match="NaN is not allowed"):
        parse_spec_argument('{"command": "x", "timeout": NaN}')
    with pytest.raises(ValidationError, match="appears twice"):
        parse_spec_argument('{"command": "x", "command": "y"}')
    with pytest.raises(ValidationError, match="must be a JSON object"):
        parse_spec_argument("[1]")


def batch(text: str) -> list[Any]:
    return build_batch(parse_batch(text), Config(), CWD, NOW)


def test_batch_forms() -> None:
    obj = {"command": "a"}
    assert len(batch(json.dumps(obj))) == 1
    assert len(batch(json.dumps([obj, obj]))) == 2
    assert len(batch("\n".join(json.dumps(o) for o in [obj, obj, obj]) + "\n")) == 3
    assert len(batch(json.dumps(obj, indent=2))) == 1


def test_batch_errors_name_the_line_or_item() -> None:
    with pytest.raises(ValidationError, match="line 2: invalid JSON"):
        batch('{"command": "a"}\n{"command": \n')
    with pytest.raises(ValidationError, match="line 3: unknown field 'cmd'"):
        batch('{"command": "a"}\n\n{"cmd": "b"}\n')
    with pytest.raises(ValidationError, match="item 1: max_retries"):
        batch('[{"command": "a"}, {"command": "b", "max_retries": -2}]')
    with pytest.raises(ValidationError, match="item 1: id 'x' repeats item 0"):
        batch('[{"id": "x", "command": "a"}, {"id": "x", "command": "b"}]')
    with pytest.raises(ValidationError, match="no jobs"):
        batch("  \n ")
    with pytest.raises(ValidationError, match="holds no jobs"):
        batch("[]")


def test_new_ids_are_time_ordered_uuid7() -> None:
    import time
    import uuid

    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == 2000
    for value in ids:
        u = uuid.UUID(value)
        assert (u.version, u.variant, str(u)) == (7, uuid.RFC_4122, value)
        assert before <= u.int >> 80 <= after  # the first 48 bits are the creation time
    times = [uuid.UUID(v).int >> 80 for v in ids]
    assert times == sorted(times)
