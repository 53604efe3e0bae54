"""Settings kept in the store, so that every worker and CLI on every host shares them.

Keys accept ``-`` or ``_`` (``max-retries`` is ``max_retries``). A few aliases come from
older tools: ``job_timeout_s``, ``lock_timeout_s``, ``max_backoff_s`` and ``poll_interval_ms``
(the last one in milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from .errors import ValidationError

Number = int | float

_DAY = 86400.0
_YEAR = 365 * _DAY
# A worker renews its lease every lease_timeout / 3 and checks on its job about as often;
# below a second, an ordinary pause (a busy store, a loaded machine) outlasts the lease and
# healthy workers lose every job. Shorter values are refused rather than half honoured.
MIN_LEASE = 1.0


class Key(NamedTuple):
    name: str
    kind: type[int] | type[float]
    default: Number
    low: float
    high: float
    low_open: bool  # True when ``low`` itself is not allowed
    help: str

    def describe_range(self) -> str:
        low = f"> {_fmt(self.low)}" if self.low_open else f">= {_fmt(self.low)}"
        return f"{low} and <= {_fmt(self.high)}"


def format_value(value: Number) -> str:
    """A value for people: ``3600`` rather than ``3600.0``."""
    return _fmt(value)


def _fmt(value: Number) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("max_retries", int, 3, 0, 1_000_000, False, "most attempts a job gets (0 = one)"),
        Key("backoff_base", float, 2.0, 1, 1_000_000, False, "retry delay is base ** attempt s"),
        Key("max_backoff", float, 3600.0, 0, 10 * _YEAR, True, "cap on one retry delay (s)"),
        Key("backoff_jitter", float, 0.0, 0, 1, False, "random extra delay, fraction of it"),
        Key("job_timeout", float, 0.0, 0, 10 * _YEAR, False, "default job timeout (s), 0 = none"),
        Key("worker_count", int, 1, 1, 1024, False, "workers started by `worker start`"),
        Key(
            "lease_timeout",
            float,
            30.0,
            MIN_LEASE,
            7 * _DAY,
            False,
            "a silent worker loses its job (s)",
        ),
        Key("poll_interval", float, 0.5, 0, 3600, True, "idle re-check when no wake-up (s)"),
        Key("output_limit", int, 65536, 0, 64 * 1024 * 1024, False, "bytes of stdout/stderr kept"),
    )
}

#: alias -> (key, factor that turns the alias's unit into the key's unit)
ALIASES: dict[str, tuple[str, float]] = {
    "job_timeout_s": ("job_timeout", 1.0),
    "lock_timeout_s": ("lease_timeout", 1.0),
    "lease_timeout_s": ("lease_timeout", 1.0),
    "max_backoff_s": ("max_backoff", 1.0),
    "poll_interval_ms": ("poll_interval", 0.001),
}


def resolve_key(raw: str) -> tuple[Key, float]:
    """The key named by ``raw`` (any spelling) and the factor from its unit to the key's."""
    name = raw.strip().lower().replace("-", "_")
    if name in KEYS:
        return KEYS[name], 1.0
    if name in ALIASES:
        key, factor = ALIASES[name]
        return KEYS[key], factor
    import difflib

    choices = sorted(KEYS)
    close = difflib.get_close_matches(name, [*choices, *ALIASES], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValidationError(f"unknown config key {raw!r}{hint}; valid keys: {', '.join(choices)}")


def parse_number(text: str, kind: type[int] | type[float], what: str) -> Number:
    """Parse a number typed by a person (``5``, ``1.5``, ``2e3``); never NaN or infinity."""
    cleaned = text.strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise ValidationError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValidationError(f"{what}: must be a finite number")
    if kind is int:
        if not value.is_integer() or "." in cleaned or "e" in cleaned.lower():
            raise ValidationError(f"{what}: must be a whole number, got {text!r}")
        return int(value)
    return value


def check_range(key: Key, value: Number, what: str | None = None) -> Number:
    too_low = value <= key.low if key.low_open else value < key.low
    if too_low or value > key.high:
        raise ValidationError(f"{what or key.name}: must be {key.describe_range()}, got {value}")
    return value


def parse_value(raw_key: str, raw_value: str) -> tuple[str, Number]:
    """Validate a ``config set`` pair; returns the canonical key and the value in its unit."""
    key, factor = resolve_key(raw_key)
    value = parse_number(raw_value, key.kind if factor == 1.0 else float, raw_key)
    value = value * factor if factor != 1.0 else value
    if key.kind is float:
        value = float(value)
    return key.name, check_range(key, value, raw_key)


def encode(value: Number) -> str:
    return repr(value)


class Config(NamedTuple):
    """Effective settings: the store's values over the defaults."""

    max_retries: int = 3
    backoff_base: float = 2.0
    max_backoff: float = 3600.0
    backoff_jitter: float = 0.0
    job_timeout: float = 0.0
    worker_count: int = 1
    lease_timeout: float = 30.0
    poll_interval: float = 0.5
    output_limit: int = 65536

    @classmethod
    def from_stored(cls, stored: Mapping[str, str]) -> Config:
        """Build from the store's raw text values, ignoring keys this version does not know.

        A value outside today's range (set by an older version, say a lease below the
        minimum) is brought to the nearest allowed one, or ignored when there is none.
        """
        values: dict[str, Number] = {}
        for name, text in stored.items():
            key = KEYS.get(name)
            if key is None:
                continue
            try:
                number = float(text)
            except ValueError:
                continue
            if not math.isfinite(number) or (key.low_open and number <= key.low):
                continue
            number = min(max(number, key.low), key.high)
            values[name] = int(number) if key.kind is int else number
        return cls(**values)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Number]:
        return dict(self._asdict())


def get_value(config: Config, raw_key: str) -> Number:
    """A value as ``config get`` shows it, in the unit of the spelling used."""
    key, factor = resolve_key(raw_key)
    value: Number = getattr(config, key.name)
    if factor != 1.0:
        scaled = value / factor
        return int(scaled) if float(scaled).is_integer() else scaled
    return value


__all__ = [
    "ALIASES",
    "KEYS",
    "Config",
    "Key",
    "check_range",
    "get_value",
    "parse_number",
    "parse_value",
    "resolve_key",
]
