"""Schedules (SPEC §12): parsing, next fires, daylight saving, catch-up and slot ids."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuectl import schedule as sched
from queuectl.errors import ValidationError
from queuectl.spec import ID_PATTERN


def utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%MZ")


def fires(expr: str, tz: str, start: str, count: int) -> list[str]:
    s = sched.parse(expr, tz, created_at=utc(start))
    return [iso(t) for t in sched.next_fires(s, utc(start), count)]


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("expr", "start", "expected"),
    [
        ("*/15 9-17 * * mon-fri", "2026-12-04T16:50Z", ["2026-12-04T17:00Z", "2026-12-04T17:15Z"]),
        ("0 0 * * 7", "2026-12-01T00:00Z", ["2026-12-06T00:00Z", "2026-12-13T00:00Z"]),  # 7=Sun
        ("0 0 * * SUN", "2026-12-01T00:00Z", ["2026-12-06T00:00Z", "2026-12-13T00:00Z"]),
        ("0 12 1 jan,Jul *", "2026-02-01T00:00Z", ["2026-07-01T12:00Z", "2027-01-01T12:00Z"]),
        ("5,35 */6 * * *", "2026-12-06T05:00Z", ["2026-12-06T06:05Z", "2026-12-06T06:35Z"]),
        ("0 0 1-1/2 * *", "2026-12-06T00:00Z", ["2027-01-01T00:00Z", "2027-02-01T00:00Z"]),
        # Debian: with both day fields restricted, either one matching is enough.
        ("0 0 13 * fri", "2026-12-01T00:00Z", ["2026-12-04T00:00Z", "2026-12-11T00:00Z"]),
        # ... but a day field starting with "*" makes it AND (Debian's DOM_STAR/DOW_STAR).
        ("0 0 */1 * fri", "2026-12-01T00:00Z", ["2026-12-04T00:00Z", "2026-12-11T00:00Z"]),
        ("  0\t3  * * *  ", "2026-12-06T00:00Z", ["2026-12-06T03:00Z", "2026-12-07T03:00Z"]),
    ],
)
def test_five_fields_mean_what_debian_cron_means(
    expr: str, start: str, expected: list[str]
) -> None:
    assert fires(expr, "UTC", start, len(expected)) == expected


@pytest.mark.parametrize(
    ("nickname", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_nicknames_fire_as_their_fields(nickname: str, fields: str) -> None:
    start = "2026-12-06T10:20Z"
    assert fires(nickname, "Europe/Oslo", start, 3) == fires(fields, "Europe/Oslo", start, 3)
    assert sched.parse(nickname, created_at=0).expression == nickname


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("", "five fields"),
        ("* * * *", "five fields"),
        ("0 0 0 * * *", "five fields"),  # cronsim's seconds field is not cron
        ("61 * * * *", "bad minute"),
        ("* 24 * * *", "bad hour"),
        ("0 0 32 * *", "bad day-of-month"),
        ("0 0 30 2 *", "bad day-of-month"),  # no February has a 30th
        ("0 0 * 13 *", "bad month"),
        ("0 0 * * 8", "bad day-of-week"),
        ("5-1 * * * *", "bad minute"),
        ("*/0 * * * *", "bad minute"),
        ("0 0 * * funday", "bad day-of-week"),
        ("@reboot", "unknown schedule"),
        ("@fortnightly", "unknown schedule"),
        ("@every", "needs a duration"),
        ("@every soon", "not a duration"),
        ("@every 0s", "whole seconds"),
        ("@every 1.5s", "whole seconds"),
        ("@every 20000d", "whole seconds"),
    ],
)
def test_bad_schedules_say_why(expr: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        sched.parse(expr, created_at=0)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/oslo", "", "../etc/passwd", "Europe"])
def test_unknown_zones_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        sched.parse("@daily", zone, created_at=0)


@pytest.mark.parametrize("zone", ["localtime", "right/Europe/Oslo"])
def test_zones_that_differ_between_hosts_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        sched.parse("@daily", zone, created_at=0)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789*/,-@ LWSUNMONJANdehmsvery#?", max_size=24))
def test_any_text_parses_or_is_refused_with_a_reason(text: str) -> None:
    try:
        s = sched.parse(text, created_at=1_800_000_000)
    except ValidationError:
        return
    assert sched.next_fire(s, 1_800_000_000) is not None


# ---------------------------------------------------------------- daylight saving
#
# Debian cron(8): "Local time changes of less than three hours, such as those caused by
# the Daylight Saving Time changes, are handled in a special way. This only applies to jobs
# that run at a specific time and jobs that run with a granularity greater than one hour.
# Jobs that run more frequently are scheduled normally. If time was adjusted one hour
# forward, those jobs that would have run in the interval that has been skipped will be run
# immediately. Conversely, if time was adjusted backward, running the same job twice is
# avoided." "Specific time" means neither minute nor hour starts with "*" (Debian's
# MIN_STAR/HR_STAR flags). Expected times below are worked out by hand from that rule.
#
# Europe/Oslo 2026: 29 Mar 02:00 CET -> 03:00 CEST (01:00Z); 25 Oct 03:00 CEST -> 02:00 CET.
# America/New_York 2026: 8 Mar 02:00 EST -> 03:00 EDT (07:00Z); 1 Nov 02:00 EDT -> 01:00 EST.

# (zone, schedule, start, the next fires in UTC: "month-day hour:minute" in 2026)
DST_TABLE = [
    # A fixed-time job in the skipped hour runs once, right after the change.
    ("Europe/Oslo", "30 2 * * *", "03-28 00:00", "03-28 01:30, 03-29 01:00, 03-30 00:30"),
    ("Europe/Oslo", "0 2 * * *", "03-28 12:00", "03-29 01:00, 03-30 00:00"),
    ("Europe/Oslo", "15 1,2,3 * * *", "03-28 23:00", "03-29 00:15, 01:00, 01:15, 23:15"),
    # Hourly and finer jobs keep their pace: the hour that does not exist has no run.
    ("Europe/Oslo", "0 * * * *", "03-28 22:30", "03-28 23:00, 03-29 00:00, 01:00, 02:00"),
    ("Europe/Oslo", "*/30 2 * * *", "03-28 12:00", "03-30 00:00, 00:30"),
    # A fixed-time job in the repeated hour runs once, in the first pass.
    ("Europe/Oslo", "30 2 * * *", "10-24 12:00", "10-25 00:30, 10-26 01:30"),
    ("Europe/Oslo", "0 2 * * *", "10-24 12:00", "10-25 00:00, 10-26 01:00"),
    ("Europe/Oslo", "0 3 * * *", "10-24 12:00", "10-25 02:00, 10-26 02:00"),
    # Hourly and finer jobs run in both passes: every real hour has its run.
    ("Europe/Oslo", "0 * * * *", "10-24 22:30", "10-24 23:00, 10-25 00:00, 01:00, 02:00"),
    ("Europe/Oslo", "*/30 2 * * *", "10-24 23:45", "10-25 00:00, 00:30, 01:00, 01:30, 10-26 01:00"),
    ("America/New_York", "30 2 * * *", "03-07 12:00", "03-08 07:00, 03-09 06:30"),
    ("America/New_York", "45 1,2,3 * * *", "03-08 05:00", "03-08 06:45, 07:00, 07:45"),
    ("America/New_York", "0 * * * *", "03-08 05:30", "03-08 06:00, 07:00, 08:00"),
    ("America/New_York", "30 1 * * *", "10-31 12:00", "11-01 05:30, 11-02 06:30"),
    ("America/New_York", "0 1 * * *", "10-31 12:00", "11-01 05:00, 11-02 06:00"),
    ("America/New_York", "0 * * * *", "11-01 03:30", "11-01 04:00, 05:00, 06:00, 07:00"),
    (
        "America/New_York",
        "*/20 1 * * *",
        "11-01 04:30",
        "11-01 05:00, 05:20, 05:40, 06:00, 06:20, 06:40, 11-02 06:00",
    ),
]


def expand(times: str) -> list[str]:
    """ "03-29 00:15, 01:00" -> ISO minutes in UTC; a time without a date takes the last date."""
    out, day = [], ""
    for item in times.split(", "):
        if " " in item:
            day, item = item.split(" ")
        out.append(f"2026-{day}T{item}Z")
    return out


@pytest.mark.parametrize(("tz", "expr", "start", "expected"), DST_TABLE)
def test_daylight_saving_as_debian_cron(tz: str, expr: str, start: str, expected: str) -> None:
    want = expand(expected)
    assert fires(expr, tz, expand(start)[0], len(want)) == want


# cronsim's own DST cases (tests/test_cronsim.py, class TestDstTransitions, Europe/Riga
# 2021), run through our wrapper: it must not change what the library decided.
RIGA_CASES = [
    ("0 * * * *", "10-31 01:30", "10-31 02:00+03, 03:00+03, 03:00+02, 04:00+02"),
    ("*/30 * * * *", "03-28 02:10", "03-28 02:30+02, 04:00+03, 04:30+03"),
    ("0 */2 * * *", "10-31 01:30", "10-31 02:00+03, 04:00+02, 06:00+02"),
    ("0 */3 * * *", "10-31 01:30", "10-31 03:00+03, 03:00+02, 06:00+02"),
    ("30 1,2,3,4,5 * * *", "03-28 01:30", "03-28 02:30+02, 04:00+03, 04:30+03"),
    ("30 1,2,3,4,5 * * *", "10-31 01:30", "10-31 02:30+03, 03:30+03, 04:30+02"),
    ("0 3 * * *", "03-27 01:30", "03-27 03:00+02, 03-28 04:00+03, 03-29 03:00+03"),
    ("15 3 * * *", "10-30 00:00", "10-30 03:15+03, 10-31 03:15+03, 11-01 03:15+02"),
    ("* * * * *", "03-28 02:58", "03-28 02:59+02, 04:00+03"),
]


@pytest.mark.parametrize(("expr", "local_start", "expected"), RIGA_CASES)
def test_cronsims_own_dst_cases(expr: str, local_start: str, expected: str) -> None:
    riga = ZoneInfo("Europe/Riga")
    start = datetime.fromisoformat(f"2021-{local_start}").replace(tzinfo=riga).timestamp()
    s = sched.parse(expr, "Europe/Riga", created_at=start)
    want = [item.replace("2026-", "2021-").rstrip("Z") for item in expand(expected)]
    local = [datetime.fromtimestamp(t, riga) for t in sched.next_fires(s, start, len(want))]
    assert [f"{d:%Y-%m-%dT%H:%M}{d:%z}"[:-2] for d in local] == want


def test_asking_from_inside_the_repeated_hour_never_goes_back() -> None:
    """cronsim, asked from the second pass of a repeated hour (02:15 CET on 25 Oct), answers
    02:30 CEST, which was 45 minutes earlier. The slot after 02:15 CET is the next day's."""
    s = sched.parse("30 2 * * *", "Europe/Oslo", created_at=0)
    inside_second_pass = utc("2026-10-25T01:15Z")
    assert iso(sched.next_fire(s, inside_second_pass) or 0) == "2026-10-26T01:30Z"


DST_EXPRESSIONS = [row[1] for row in DST_TABLE] + ["*/7 * * * *", "59 1,2 * * *", "0 0 * * *"]
DST_DAYS = [
    ("Europe/Oslo", "2026-03-29T01:00Z"),
    ("Europe/Oslo", "2026-10-25T01:00Z"),
    ("America/New_York", "2026-03-08T07:00Z"),
    ("America/New_York", "2026-11-01T06:00Z"),
]


def reference_slots(s: sched.Schedule, start: float, end: float) -> list[float]:
    """Every slot in (start, end], found by stepping forward from a day before."""
    out: list[float] = []
    slot = sched.next_fire(s, start - 86400)
    while slot is not None and slot <= end:
        if slot > start:
            out.append(slot)
        slot = sched.next_fire(s, slot)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(DST_EXPRESSIONS),
    st.sampled_from(DST_DAYS),
    st.integers(min_value=-4 * 3600, max_value=4 * 3600),
    st.integers(min_value=1, max_value=8 * 3600),
)
def test_every_supervisor_computes_the_same_slots(
    expr: str, day: tuple[str, str], offset: int, length: int
) -> None:
    """Wherever a supervisor starts looking, next_fire gives the next slot of the one
    sequence, and slots_between lists exactly that sequence: that is what makes one slot
    one job id on every host."""
    tz, change = day
    s = sched.parse(expr, tz, created_at=0)
    start = utc(change) + offset + 0.25
    end = start + length
    expected = reference_slots(s, start, end)
    first = sched.next_fire(s, start)
    assert first is not None and first > start
    if expected:
        assert first == expected[0]
    assert sched.slots_between(s, start, end) == expected
    assert sched.slots_between(s, start, end, limit=2) == expected[-2:]


# ---------------------------------------------------------------- @every


def test_every_slots_start_from_the_creation_time_rounded_up() -> None:
    s = sched.parse("@every 90s", "Europe/Oslo", created_at=1000.2)
    assert (s.every, s.anchor) == (90, 1001)
    assert sched.next_fires(s, 1000.2, 3) == [1091, 1181, 1271]
    assert sched.next_fire(s, 1091) == 1181  # strictly after
    assert sched.next_fire(s, 1090.99) == 1091
    assert sched.next_fire(s, 0) == 1091  # nothing before the first interval has passed
    whole = sched.parse("@every 1m", created_at=1000.0)
    assert whole.anchor == 1000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)],
)
def test_every_durations(text: str, seconds: int) -> None:
    assert sched.parse(f"@every {text}", created_at=0).every == seconds


def test_every_windows_are_arithmetic() -> None:
    s = sched.parse("@every 1s", created_at=100)
    year = 365 * 86400.0
    slots = sched.slots_between(s, 100, 100 + year)
    assert len(slots) == sched.MAX_CATCH_UP
    assert slots[0] == 100 + year - 999 and slots[-1] == 100 + year
    assert sched.slots_between(s, 100.5, 103.5) == [101, 102, 103]
    assert sched.slots_between(s, 0, 100) == []


# ---------------------------------------------------------------- catch-up


MINUTELY = sched.parse("* * * * *", created_at=0)
T0 = utc("2026-12-06T03:00Z")


def test_catch_up_rules() -> None:
    since, until = T0 - 600, T0  # ten missed slots: 02:51 ... 03:00
    assert sched.catch_up(MINUTELY, since, until, "none") == []
    assert sched.catch_up(MINUTELY, since, until, "latest") == [T0]
    assert sched.catch_up(MINUTELY, since, until, "all") == [T0 - 540 + 60 * k for k in range(10)]
    with pytest.raises(ValidationError, match="catch-up"):
        sched.catch_up(MINUTELY, since, until, "some")


def test_catch_up_all_keeps_the_most_recent_thousand_oldest_first() -> None:
    slots = sched.catch_up(MINUTELY, T0 - 30 * 86400, T0, "all")
    assert len(slots) == 1000
    assert slots == sorted(slots)
    assert slots[-1] == T0 and slots[0] == T0 - 999 * 60


def test_plan_fires_what_fell_due_while_a_supervisor_ran() -> None:
    # A supervisor has been up since long before; it last looked 0.9 s ago.
    p = sched.plan(
        MINUTELY, checked_until=T0 - 0.9, now=T0 + 0.1, awake_since=T0 - 3600, rule="none"
    )
    assert p == sched.Plan([T0], [])


def test_plan_after_a_stop_applies_the_catch_up_rule() -> None:
    # Nobody ran from 02:50:30 until a supervisor started at 03:00:00.5, just after a slot.
    kwargs = {"checked_until": T0 - 570, "now": T0 + 61, "awake_since": T0 + 0.5}
    missed = [T0 - 540 + 60 * k for k in range(10)]
    latest = sched.plan(MINUTELY, **kwargs, rule="latest")
    assert latest == sched.Plan([T0, T0 + 60], missed[:-1])
    none = sched.plan(MINUTELY, **kwargs, rule="none")
    assert none == sched.Plan([T0 + 60], missed)
    every = sched.plan(MINUTELY, **kwargs, rule="all")
    assert every == sched.Plan([*missed, T0 + 60], [])


def test_plan_with_nothing_due() -> None:
    assert sched.plan(MINUTELY, checked_until=T0, now=T0 + 59, awake_since=0, rule="all") == (
        sched.Plan([], [])
    )


# ---------------------------------------------------------------- ids and environment


def test_slot_and_manual_ids() -> None:
    assert sched.slot_job_id("nightly", utc("2026-12-06T03:00Z")) == "nightly@20261206T030000Z"
    assert sched.manual_job_id("nightly", utc("2026-12-06T03:05Z") + 1.75) == (
        "nightly@manual-20261206T030501Z"
    )
    longest = "n" * 104
    assert ID_PATTERN.fullmatch(sched.manual_job_id(sched.check_name(longest), 4e9))
    assert ID_PATTERN.fullmatch(sched.slot_job_id(longest, 4e9))


@pytest.mark.parametrize("name", ["", "a@b", "has space", "n" * 105, "semi;colon"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValidationError, match="schedule name"):
        sched.check_name(name)


def test_job_env() -> None:
    assert sched.job_env("nightly", utc("2026-12-06T03:00Z")) == {
        "QUEUECTL_CRON_NAME": "nightly",
        "QUEUECTL_SCHEDULED_AT": "2026-12-06T03:00:00.000Z",
    }
