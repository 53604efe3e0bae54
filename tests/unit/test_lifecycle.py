"""The lifecycle table and its decisions: what happens to a job next."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.config import Config
from queuectl.errors import InvalidTransition
from queuectl.lifecycle import (
    CLAIMABLE,
    DLQ,
    INITIAL,
    LEASE_EXPIRED,
    LIVE,
    RESULTS,
    TERMINAL,
    TRANSITIONS,
    Event,
    State,
    after_attempt,
    next_state,
    on_forced_stop,
    on_lease_expired,
    on_revive,
    sources,
    target,
)
from queuectl.models import AttemptResult, Job

POLICY = Config(max_backoff=3600.0, backoff_jitter=0.0)


def job(attempts: int = 1, max_retries: int = 3, **kw: object) -> Job:
    fields: dict[str, object] = dict(
        id="j",
        command="false",
        state=State.PROCESSING,
        queue="default",
        priority=0,
        attempts=attempts,
        runs=attempts,
        max_retries=max_retries,
        backoff_base=2.0,
        timeout=None,
        run_at=0.0,
        next_run_at=None,
        created_at=0.0,
        updated_at=50.0,
        exit_code=None,
        last_error=None,
        worker_id="w1",
        lease_expires_at=130.0,
        cwd="/",
        env={},
    )
    fields.update(kw)
    return Job(**fields)  # type: ignore[arg-type]


def ended(ok: bool, at: float = 100.0) -> AttemptResult:
    return AttemptResult(0 if ok else 1, None if ok else "exit code 1", False, at - 1, at)


# --- the table --------------------------------------------------------------------------


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
    assert sources(Event.REVIVE) == DLQ == {State.DEAD}
    for state in TERMINAL:
        assert [e for (s, e) in TRANSITIONS if s is state] in ([], [Event.REVIVE])
    with pytest.raises(InvalidTransition):
        next_state(State.COMPLETED, Event.CLAIM)


def test_claimable_matches_the_claim_edges() -> None:
    assert sources(Event.CLAIM) == CLAIMABLE == {State.PENDING, State.FAILED}
    assert INITIAL in CLAIMABLE


def test_results_only_from_live_states() -> None:
    assert target(Event.CLAIM) in LIVE
    for event in (*RESULTS, Event.RELEASE):
        assert sources(event) == LIVE
    assert sources(*RESULTS) == LIVE


def test_every_state_is_reachable_from_the_initial_one() -> None:
    seen, edge = {INITIAL}, [INITIAL]
    while edge:
        state = edge.pop()
        for (s, _), t in TRANSITIONS.items():
            if s is state and t not in seen:
                seen.add(t)
                edge.append(t)
    assert seen == set(State)


def test_each_event_leads_to_one_state() -> None:
    for event in Event:
        assert {next_state(s, event) for s in sources(event)} == {target(event)}


# --- after an attempt -------------------------------------------------------------------


def test_success_completes() -> None:
    assert after_attempt(job(), ended(True), POLICY) == (State.COMPLETED, None)


def test_retries_until_the_budget_is_spent() -> None:
    # max_retries=3 (seeds 003 and 004): attempts 1 and 2 fail into a retry, 3 is the last.
    assert after_attempt(job(1), ended(False), POLICY) == (State.FAILED, 102.0)
    assert after_attempt(job(2), ended(False), POLICY) == (State.FAILED, 104.0)
    assert after_attempt(job(3), ended(False), POLICY) == (State.DEAD, None)


def test_max_retries_two_runs_twice() -> None:
    # {"command":"exit 1","max_retries":2}: two runs, then the DLQ with attempts == 2.
    assert after_attempt(job(1, 2), ended(False), POLICY).state is State.FAILED
    assert after_attempt(job(2, 2), ended(False), POLICY).state is State.DEAD


@pytest.mark.parametrize("max_retries", [0, 1])
def test_zero_and_one_both_mean_one_run(max_retries: int) -> None:
    assert after_attempt(job(1, max_retries), ended(False), POLICY).state is State.DEAD


def test_the_backoff_is_capped_and_jittered() -> None:
    capped = Config(max_backoff=3.0, backoff_jitter=0.5)
    outcome = after_attempt(job(5, 9), ended(False), capped, rand=lambda: 0.5)
    assert outcome == (State.FAILED, 100.0 + 3.0 * 1.25)


def runs_until_dead(max_retries: int) -> int:
    attempts = 1
    while after_attempt(job(attempts, max_retries), ended(False), POLICY).state is State.FAILED:
        attempts += 1
    return attempts


@given(max_retries=st.integers(min_value=0, max_value=200))
def test_a_failing_job_runs_exactly_its_budget(max_retries: int) -> None:
    """A job that always fails is dead after max_retries attempts (one when it is 0)."""
    assert runs_until_dead(max_retries) == max(1, max_retries)


@given(
    attempts=st.integers(min_value=1, max_value=10_000),
    max_retries=st.integers(min_value=0, max_value=10_000),
)
def test_bury_exactly_when_attempts_reach_max_retries(attempts: int, max_retries: int) -> None:
    outcome = after_attempt(job(attempts, max_retries), ended(False), POLICY)
    assert (outcome.state is State.DEAD) == (attempts >= max_retries)
    assert (outcome.next_run_at is None) == (outcome.state is State.DEAD)


# --- the other decisions ----------------------------------------------------------------


def test_an_expired_lease_fails_the_attempt_it_was_for() -> None:
    result, outcome = on_lease_expired(job(1), 200.0, POLICY)
    assert (result.error, result.started_at, result.finished_at) == (LEASE_EXPIRED, 50.0, 200.0)
    assert not result.ok
    assert outcome == (State.FAILED, 202.0)
    assert on_lease_expired(job(3), 200.0, POLICY)[1] == (State.DEAD, None)


def test_a_forced_stop_puts_the_job_back_due_at_once() -> None:
    assert on_forced_stop(job(3), 70.0) == (State.PENDING, 70.0)  # budget spent or not
    with pytest.raises(InvalidTransition):
        on_forced_stop(job(state=State.COMPLETED), 70.0)


def test_a_revive_makes_a_dead_job_due_at_once() -> None:
    assert on_revive(80.0) == (State.PENDING, 80.0)
