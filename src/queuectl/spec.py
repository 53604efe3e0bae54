"""Turning what a user typed into validated jobs.

A job spec is a JSON object with the fields of SPEC §3. Every problem is reported as a
``ValidationError`` that names the field (and, in a batch, the line or item), so that a
user can fix it without guessing. Config values that the spec leaves out are copied in
here, at enqueue time, so later ``config set`` changes do not rewrite queued jobs.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .config import Config
from .errors import ValidationError
from .models import NewJob
from .timeutil import parse_iso

MAX_COMMAND_BYTES = 128 * 1024
MAX_TIMEOUT = 10 * 365 * 86400.0
PRIORITY_RANGE = (-(2**31), 2**31 - 1)
ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
QUEUE_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,64}")

FIELDS = (
    "id",
    "command",
    "max_retries",
    "timeout",
    "priority",
    "run_at",
    "queue",
    "backoff_base",
    "cwd",
    "env",
)
ALIASES = {"timeout_s": "timeout"}
#: The other fields of a job record as seed 003 prints one, so that a pasted record
#: enqueues. They may only describe a new job; the store sets the timestamps itself.
RECORD_FIELDS = ("state", "attempts", "next_retry_at", "created_at", "updated_at")
NEW_JOB = "a new job starts pending with 0 attempts"


_pool = ""  # random hex digits, handed out 19 at a time
_pool_pos = 0
_pool_pid = 0
_last_ms = -1
_last_prefix = ""
# The UUID variant nibble (binary 10xx) from any hex digit: keeps its two low bits.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def _random_hex19() -> str:
    """19 random hex digits from the OS, fetched 400 ids' worth at a time (one system call
    per id costs as much as the rest of validating a job). Refilled after a fork, so that
    two processes never hand out the same digits."""
    global _pool, _pool_pos, _pool_pid
    if _pool_pos + 19 > len(_pool) or _pool_pid != os.getpid():
        _pool, _pool_pos, _pool_pid = os.urandom(3800).hex(), 0, os.getpid()
    start = _pool_pos
    _pool_pos += 19
    return _pool[start : start + 19]


def new_id() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits.

    Time first, so that new jobs land next to each other in the id index instead of all
    over it (a bulk enqueue of random UUID4s is markedly slower); still a standard UUID,
    unique without coordination. Built without importing :mod:`uuid`, which the CLI's
    start-up would pay for, and from hex text, because a batch makes 100,000 of them.
    """
    global _last_ms, _last_prefix
    ms = time.time_ns() // 1_000_000
    if ms != _last_ms:  # a batch makes many ids per millisecond: format the time once
        _last_ms, _last_prefix = ms, f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7"
    r = _random_hex19()
    return f"{_last_prefix}{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:]}"


# --- field checks: each takes the raw JSON value and returns the clean one ----------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value[:40]!r} is not a valid id: use 1-128 characters from A-Z a-z 0-9 . _ : @ -"
        )
    return value


def check_command(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    if value.isascii():
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 in argv
            raise ValueError("is not valid UTF-8") from None
    if size > MAX_COMMAND_BYTES:
        raise ValueError(f"is {size} bytes; the limit is {MAX_COMMAND_BYTES} (128 KiB)")
    return value


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            value = int(value)
        else:
            raise ValueError(f"must be a whole number, not {_kind(value)}")
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}, got {value}")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def check_max_retries(value: Any) -> int:
    return _int(value, 0, 1_000_000)


def check_priority(value: Any) -> int:
    return _int(value, *PRIORITY_RANGE)


def check_timeout(value: Any) -> float | None:
    if value is None:
        return None
    number = _float(value)
    if not 0 < number <= MAX_TIMEOUT:
        raise ValueError(
            f"must be a number of seconds > 0 (at most {MAX_TIMEOUT:.0f}), got {value}"
        )
    return number


def check_backoff_base(value: Any) -> float:
    number = _float(value)
    if not 1 <= number <= 1_000_000:
        raise ValueError(f"must be >= 1 (and at most 1000000), got {value}")
    return number


def check_run_at(value: Any) -> float:
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string, not {_kind(value)}")
    return parse_iso(value)


def check_queue(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    if not QUEUE_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value[:40]!r} is not a valid queue name: use 1-64 characters from "
            "A-Z a-z 0-9 . _ : @ -"
        )
    return value


def check_cwd(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    if not value or "\x00" in value:
        raise ValueError("must be a non-empty path without NUL bytes")
    return value


def check_env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"must be an object of strings, not {_kind(value)}")
    clean: dict[str, str] = {}
    for key, item in value.items():
        if not key or "=" in key or "\x00" in key:
            raise ValueError(f"variable name {key!r} is not valid")
        if not isinstance(item, str):
            raise ValueError(f"value of {key!r} must be a string, not {_kind(item)}")
        if "\x00" in item:
            raise ValueError(f"value of {key!r} must not contain NUL bytes")
        clean[key] = item
    return clean


def _as_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def check_state(value: Any) -> None:
    if value != "pending":
        raise ValueError(f"{NEW_JOB}, not {_as_json(value)}")


def check_attempts(value: Any) -> None:
    if isinstance(value, bool) or value != 0:
        raise ValueError(f"{NEW_JOB}, not {_as_json(value)}")


def check_next_retry_at(value: Any) -> None:
    if value is not None:
        raise ValueError(
            f"{NEW_JOB} and no retry scheduled (null), not {_as_json(value)}; run_at delays a job"
        )


def ignored(value: Any) -> None:
    return None


CHECKS: dict[str, Callable[[Any], Any]] = {
    "id": check_id,
    "command": check_command,
    "max_retries": check_max_retries,
    "timeout": check_timeout,
    "priority": check_priority,
    "run_at": check_run_at,
    "queue": check_queue,
    "backoff_base": check_backoff_base,
    "cwd": check_cwd,
    "env": check_env,
    "state": check_state,
    "attempts": check_attempts,
    "next_retry_at": check_next_retry_at,
    "created_at": ignored,
    "updated_at": ignored,
}


def _checked(name: str, value: Any) -> Any:
    try:
        return CHECKS[name](value)
    except ValueError as exc:
        raise ValidationError(f"{name}: {exc}") from None


def unknown_field(name: str) -> ValidationError:
    import difflib

    close = difflib.get_close_matches(name, [*FIELDS, *ALIASES, *RECORD_FIELDS], n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValidationError(f"unknown field {name!r}{hint}; known fields: {', '.join(FIELDS)}")


def build(spec: Any, config: Config, cwd: str, now: float) -> NewJob:
    """Validate one job spec (a mapping from JSON or from CLI options) into a ``NewJob``."""
    if not isinstance(spec, Mapping):
        raise ValidationError(f"a job must be a JSON object, not {_kind(spec)}")
    if len(spec) == 1 and "command" in spec:
        # The shape of most batch lines: skip the general loop (100,000 lines add up).
        return NewJob(
            new_id(),
            _checked("command", spec["command"]),
            "default",
            0,
            config.max_retries,
            config.backoff_base,
            config.job_timeout or None,
            now,
            cwd,
            {},
            now,
        )
    clean: dict[str, Any] = {}
    for raw_name, value in spec.items():
        name = raw_name
        check = CHECKS.get(name)
        if check is None:  # an alias, or a field that does not exist
            name = ALIASES.get(raw_name, "")
            check = CHECKS.get(name)
            if check is None:
                raise unknown_field(str(raw_name))
        if name in clean:
            raise ValidationError(f"{raw_name}: given twice (also as {name!r})")
        try:
            clean[name] = check(value)
        except ValueError as exc:
            raise ValidationError(f"{raw_name}: {exc}") from None
    if "command" not in clean:
        raise ValidationError("command: is required")
    # An explicit null means "no timeout", even when the config sets a default one.
    timeout = clean.get("timeout", config.job_timeout or None)
    job_cwd = clean.get("cwd", cwd)
    if job_cwd is not cwd and not os.path.isabs(job_cwd):
        job_cwd = os.path.normpath(os.path.join(cwd, job_cwd))
    get = clean.get
    return NewJob(  # positional: this runs for every line of a 100,000-job file
        get("id") or new_id(),
        clean["command"],
        get("queue", "default"),
        get("priority", 0),
        get("max_retries", config.max_retries),
        get("backoff_base", config.backoff_base),
        timeout,
        get("run_at", now),
        job_cwd,
        get("env", {}),
        now,
    )


# --- JSON input --------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"field {key!r} appears twice")
        result[key] = value
    return result


# One decoder for every line: json.loads(text, **options) would build a new one each call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)


def loads(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity, repeated keys and very deep nesting."""
    try:
        value, end = _DECODER.raw_decode(text, _skip_space(text))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _skip_space(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _skip_space(text: str, start: int = 0) -> int:
    while start < len(text) and text[start] in " \t\n\r":
        start += 1
    return start


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    return f"invalid JSON: {exc}"


def parse_spec_argument(text: str) -> Mapping[str, Any]:
    """The JSON object given as the COMMAND argument of ``enqueue``."""
    try:
        value = loads(text)
    except ValueError as exc:
        raise ValidationError(_json_error(exc)) from None
    if not isinstance(value, dict):
        raise ValidationError(f"a job must be a JSON object, not {_kind(value)}")
    return value


def parse_batch(text: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, spec)`` from one JSON object, a JSON array, or JSON Lines."""
    stripped = text.strip()
    if not stripped:
        raise ValidationError("the file holds no jobs")
    if stripped[0] == "[":
        try:
            value = loads(stripped)
        except ValueError as exc:
            raise ValidationError(_json_error(exc)) from None
        if not isinstance(value, list):
            raise ValidationError("expected a JSON array of job objects")
        if not value:
            raise ValidationError("the array holds no jobs")
        for index, item in enumerate(value):
            yield f"item {index}", item
        return
    lines = text.splitlines()
    if len([ln for ln in lines if ln.strip()]) > 1:
        # Either JSON Lines, or one object pretty-printed over many lines.
        try:
            whole = loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            yield "the object", whole
            return
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = loads(line)
            except ValueError as exc:
                raise ValidationError(f"line {number}: {_json_error(exc)}") from None
            yield f"line {number}", item
        return
    try:
        value = loads(stripped)
    except ValueError as exc:
        raise ValidationError(_json_error(exc)) from None
    yield "the object", value


def build_batch(
    items: Iterator[tuple[str, Any]], config: Config, cwd: str, now: float
) -> list[NewJob]:
    """Validate every spec of a batch; the first error names its line or item."""
    jobs: list[NewJob] = []
    seen: dict[str, str] = {}
    for where, spec in items:
        try:
            job = build(spec, config, cwd, now)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}") from None
        if job.id in seen:
            raise ValidationError(f"{where}: id {job.id!r} repeats {seen[job.id]}")
        seen[job.id] = where
        jobs.append(job)
    return jobs
