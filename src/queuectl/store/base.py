"""The storage boundary: everything queuectl asks of a store.

Two implementations fill it, :mod:`.sqlite` and :mod:`.postgres`, and one contract test
suite runs against both. Rules every implementation keeps:

* Each method is one transaction: it fully happens or not at all.
* Job state changes are guarded by the state machine (``states.sources``) and, for a
  worker's results, fenced by ``(worker_id, runs)``: a result from a worker that lost its
  lease changes nothing and the method returns False.
* Busy or locked conditions are retried with bounded waits inside the store; what reaches
  the caller is ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..models import Attempt, AttemptResult, Job, NewJob, Outcome, Output, WorkerInfo
from ..states import State


class Waker(Protocol):
    """A worker's wake-up channel: readable when there may be new work."""

    address: str | None  # stored in the worker row so that enqueuers can reach it

    def fileno(self) -> int: ...

    def drain(self) -> None: ...

    def close(self) -> None: ...


class Store(Protocol):
    location: str  # where the store is, for people (a path, or a URL without password)

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    # --- jobs -------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob]) -> None:
        """Insert all or none; ``Conflict`` names the first id that already exists."""
        ...

    def get_job(self, job_id: str) -> Job | None: ...

    def list_jobs(
        self,
        *,
        state: State | None = None,
        queue: str | None = None,
        ready_at: float | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Newest first. ``ready_at``: only claimable jobs due at that time."""
        ...

    def count_jobs(self) -> dict[State, int]: ...

    def attempts(self, job_id: str) -> list[Attempt]: ...

    def output(self, job_id: str, attempt: int | None = None) -> Output | None:
        """The captured output of one attempt (the latest when ``attempt`` is None)."""
        ...

    # --- dead letter queue ------------------------------------------------------------

    def revive(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        """Move dead jobs back to pending with a fresh retry budget; None means all.

        All or nothing: ``NotFound`` or ``Conflict`` for the first id that is missing or
        not dead, and then nothing changes.
        """
        ...

    def purge_dead(self) -> int:
        """Delete every dead job and its history; returns how many."""
        ...

    # --- config -----------------------------------------------------------------------

    def config_items(self) -> dict[str, str]: ...

    def config_set(self, key: str, value: str) -> None: ...

    def config_unset(self, key: str) -> bool: ...

    # --- workers ----------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None: ...

    def unregister_worker(self, worker_id: str) -> None: ...

    def heartbeat(
        self, worker_id: str, job: Job | None, now: float, lease_until: float
    ) -> tuple[int | None, bool]:
        """Refresh the worker and extend the lease of ``job``.

        Returns the stop level requested for this worker (0 none, 1 graceful, 2 force; None
        when its registry row is gone) and whether the worker still holds ``job`` (False once
        its lease was recovered by someone else).
        """
        ...

    def list_workers(self) -> list[WorkerInfo]: ...

    def request_stop(self, worker_ids: Sequence[str], level: int) -> None: ...

    def forget_workers(self, worker_ids: Sequence[str]) -> None:
        """Remove registry rows of workers known to be gone."""
        ...

    # --- execution --------------------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, now: float, lease_until: float
    ) -> Job | None:
        """Atomically take the next due job: highest priority, then earliest due, then oldest.

        The returned job is ``processing``, holds the lease, has ``attempts`` and ``runs``
        already counted, and its attempt is in the history as started.
        """
        ...

    def save_output(self, job: Job, result_so_far: AttemptResult) -> bool:
        """Store the output captured so far of a running attempt (for ``logs --follow``)."""
        ...

    def finish(
        self, job: Job, result: AttemptResult, outcome: Outcome, *, recovered: bool = False
    ) -> bool:
        """Record the end of the attempt ``job.runs`` and move the job to ``outcome``.

        ``recovered``: someone other than the job's worker records it (lease expired), so the
        worker's "jobs done" count is left alone.
        """
        ...

    def release(self, job: Job, now: float) -> bool:
        """Put a claimed job back to pending without spending an attempt (forced stop)."""
        ...

    def expired(self, now: float, limit: int = 100) -> list[Job]:
        """Processing jobs whose lease ran out (their worker is presumed dead)."""
        ...

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        """When the earliest claimable job becomes due (None when there is none)."""
        ...

    def open_waker(self, worker_id: str) -> Waker: ...
