from __future__ import annotations

import pytest

from queuectl.timeutil import EARLIEST, LATEST, format_duration, parse_duration, parse_iso, to_iso


def test_iso_round_trip() -> None:
    ts = 1_800_000_000.25
    text = to_iso(ts)
    assert text == "2027-01-15T08:00:00.250Z"
    assert parse_iso(text) == ts


def test_to_iso_none() -> None:
    assert to_iso(None) is None


def test_to_iso_never_rounds_up_to_1000ms() -> None:
    assert to_iso(1.9996) == "1970-01-01T00:00:01.999Z"


def test_offsets_are_honoured() -> None:
    assert parse_iso("2030-01-01T02:00:00+02:00") == parse_iso("2030-01-01T00:00:00Z")


@pytest.mark.parametrize("text", ["2030-01-01T00:00:00", "tomorrow", "", "2030-13-01T00:00:00Z"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("2.5", 2.5), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), (" 3 ", 3)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-5", "5x", "m", "1e3", "nan", "5 m s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(0.0123) == "12ms"
    assert format_duration(12.34) == "12.3s"
    assert format_duration(245) == "4m05s"
    assert format_duration(None) == "-"


def test_every_year_from_1_to_9999_prints_as_iso_8601() -> None:
    assert to_iso(EARLIEST) == "0001-01-01T00:00:00.000Z"
    assert to_iso(LATEST) == "9999-12-31T23:59:59.999Z"
    for text in ("0001-01-01T00:00:00.000Z", "0999-06-30T12:00:00.000Z"):
        assert to_iso(parse_iso(text)) == text


@pytest.mark.parametrize("text", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_times_outside_the_years_1_to_9999_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="outside the years 1-9999"):
        parse_iso(text)
