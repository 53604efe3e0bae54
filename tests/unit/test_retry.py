from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.retry import backoff_delay


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
