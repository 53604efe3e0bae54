"""Recurring schedules (SPEC §12): what a SCHEDULE means, and when its slots fall.

Pure functions over epoch seconds: no clock reads and no store; the caller passes every
time in. That is what lets every supervisor fire schedules without a leader: they all
compute the same slots from the same schedule, the slot is part of the job's id
(``nightly@20261206T030000Z``), and the store refuses a second job with that id.

Five-field expressions are evaluated by cronsim, which follows Debian cron, daylight-saving
changes included (docs/cron.md compares it with croniter). This module only expands the
nicknames, adds ``@every``, and guards the one place where cronsim can answer with a time
before the one it was asked about.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import ValidationError
from .timeutil import parse_duration, to_iso

CATCH_UP_RULES = ("latest", "none", "all")
#: ``--catch-up all`` enqueues at most this many missed slots (the most recent ones).
MAX_CATCH_UP = 1000
#: The longest ``@every`` (a longer wait is what @yearly is for).
MAX_EVERY = 10 * 366 * 86400

#: crontab(5) on Debian. @reboot is not here: a queue has no boot to run at.
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = "minute hour day-of-month month day-of-week"

# A schedule's name starts its jobs' ids (NAME@20261206T030000Z, NAME@manual-...), so it
# takes the job-id alphabet without "@" (the separator) and leaves room for the longest suffix.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,104}")
_COMPOUND = re.compile(r"(?:\d+[dhms])+")
_PART = re.compile(r"(\d+)([dhms])")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# Going backwards cronsim can miss a slot of a repeated hour, so backward steps only
# estimate where a window of slots begins; forward steps, from this much earlier, decide.
_MARGIN = 86400


class Schedule(NamedTuple):
    """A parsed SCHEDULE. Exactly one of ``cron`` and ``every`` is set."""

    expression: str  # as the user wrote it, whitespace collapsed
    tz: str  # the IANA zone the cron fields are read in
    cron: str | None  # five fields, nicknames expanded
    every: int | None  # @every: whole seconds
    anchor: int | None  # @every: creation time rounded up; slots are anchor + k*every, k >= 1


class Plan(NamedTuple):
    """What one look at a schedule decides (see :func:`plan`)."""

    fire: list[float]  # slots to enqueue, oldest first
    missed: list[float]  # missed slots that get no job (the most recent MAX_CATCH_UP at most)


def parse(expression: str, tz: str = "UTC", *, created_at: float) -> Schedule:
    """Validate a SCHEDULE and zone; ``created_at`` anchors ``@every`` slots."""
    zone = _zone(tz)
    text = " ".join(expression.split())
    lowered = text.lower()
    if lowered == "@every" or lowered.startswith("@every "):
        every = _every_seconds(text[len("@every") :].strip())
        return Schedule(text, tz, None, every, math.ceil(created_at))
    if text.startswith("@"):
        cron = NICKNAMES.get(lowered)
        if cron is None:
            known = " ".join([*NICKNAMES, "@every DURATION"])
            raise ValidationError(f"unknown schedule {text!r}; the nicknames are {known}")
    else:
        cron = text
        if len(cron.split()) != 5:
            raise ValidationError(
                f"bad schedule {text!r}: a schedule has five fields ({FIELDS}), "
                "a nickname such as @daily, or @every DURATION"
            )
    try:
        next(CronSim(cron, datetime.fromtimestamp(created_at, zone)))
    except CronSimError as exc:
        reason = str(exc)[:1].lower() + str(exc)[1:]
        raise ValidationError(f"bad schedule {text!r}: {reason} (fields: {FIELDS})") from None
    except StopIteration:
        raise ValidationError(f"schedule {text!r} never fires") from None
    return Schedule(text, tz, cron, None, None)


def check_catch_up(rule: str) -> str:
    if rule not in CATCH_UP_RULES:
        raise ValidationError(
            f"--catch-up must be one of {', '.join(CATCH_UP_RULES)}, not {rule!r}"
        )
    return rule


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ValidationError(
            f"bad schedule name {name!r}: use 1-104 of A-Z a-z 0-9 . _ : - "
            "(it starts the ids of the schedule's jobs)"
        )
    return name


def next_fire(schedule: Schedule, after: float) -> float | None:
    """The first slot strictly after ``after``; None if there is none within 50 years."""
    return next(_forward(schedule, after), None)


def next_fires(schedule: Schedule, after: float, count: int) -> list[float]:
    """The next ``count`` slots after ``after`` (fewer only if the schedule runs out)."""
    return list(itertools.islice(_forward(schedule, after), count))


def slots_between(
    schedule: Schedule, start: float, end: float, limit: int = MAX_CATCH_UP
) -> list[float]:
    """The most recent ``limit`` slots in (start, end], oldest first.

    The work is bounded by ``limit``, not by the length of the window: a minutely schedule
    that was down for a year costs as much as one down for a day.
    """
    if end <= start or limit <= 0:
        return []
    if schedule.every is not None:
        every, anchor = schedule.every, _anchor(schedule)
        last = (math.floor(end) - anchor) // every
        first = max(1, (math.floor(start) - anchor) // every + 1, last - limit + 1)
        return [float(anchor + k * every) for k in range(first, last + 1)]
    window: deque[float] = deque(maxlen=limit)
    for slot in _forward(schedule, _window_start(schedule, start, end, limit)):
        if slot > end:
            break
        if slot > start:
            window.append(slot)
    return list(window)


def catch_up(schedule: Schedule, since: float, until: float, rule: str) -> list[float]:
    """The missed slots in (since, until] that the catch-up rule enqueues, oldest first."""
    if check_catch_up(rule) == "none":
        return []
    return slots_between(schedule, since, until, 1 if rule == "latest" else MAX_CATCH_UP)


def plan(
    schedule: Schedule, *, checked_until: float, now: float, awake_since: float, rule: str
) -> Plan:
    """Decide the slots in (checked_until, now].

    ``checked_until`` is how far any supervisor has already looked; ``awake_since`` is since
    when supervisors have run without a gap. A slot after ``awake_since`` fell due while one
    ran, so it fires; a slot before it was missed, and the catch-up ``rule`` decides.
    """
    rule = check_catch_up(rule)
    cut = min(max(awake_since, checked_until), now)
    missed = slots_between(schedule, checked_until, cut)
    # Each rule enqueues a newest-first part of what was missed: none, one, or all of it.
    kept = {"none": 0, "latest": min(1, len(missed)), "all": len(missed)}[rule]
    on_time = slots_between(schedule, cut, now)
    return Plan(missed[len(missed) - kept :] + on_time, missed[: len(missed) - kept])


def slot_job_id(name: str, slot: float) -> str:
    """``NAME@20261206T030000Z``: one id per slot, so a second writer of it is refused."""
    return f"{name}@{_stamp(slot)}"


def manual_job_id(name: str, now: float) -> str:
    """``NAME@manual-20261206T030501Z`` for ``cron run``."""
    return f"{name}@manual-{_stamp(now)}"


def job_env(name: str, scheduled_at: float) -> dict[str, str]:
    """What a schedule's job finds in its environment besides its own ``env``."""
    return {"QUEUECTL_CRON_NAME": name, "QUEUECTL_SCHEDULED_AT": str(to_iso(scheduled_at))}


def _forward(schedule: Schedule, after: float) -> Iterator[float]:
    """The slots after ``after``, in order."""
    if schedule.every is not None:
        every, anchor = schedule.every, _anchor(schedule)
        first = max(1, (math.floor(after) - anchor) // every + 1)
        return (float(anchor + k * every) for k in itertools.count(first))
    return _cron_forward(schedule, after)


def _cron_forward(schedule: Schedule, after: float) -> Iterator[float]:
    assert schedule.cron is not None
    start = datetime.fromtimestamp(after, _zone(schedule.tz))
    for moment in CronSim(schedule.cron, start):
        slot = moment.timestamp()
        # cronsim reads fixed-time jobs on the wall clock. Asked from inside the second pass
        # of a repeated hour, it answers with a wall-clock time of the first pass, which is
        # before `after` (and was a slot already). Only later answers are slots after it.
        if slot > after:
            yield slot


def _window_start(schedule: Schedule, start: float, end: float, limit: int) -> float:
    """A time at or after ``start`` from which going forward meets at least the last
    ``limit`` slots before ``end``: found by stepping back ``limit`` slots from ``end``."""
    assert schedule.cron is not None
    after_end = datetime.fromtimestamp(math.floor(end) + 1, _zone(schedule.tz))
    back = CronSim(schedule.cron, after_end, reverse=True)
    for count, moment in enumerate(back, start=1):
        slot = moment.timestamp()
        if slot <= start:
            break
        if count >= limit:
            return max(start, slot - _MARGIN)
    return start


def _anchor(schedule: Schedule) -> int:
    assert schedule.anchor is not None
    return schedule.anchor


def _zone(name: str) -> ZoneInfo:
    if name == "localtime" or name.startswith("right/"):
        # localtime differs from host to host and right/ zones count leap seconds: either
        # would let two supervisors disagree on a slot.
        raise ValidationError(f"time zone {name!r} is not allowed; use a name such as Europe/Oslo")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Oslo, "
            "America/New_York or UTC"
        ) from None


def _every_seconds(text: str) -> int:
    example = "e.g. @every 90s, @every 5m, @every 1h30m"
    if not text:
        raise ValidationError(f"@every needs a duration ({example})")
    try:
        seconds = parse_duration(text)
    except ValueError:
        if not _COMPOUND.fullmatch(text):
            raise ValidationError(f"@every {text!r}: not a duration ({example})") from None
        seconds = sum(int(n) * _UNIT[unit] for n, unit in _PART.findall(text))
    # Slots lie on whole seconds (SPEC §12), so the interval is whole seconds too.
    if seconds < 1 or seconds != int(seconds) or seconds > MAX_EVERY:
        raise ValidationError(
            f"@every {text!r}: the interval must be whole seconds, from 1s to {MAX_EVERY // 86400}d"
        )
    return int(seconds)


def _stamp(ts: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(math.floor(ts)))
