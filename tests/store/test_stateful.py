"""A model of the job lifecycle, driven through a real store by Hypothesis.

Each example starts from a fresh store and applies a random sequence of what queue users
and workers do: enqueue, claim, succeed, fail, lose a lease, come back late, force-stop,
revive from the DLQ, change config. After every step the store must agree with a tiny
model and keep the invariants: each job is in exactly one state, attempts never exceed its
budget (max_retries, at least one) and a dead job spent exactly that, a processing job always
has a holder and a lease, and the counts match the listed jobs.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from queuectl.config import Config
from queuectl.lifecycle import CLAIMABLE, State, after_attempt, on_lease_expired
from queuectl.models import AttemptResult, Job, NewJob, Outcome
from queuectl.store import Store, open_store

from ..pg import isolated_schema

T0 = 1_900_000_000.0
LEASE = 30.0
WORKERS = ["w1", "w2", "w3"]

UrlSource = Callable[[], AbstractContextManager[str]]


class Lifecycle(RuleBasedStateMachine):
    url_source: UrlSource  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self._stack = ExitStack()
        self.store: Store = open_store(self._stack.enter_context(self.url_source()))
        self.now = T0
        self.ids = itertools.count()
        self.expected: dict[str, State] = {}
        self.max_retries: dict[str, int] = {}
        self.held: dict[str, Job] = {}  # job id -> the claim its current holder got
        self.stale: list[Job] = []  # claims whose lease was lost
        self.config = Config(max_backoff=5.0)

    def teardown(self) -> None:
        self.store.close()
        self._stack.close()

    @initialize()
    def start(self) -> None:
        self.enqueue(2, 1)

    # --- what users do ------------------------------------------------------------------

    @rule(
        count=st.integers(1, 3),
        retries=st.integers(0, 2),
        delay=st.sampled_from([0, 0, 5]),
        priority=st.integers(-1, 1),
    )
    def enqueue(self, count: int, retries: int, delay: int = 0, priority: int = 0) -> None:
        batch = []
        for _ in range(count):
            job_id = f"j{next(self.ids)}"
            batch.append(
                NewJob(
                    id=job_id,
                    command="true",
                    queue="default",
                    priority=priority,
                    max_retries=retries,
                    backoff_base=2.0,
                    timeout=None,
                    run_at=self.now + delay,
                    cwd="/",
                    env={},
                    created_at=self.now,
                )
            )
            self.expected[job_id] = State.PENDING
            self.max_retries[job_id] = retries
        self.store.insert_jobs(batch)

    @rule(everything=st.booleans())
    def dlq_retry(self, everything: bool) -> None:
        dead = sorted(i for i, s in self.expected.items() if s is State.DEAD)
        if everything:
            revived = self.store.revive(None, self.now)
            assert sorted(revived) == dead
        elif dead:
            assert self.store.revive(dead[:1], self.now) == dead[:1]
            dead = dead[:1]
        for job_id in dead:
            self.expected[job_id] = State.PENDING

    @rule(value=st.integers(0, 5))
    def change_config(self, value: int) -> None:
        self.store.config_set("max_retries", str(value))
        assert self.store.config_items()["max_retries"] == str(value)

    @rule(seconds=st.sampled_from([1.0, 3.0, 10.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    # --- what workers do ----------------------------------------------------------------

    @rule(worker=st.sampled_from(WORKERS))
    def claim(self, worker: str) -> None:
        job = self.store.claim(worker, None, self.now, self.now + LEASE)
        due = [i for i, s in self.expected.items() if s in CLAIMABLE]
        if job is None:
            # Nothing claimable may be due right now.
            for job_id in due:
                stored = self.store.get_job(job_id)
                assert stored is not None and (stored.next_run_at or 0) > self.now
            return
        assert job.id in due and job.worker_id == worker
        self.expected[job.id] = State.PROCESSING
        self.held[job.id] = job

    def _finish(self, ok: bool, then_claim: bool = False) -> None:
        job_id = sorted(self.held)[0]
        job = self.held.pop(job_id)
        result = AttemptResult(
            0 if ok else 1, None if ok else "exit code 1", False, self.now, self.now
        )
        outcome = after_attempt(job, result, self.config)
        if not then_claim:
            assert self.store.finish(job, result, outcome)
            self.expected[job_id] = outcome.state
            return
        worker = job.worker_id or ""
        done, nxt = self.store.finish_and_claim(
            job, result, outcome, worker, None, self.now, self.now + LEASE
        )
        assert done
        self.expected[job_id] = outcome.state
        if nxt is not None:
            assert self.expected[nxt.id] in CLAIMABLE
            assert nxt.worker_id == worker
            self.expected[nxt.id] = State.PROCESSING
            self.held[nxt.id] = nxt

    @precondition(lambda self: self.held)
    @rule()
    def succeed(self) -> None:
        self._finish(True)

    @precondition(lambda self: self.held)
    @rule()
    def fail(self) -> None:
        self._finish(False)

    @precondition(lambda self: self.held)
    @rule(ok=st.booleans())
    def finish_and_claim_next(self, ok: bool) -> None:
        self._finish(ok, then_claim=True)

    @precondition(lambda self: self.held)
    @rule()
    def force_stop(self) -> None:
        job_id = sorted(self.held)[0]
        assert self.store.release(self.held.pop(job_id), self.now)
        self.expected[job_id] = State.PENDING

    @rule(frozen=st.booleans())
    def leases_expire(self, frozen: bool) -> None:
        """Every holder goes silent (or, with ``frozen``, only time passes) past the lease."""
        self.now += LEASE + 1 if frozen else 0
        for job in self.store.expired(self.now):
            assert job.lease_expires_at is not None and job.lease_expires_at < self.now
            result, outcome = on_lease_expired(job, self.now, self.config)
            assert self.store.recover(job, result, outcome)
            self.expected[job.id] = outcome.state
            self.stale.append(self.held.pop(job.id))
        if self.stale:
            self.late_result_is_fenced()  # the frozen worker wakes up at once...

    @precondition(lambda self: self.stale)
    @rule()
    def late_result_is_fenced(self) -> None:
        """...or much later, when its job may be held by another worker."""
        job = self.stale.pop()
        ok = AttemptResult(0, None, False, self.now, self.now)
        assert not self.store.finish(job, ok, Outcome(State.COMPLETED, None))
        assert not self.store.release(job, self.now)
        holder = job.worker_id or ""
        assert self.store.heartbeat(holder, job, self.now, self.now + LEASE, 0)[1] is False

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def store_matches_the_model(self) -> None:
        counts = self.store.count_jobs()
        assert sum(counts.values()) == len(self.expected)
        seen: dict[str, State] = {}
        for state in State:
            listed = self.store.list_jobs(state=state)
            assert len(listed) == counts[state]
            for job in listed:
                assert job.id not in seen  # exactly one state per job
                seen[job.id] = state
                assert job.attempts <= job.allowed_attempts
                if state is State.DEAD:
                    assert job.attempts == job.allowed_attempts  # seeds: attempts == max_retries
                if state is State.FAILED:
                    assert job.attempts < job.allowed_attempts  # a retry is still to come
                assert job.runs >= job.attempts
                if state is State.PROCESSING:
                    assert job.worker_id is not None and job.lease_expires_at is not None
                else:
                    assert job.worker_id is None and job.lease_expires_at is None
                if state in CLAIMABLE:
                    assert job.next_run_at is not None
                assert len(self.store.attempts(job.id)) == job.runs
        assert seen == self.expected


@contextmanager
def _sqlite_url(folder: Path) -> Iterator[str]:
    yield str(Path(tempfile.mkdtemp(dir=folder)) / "model.db")


def test_lifecycle_model(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if store_kind == "postgres":
        base = request.getfixturevalue("pg_base_url")
        Lifecycle.url_source = staticmethod(lambda: isolated_schema(base))  # type: ignore[assignment]
    else:
        Lifecycle.url_source = staticmethod(lambda: _sqlite_url(tmp_path))  # type: ignore[assignment]
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(max_examples=40, stateful_step_count=30, deadline=None),
    )
