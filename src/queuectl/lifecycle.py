"""The job lifecycle: its states, the moves between them, and what happens to a job next.

    pending ──claim──▶ processing ──succeed──▶ completed
       ▲                   │
       │                   ├─ retry ──▶ failed ──claim (when next_run_at is due)──▶ processing
       │                   ├─ bury ───▶ dead   (the dead letter queue)
       ├──── release ──────┘  (forced stop: the attempt is kept, not spent)
       └──── revive ────────── dead

This module is the one home of these rules. Python asks it what happens next
(``after_attempt``, ``on_lease_expired``, ``on_forced_stop``, ``on_revive``), and the stores'
SQL takes its guards from it: a named statement says ``{from:revive}`` or ``{claimable}``
and ``store/queries.py`` renders that from the table below (``guard``, ``literal``), so an
illegal move fails in the database as well, by the same rule.

Adding a state is an edit here (``State``, its edges in ``TRANSITIONS``, the sets it
belongs to) plus a migration that widens the ``state`` CHECK constraint and rebuilds any
partial index whose set changed; ``tests/store/test_lifecycle_sql.py`` fails until the
migrated schema agrees with this table.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from .errors import InvalidTransition
from .models import AttemptResult, Outcome
from .retry import backoff_delay

if TYPE_CHECKING:
    from .models import Job


class State(StrEnum):
    # Declared in the order guards list them: SQLite matches a query to a partial index by
    # its predicate's text, so a rendered guard must read exactly like the index's.
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"


class Event(StrEnum):
    CLAIM = "claim"
    SUCCEED = "succeed"
    RETRY = "retry"
    BURY = "bury"
    RELEASE = "release"
    REVIVE = "revive"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.PENDING, Event.CLAIM): State.PROCESSING,
    (State.FAILED, Event.CLAIM): State.PROCESSING,
    (State.PROCESSING, Event.SUCCEED): State.COMPLETED,
    (State.PROCESSING, Event.RETRY): State.FAILED,
    (State.PROCESSING, Event.BURY): State.DEAD,
    (State.PROCESSING, Event.RELEASE): State.PENDING,
    (State.DEAD, Event.REVIVE): State.PENDING,
}

#: The state every new job starts in.
INITIAL = State.PENDING
#: States a worker may claim from (once ``next_run_at`` is due).
CLAIMABLE: frozenset[State] = frozenset({State.PENDING, State.FAILED})
#: States in which a worker holds the job under a lease (and may lose it).
LIVE: frozenset[State] = frozenset({State.PROCESSING})
#: States that will not change again without a person asking.
TERMINAL: frozenset[State] = frozenset({State.COMPLETED, State.DEAD})
#: The dead letter queue: what `dlq list` shows, `dlq retry` revives and `dlq clear` deletes.
DLQ: frozenset[State] = frozenset({State.DEAD})
#: A worker's result: the moves that end an attempt.
RESULTS = (Event.SUCCEED, Event.RETRY, Event.BURY)


def next_state(state: State, event: Event) -> State:
    """The state after ``event`` happens to a job in ``state``; raises if it cannot happen."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"a {state} job cannot {event}") from None


def sources(*events: Event) -> frozenset[State]:
    """Every state from which one of ``events`` is allowed."""
    return frozenset(s for (s, e) in TRANSITIONS if e in events)


def target(event: Event) -> State:
    """The one state ``event`` leads to, from whichever state it starts."""
    (found,) = {t for (_, e), t in TRANSITIONS.items() if e is event}
    return found


# --- what happens to a job next -------------------------------------------------------


class RetrySettings(Protocol):
    """The retry policy's store-wide settings (``Config`` has them)."""

    @property
    def max_backoff(self) -> float: ...

    @property
    def backoff_jitter(self) -> float: ...


#: The error an attempt ends with when its worker stopped renewing the lease.
LEASE_EXPIRED = "worker lost: its lease expired"


def after_attempt(
    job: Job,
    result: AttemptResult,
    policy: RetrySettings,
    rand: Callable[[], float] | None = None,
) -> Outcome:
    """What an ended attempt does to its job: complete it, retry it after a backoff, or
    bury it in the DLQ once it has had ``max_retries`` attempts (``job.attempts`` already
    counts this one; SPEC §3: 0 and 1 both mean one run)."""
    if result.ok:
        return Outcome(next_state(job.state, Event.SUCCEED), None)
    if job.attempts >= job.max_retries:
        return Outcome(next_state(job.state, Event.BURY), None)
    delay = backoff_delay(
        job.attempts, job.backoff_base, policy.max_backoff, policy.backoff_jitter, rand
    )
    return Outcome(next_state(job.state, Event.RETRY), result.finished_at + delay)


def on_lease_expired(job: Job, now: float, policy: RetrySettings) -> tuple[AttemptResult, Outcome]:
    """A job whose worker went silent: its attempt ends now as failed (the command may have
    run, so the attempt is spent) and the retry policy decides the rest."""
    result = AttemptResult(
        exit_code=None,
        error=LEASE_EXPIRED,
        timed_out=False,
        started_at=job.updated_at,
        finished_at=now,
    )
    return result, after_attempt(job, result, policy)


def on_forced_stop(job: Job, now: float) -> Outcome:
    """A forced stop (or a claim given back unstarted): the job is due again at once, and
    the attempt does not count against its budget (an interrupted one stays in the history,
    marked so)."""
    return Outcome(next_state(job.state, Event.RELEASE), now)


def on_revive(now: float) -> Outcome:
    """``dlq retry``: a dead job is due again at once, with a fresh retry budget."""
    return Outcome(target(Event.REVIVE), now)
