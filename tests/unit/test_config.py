from __future__ import annotations

import pytest

from queuectl.config import KEYS, Config, get_value, parse_value, resolve_key
from queuectl.errors import ValidationError


def test_defaults() -> None:
    c = Config()
    assert (c.max_retries, c.backoff_base, c.max_backoff, c.backoff_jitter) == (3, 2.0, 3600, 0)
    assert (c.job_timeout, c.worker_count, c.lease_timeout, c.output_limit) == (0, 1, 30, 65536)
    assert set(c.as_dict()) == set(KEYS)


@pytest.mark.parametrize("spelling", ["max_retries", "max-retries", "MAX-RETRIES", " max_retries "])
def test_key_spellings(spelling: str) -> None:
    assert resolve_key(spelling)[0].name == "max_retries"


@pytest.mark.parametrize(
    ("alias", "key", "factor"),
    [
        ("job_timeout_s", "job_timeout", 1),
        ("lock_timeout_s", "lease_timeout", 1),
        ("max_backoff_s", "max_backoff", 1),
        ("poll_interval_ms", "poll_interval", 0.001),
        ("poll-interval-ms", "poll_interval", 0.001),
    ],
)
def test_aliases(alias: str, key: str, factor: float) -> None:
    found, scale = resolve_key(alias)
    assert (found.name, scale) == (key, factor)


def test_unknown_key_names_the_choices() -> None:
    with pytest.raises(ValidationError) as err:
        resolve_key("max_retry")
    assert "did you mean 'max_retries'" in err.value.message
    assert "backoff_base" in err.value.message


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("max_retries", "5", 5),
        ("backoff_base", "1.5", 1.5),
        ("backoff_base", "3", 3.0),
        ("job_timeout", "0", 0.0),
        ("poll_interval_ms", "250", 0.25),
        ("backoff_jitter", "1", 1.0),
        ("output_limit", "0", 0),
    ],
)
def test_parse_value(key: str, raw: str, expected: float) -> None:
    assert parse_value(key, raw)[1] == expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("max_retries", "-1"),
        ("max_retries", "2.5"),
        ("max_retries", "many"),
        ("backoff_base", "0.5"),
        ("backoff_base", "nan"),
        ("backoff_base", "inf"),
        ("max_backoff", "0"),
        ("backoff_jitter", "1.5"),
        ("worker_count", "0"),
        ("lease_timeout", "0"),
        ("lease_timeout", "0.02"),
        ("lease_timeout", "0.999"),
        ("lock_timeout_s", "0.5"),
        ("poll_interval", "0"),
        ("output_limit", "-5"),
        ("max_retries", "1e3"),
        ("max_retries", "99999999999"),
    ],
)
def test_bad_values(key: str, raw: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_value(key, raw)
    assert key in err.value.message


def test_from_stored_ignores_unknown_and_garbage() -> None:
    c = Config.from_stored({"max_retries": "7", "retired_key": "1", "backoff_base": "x"})
    assert c.max_retries == 7
    assert c.backoff_base == 2.0


def test_lease_timeout_has_a_floor_the_heartbeat_can_honour() -> None:
    assert parse_value("lease_timeout", "1") == ("lease_timeout", 1.0)
    # A value stored before the floor existed is raised to it, not used as is.
    assert Config.from_stored({"lease_timeout": "0.02"}).lease_timeout == 1.0
    assert Config.from_stored({"max_backoff": "0", "max_retries": "-3"}).max_backoff == 3600


def test_get_value_in_the_units_of_the_spelling() -> None:
    c = Config(poll_interval=0.25)
    assert get_value(c, "poll_interval") == 0.25
    assert get_value(c, "poll_interval_ms") == 250
