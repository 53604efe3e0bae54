from __future__ import annotations

import pytest

from queuectl.errors import InvalidTransition
from queuectl.states import CLAIMABLE, TERMINAL, TRANSITIONS, Event, State, next_state, sources


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (State.PENDING, Event.CLAIM, State.PROCESSING),
        (State.FAILED, Event.CLAIM, State.PROCESSING),
        (State.PROCESSING, Event.SUCCEED, State.COMPLETED),
        (State.PROCESSING, Event.RETRY, State.FAILED),
        (State.PROCESSING, Event.BURY, State.DEAD),
        (State.PROCESSING, Event.RELEASE, State.PENDING),
        (State.DEAD, Event.REVIVE, State.PENDING),
    ],
)
def test_allowed_transitions(state: State, event: Event, expected: State) -> None:
    assert next_state(state, event) is expected


def test_every_other_pair_is_refused() -> None:
    refused = 0
    for state in State:
        for event in Event:
            if (state, event) in TRANSITIONS:
                continue
            refused += 1
            with pytest.raises(InvalidTransition):
                next_state(state, event)
    assert refused == len(State) * len(Event) - len(TRANSITIONS)


def test_terminal_states_only_leave_by_revive() -> None:
    assert sources(Event.REVIVE) == {State.DEAD}
    for state in TERMINAL:
        assert [e for (s, e) in TRANSITIONS if s is state] in ([], [Event.REVIVE])
    with pytest.raises(InvalidTransition):
        next_state(State.COMPLETED, Event.CLAIM)


def test_claimable_matches_the_claim_edges() -> None:
    assert sources(Event.CLAIM) == CLAIMABLE == {State.PENDING, State.FAILED}


def test_results_only_from_processing() -> None:
    for event in (Event.SUCCEED, Event.RETRY, Event.BURY, Event.RELEASE):
        assert sources(event) == {State.PROCESSING}
