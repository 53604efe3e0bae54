"""The job state machine, as data.

    pending ──claim──▶ processing ──succeed──▶ completed
       ▲                   │
       │                   ├─ retry ──▶ failed ──claim (when next_run_at is due)──▶ processing
       │                   ├─ bury ───▶ dead   (the dead letter queue)
       ├──── release ──────┘  (forced stop: the attempt is kept, not spent)
       └──── revive ────────── dead

Stores turn each event into a guarded UPDATE (``WHERE state IN sources(event)``), so an
illegal move fails in the database, not only here.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidTransition


class State(StrEnum):
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

#: States a worker may claim from (once ``next_run_at`` is due).
CLAIMABLE: frozenset[State] = frozenset({State.PENDING, State.FAILED})
#: States that will not change again without a person asking.
TERMINAL: frozenset[State] = frozenset({State.COMPLETED, State.DEAD})


def next_state(state: State, event: Event) -> State:
    """The state after ``event`` happens to a job in ``state``; raises if it cannot happen."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"a {state} job cannot {event}") from None


def sources(event: Event) -> frozenset[State]:
    """Every state from which ``event`` is allowed."""
    return frozenset(s for (s, e) in TRANSITIONS if e is event)
