from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.retry import backoff_delay, decide
from queuectl.states import Event


def test_delay_is_base_to_the_failure_count() -> None:
    assert [backoff_delay(k, 2, 3600) for k in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_delay(2, 1.5, 3600) == pytest.approx(2.25)


def test_delay_is_capped() -> None:
    assert backoff_delay(20, 2, 60) == 60
    assert backoff_delay(10, 2, 1000) == 1000


def test_huge_exponents_do_not_overflow() -> None:
    assert backoff_delay(1_000_000, 1_000_000, 3600) == 3600


def test_base_one_waits_one_second() -> None:
    assert backoff_delay(50, 1, 3600) == 1


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, 2, 10)


def test_jitter_uses_the_random_source() -> None:
    assert backoff_delay(3, 2, 3600, jitter=0.5, rand=lambda: 0.0) == 8
    assert backoff_delay(3, 2, 3600, jitter=0.5, rand=lambda: 0.999) == pytest.approx(8 * 1.4995)


@given(
    k=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=1, max_value=1e6),
    cap=st.floats(min_value=0.001, max_value=1e9),
    jitter=st.floats(min_value=0, max_value=1),
    u=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_delay_bounds(k: int, base: float, cap: float, jitter: float, u: float) -> None:
    plain = backoff_delay(k, base, cap)
    jittered = backoff_delay(k, base, cap, jitter=jitter, rand=lambda: u)
    assert 0 < plain <= cap
    assert math.isfinite(jittered)
    assert plain <= jittered <= plain * (1 + jitter) * (1 + 1e-12)


@given(
    k=st.integers(min_value=1, max_value=60),
    base=st.floats(min_value=1.01, max_value=10),
)
def test_delays_never_shrink(k: int, base: float) -> None:
    assert backoff_delay(k, base, 1e12) <= backoff_delay(k + 1, base, 1e12)


def test_decide_retries_until_the_budget_is_spent() -> None:
    # max_retries=3 (seeds 003 and 004): attempts 1 and 2 fail into a retry, 3 is the last.
    assert decide(1, 3, 2, 3600) == (Event.RETRY, 2)
    assert decide(2, 3, 2, 3600) == (Event.RETRY, 4)
    assert decide(3, 3, 2, 3600) == (Event.BURY, None)


def test_max_retries_two_runs_twice() -> None:
    # {"command":"exit 1","max_retries":2}: two runs, then the DLQ with attempts == 2.
    assert decide(1, 2, 2, 3600).event is Event.RETRY
    assert decide(2, 2, 2, 3600).event is Event.BURY


@pytest.mark.parametrize("max_retries", [0, 1])
def test_zero_and_one_both_mean_one_run(max_retries: int) -> None:
    assert decide(1, max_retries, 2, 3600).event is Event.BURY


def runs_until_dead(max_retries: int) -> int:
    attempts = 1
    while decide(attempts, max_retries, 2, 3600).event is Event.RETRY:
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
    decision = decide(attempts, max_retries, 2, 3600)
    assert (decision.event is Event.BURY) == (attempts >= max_retries)
    assert (decision.delay is None) == (decision.event is Event.BURY)
