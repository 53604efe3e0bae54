"""What every store must do (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from queuectl.errors import Conflict, NotFound
from queuectl.lifecycle import State
from queuectl.models import AttemptResult, Job, NewJob, Outcome, WorkerInfo
from queuectl.store import Store
from queuectl.store.base import CHUNK, FIRST_CHUNK

from ..helpers import store_locked
from ..pg import isolated_schema
from .conftest import StoreFactory

T0 = 1_800_000_000.0


def new(job_id: str, **kw: object) -> NewJob:
    fields: dict[str, object] = dict(
        id=job_id,
        command="true",
        queue="default",
        priority=0,
        max_retries=3,
        backoff_base=2.0,
        timeout=None,
        run_at=T0,
        cwd="/tmp",
        env={},
        created_at=T0,
    )
    fields.update(kw)
    return NewJob(**fields)  # type: ignore[arg-type]


def result(ok: bool = True, at: float = T0 + 1, **kw: object) -> AttemptResult:
    fields: dict[str, object] = dict(
        exit_code=0 if ok else 1,
        error=None if ok else "exit code 1",
        timed_out=False,
        started_at=at - 0.5,
        finished_at=at,
        stdout=b"out",
        stderr=b"err",
        stdout_total=3,
        stderr_total=3,
    )
    fields.update(kw)
    return AttemptResult(**fields)  # type: ignore[arg-type]


def claim(store: Store, worker: str = "w1", now: float = T0 + 1, queues=None) -> Job | None:  # type: ignore[no-untyped-def]
    return store.claim(worker, queues, now, now + 30)


def test_insert_and_get(store: Store) -> None:
    store.insert_jobs([new("a", env={"K": "V"}, timeout=5.0, priority=-3)])
    job = store.get_job("a")
    assert job is not None
    assert (job.state, job.attempts, job.runs, job.timeout, job.priority) == (
        State.PENDING,
        0,
        0,
        5.0,
        -3,
    )
    assert job.env == {"K": "V"}
    assert job.next_run_at == T0
    assert store.get_job("missing") is None


def test_duplicate_id_refuses_the_whole_batch(store: Store) -> None:
    store.insert_jobs([new("a", command="original")])
    with pytest.raises(Conflict, match="'a'"):
        store.insert_jobs([new("b"), new("a", command="intruder"), new("c")])
    assert store.get_job("a").command == "original"  # type: ignore[union-attr]
    assert store.get_job("b") is None and store.get_job("c") is None


def test_claim_order_priority_then_due_then_age(store: Store) -> None:
    store.insert_jobs(
        [
            new("old-low", priority=0, run_at=T0 - 10),
            new("high", priority=5, run_at=T0),
            new("low-earlier", priority=0, run_at=T0 - 20),
            new("future-top", priority=99, run_at=T0 + 100),
            new("low-same-time", priority=0, run_at=T0 - 10),
        ]
    )
    order = []
    while (job := claim(store)) is not None:
        order.append(job.id)
    assert order == ["high", "low-earlier", "old-low", "low-same-time"]


def test_finish_and_claim_is_one_step(store: Store) -> None:
    store.insert_jobs([new("a"), new("b", run_at=T0 + 5)])
    job = claim(store)
    assert job is not None and job.id == "a"
    done, nxt = store.finish_and_claim(
        job, result(), Outcome(State.COMPLETED, None), "w1", None, T0 + 2, T0 + 32
    )
    assert done and nxt is None  # b is not due yet
    assert store.get_job("a").state is State.COMPLETED  # type: ignore[union-attr]
    store.insert_jobs([new("c")])
    job = claim(store, now=T0 + 3)
    assert job is not None and job.id == "c"
    done, nxt = store.finish_and_claim(
        job, result(ok=False), Outcome(State.FAILED, T0 + 100), "w1", None, T0 + 6, T0 + 36
    )
    assert done and nxt is not None and nxt.id == "b" and nxt.worker_id == "w1"
    assert [a.attempt for a in store.attempts("b")] == [1]


def test_a_fenced_result_still_claims_nothing_twice(store: Store) -> None:
    store.insert_jobs([new("a"), new("b")])
    stale = claim(store, "w1")
    assert stale is not None
    store.finish(stale, result(ok=False), Outcome(State.FAILED, T0))  # recovered by someone
    done, nxt = store.finish_and_claim(
        stale, result(), Outcome(State.COMPLETED, None), "w1", None, T0 + 2, T0 + 32
    )
    assert not done
    assert nxt is not None and nxt.id in ("a", "b")
    again = claim(store, "w2", now=T0 + 3)
    assert again is not None and again.id != nxt.id


def test_claim_marks_processing_and_starts_the_attempt(store: Store) -> None:
    store.register_worker(worker_info("w1"))
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    assert (job.state, job.attempts, job.runs, job.worker_id) == (State.PROCESSING, 1, 1, "w1")
    assert job.lease_expires_at is not None and T0 + 31 <= job.lease_expires_at < T0 + 32
    (attempt,) = store.attempts("a")
    assert (attempt.attempt, attempt.worker_id, attempt.finished_at) == (1, "w1", None)
    (w,) = store.list_workers()
    assert (w.state, w.current_job) == ("busy", "a")
    assert claim(store) is None


def test_claim_respects_queues(store: Store) -> None:
    store.insert_jobs(
        [new("d1"), new("e1", queue="emails", priority=1), new("r1", queue="reports", priority=2)]
    )
    assert claim(store, queues=["emails", "default"]).id == "e1"  # type: ignore[union-attr]
    assert claim(store, queues=["emails"]) is None
    assert claim(store, queues=["reports"]).id == "r1"  # type: ignore[union-attr]
    assert claim(store).id == "d1"  # type: ignore[union-attr]


def test_finish_success_and_history(store: Store) -> None:
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    assert store.finish(job, result(), Outcome(State.COMPLETED, None))
    done = store.get_job("a")
    assert done is not None
    assert (done.state, done.exit_code, done.worker_id, done.next_run_at) == (
        State.COMPLETED,
        0,
        None,
        None,
    )
    (attempt,) = store.attempts("a")
    assert attempt.finished_at == T0 + 1 and attempt.exit_code == 0
    out = store.output("a")
    assert out is not None and (out.stdout, out.stderr, out.finished) == (b"out", b"err", True)


def test_failed_job_waits_for_its_retry_time(store: Store) -> None:
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    assert store.finish(job, result(ok=False), Outcome(State.FAILED, T0 + 10))
    failed = store.get_job("a")
    assert (
        failed is not None and failed.state is State.FAILED and failed.last_error == "exit code 1"
    )
    assert claim(store, now=T0 + 9) is None
    assert store.next_due(None) == T0 + 10
    again = claim(store, now=T0 + 10)
    assert again is not None and (again.attempts, again.runs) == (2, 2)
    assert [a.attempt for a in store.attempts("a")] == [1, 2]


def test_results_are_fenced_by_worker_and_attempt(store: Store) -> None:
    store.insert_jobs([new("a")])
    first = claim(store, "w1")
    assert first is not None
    # The lease expires and the job is recovered and claimed by another worker.
    assert store.expired(T0 + 100) == [first]
    assert store.finish(first, result(ok=False, error="lost"), Outcome(State.FAILED, T0))
    second = claim(store, "w2", now=T0 + 101)
    assert second is not None and second.runs == 2
    # The first worker comes back with a late result: it must change nothing.
    assert not store.finish(first, result(), Outcome(State.COMPLETED, None))
    assert not store.release(first, T0 + 102)
    assert store.heartbeat("w1", first, T0 + 102, T0 + 200, 0)[1] is False
    current = store.get_job("a")
    assert current is not None and (current.state, current.worker_id) == (State.PROCESSING, "w2")


def test_heartbeat_extends_the_lease(store: Store) -> None:
    store.register_worker(worker_info("w1"))
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    assert store.heartbeat("w1", job, T0 + 20, T0 + 60, 0) == (0, True)
    assert store.expired(T0 + 40) == []
    assert [j.id for j in store.expired(T0 + 61)] == ["a"]


def test_a_recovery_is_fenced_by_the_lease_it_found_expired(store: Store) -> None:
    store.register_worker(worker_info("w1"))
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    (found,) = store.expired(T0 + 40)
    # Its holder renews the lease (a late heartbeat) before the recovery is written.
    assert store.heartbeat("w1", job, T0 + 40, T0 + 70, 0) == (0, True)
    lost = result(ok=False, at=T0 + 40, exit_code=None, error="worker lost")
    assert not store.recover(found, lost, Outcome(State.FAILED, T0 + 42))
    current = store.get_job("a")
    assert current is not None and (current.state, current.worker_id) == (State.PROCESSING, "w1")
    (again,) = store.expired(T0 + 80)
    assert store.recover(again, lost, Outcome(State.FAILED, T0 + 82))
    current = store.get_job("a")
    assert current is not None and current.state is State.FAILED
    assert [a.error for a in store.attempts("a")] == ["worker lost"]


def _locked_for(url: str, seconds: float, locked: threading.Event) -> None:
    with store_locked(url):
        locked.set()
        time.sleep(seconds)  # the lock held, by another session, for this long


def test_a_lease_counts_from_when_it_is_written(store: Store, db_url: str) -> None:
    """A heartbeat that waits behind a lock writes a lease that starts when it lands."""
    store.register_worker(worker_info("w1"))
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    locked = threading.Event()
    holder = threading.Thread(target=_locked_for, args=(db_url, 1.5, locked))
    holder.start()
    try:
        assert locked.wait(10)
        assert store.heartbeat("w1", job, T0 + 20, T0 + 50, 0) == (0, True)
    finally:
        holder.join()
    current = store.get_job("a")
    assert current is not None and current.lease_expires_at is not None
    assert T0 + 51.4 <= current.lease_expires_at < T0 + 60


def test_a_missing_store_is_an_error_or_an_empty_one_never_a_new_one(db_url: str) -> None:
    from queuectl.errors import StoreUnavailable
    from queuectl.store import open_store

    with pytest.raises(StoreUnavailable, match=r"no .*store"):
        open_store(db_url, create=False)
    empty = open_store(db_url, create=False, missing_ok=True)
    try:
        assert empty.missing and not empty.created
        assert empty.list_jobs() == [] and empty.list_workers() == [] and empty.expired(T0) == []
        assert empty.config_items() == {} and empty.get_job("a") is None
        with pytest.raises(StoreUnavailable, match=r"no .*store"):
            empty.config_set("max_retries", "5")
        with pytest.raises(StoreUnavailable, match=r"no .*store"):
            empty.insert_jobs([new("a")])
    finally:
        empty.close()
    made = open_store(db_url)  # it was not made behind our back
    try:
        assert made.created and not made.missing
    finally:
        made.close()


def test_release_gives_the_attempt_back(store: Store) -> None:
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    assert store.release(job, T0 + 2)
    back = store.get_job("a")
    assert back is not None and (back.state, back.attempts, back.runs) == (State.PENDING, 0, 0)
    assert store.attempts("a") == []


def test_a_forced_stop_keeps_the_attempt_as_interrupted(store: Store) -> None:
    store.insert_jobs([new("a", max_retries=0)])
    job = claim(store)
    assert job is not None
    stopped = result(ok=False, exit_code=143, error="interrupted by a forced stop")
    assert store.release(job, T0 + 2, stopped)
    assert not store.release(job, T0 + 3, stopped)  # once only
    back = store.get_job("a")
    # Pending again with its budget intact, while the history keeps what ran.
    assert back is not None and (back.state, back.attempts, back.runs) == (State.PENDING, 0, 1)
    (kept,) = store.attempts("a")
    assert (kept.attempt, kept.interrupted, kept.exit_code) == (1, True, 143)
    out = store.output("a")
    assert out is not None and (out.stdout, out.finished) == (b"out", True)
    again = claim(store, "w2", now=T0 + 4)
    assert again is not None and (again.attempts, again.runs) == (1, 2)
    assert store.finish(again, result(at=T0 + 5), Outcome(State.COMPLETED, None))
    assert [(a.attempt, a.interrupted) for a in store.attempts("a")] == [(1, True), (2, False)]


def test_revive_is_all_or_nothing(store: Store) -> None:
    store.insert_jobs([new("dead1", max_retries=0), new("dead2", max_retries=0), new("fine")])
    for _ in range(2):
        job = claim(store)
        assert job is not None
        store.finish(job, result(ok=False), Outcome(State.DEAD, None))
    with pytest.raises(NotFound, match="'nope'"):
        store.revive(["dead1", "nope"], T0 + 5)
    with pytest.raises(Conflict, match="'fine' is pending"):
        store.revive(["dead1", "fine"], T0 + 5)
    assert store.get_job("dead1").state is State.DEAD  # type: ignore[union-attr]
    assert store.revive(["dead1"], T0 + 5) == ["dead1"]
    revived = store.get_job("dead1")
    assert revived is not None
    assert (revived.state, revived.attempts, revived.runs) == (State.PENDING, 0, 1)
    assert store.revive(None, T0 + 6) == ["dead2"]
    assert store.revive(None, T0 + 6) == []


def test_purge_dead(store: Store) -> None:
    store.insert_jobs([new("a", max_retries=0), new("b")])
    job = claim(store)
    assert job is not None and job.id == "a"
    store.finish(job, result(ok=False), Outcome(State.DEAD, None))
    assert store.purge_dead() == 1
    assert store.get_job("a") is None and store.attempts("a") == []
    assert store.get_job("b") is not None


def test_counts_and_listing(store: Store) -> None:
    store.insert_jobs([new(f"j{i}", queue="q2" if i % 2 else "default") for i in range(5)])
    job = claim(store)
    assert job is not None
    counts = store.count_jobs()
    assert counts[State.PENDING] == 4 and counts[State.PROCESSING] == 1
    assert sum(counts.values()) == 5
    assert [j.id for j in store.list_jobs()] == ["j4", "j3", "j2", "j1", "j0"]
    assert [j.id for j in store.list_jobs(limit=2)] == ["j4", "j3"]
    assert [j.id for j in store.list_jobs(queue="q2")] == ["j3", "j1"]
    assert [j.id for j in store.list_jobs(state=State.PROCESSING)] == [job.id]
    ready = store.list_jobs(ready_at=T0 + 1)
    assert job.id not in [j.id for j in ready] and len(ready) == 4


def test_streamed_listing_is_the_listing(store: Store) -> None:
    count = FIRST_CHUNK + CHUNK + 7  # across every chunk boundary
    store.insert_jobs([new(f"j{i:05d}", queue="q2" if i % 3 else "default") for i in range(count)])
    job = claim(store)
    assert job is not None
    for filters in (
        {},
        {"limit": 5},
        {"limit": FIRST_CHUNK + 1},
        {"queue": "q2"},
        {"state": State.PROCESSING},
        {"state": State.PENDING, "queue": "default", "limit": 3},
        {"ready_at": T0 + 1},
        {"ready_at": T0 + 1, "queue": "default"},
    ):
        listed = store.list_jobs(**filters)  # type: ignore[arg-type]
        assert list(store.iter_jobs(**filters)) == listed, filters  # type: ignore[arg-type]
    # A stream closed early lets the store go on at once.
    stream = store.iter_jobs()
    assert next(stream).id == f"j{count - 1:05d}"
    stream.close()
    store.insert_jobs([new("after")])
    assert store.get_job("after") is not None


def test_config_round_trip(store: Store) -> None:
    assert store.config_items() == {}
    store.config_set("max_retries", "5")
    store.config_set("max_retries", "6")
    assert store.config_items() == {"max_retries": "6"}
    assert store.config_unset("max_retries") is True
    assert store.config_unset("max_retries") is False


def worker_info(worker_id: str, host: str = "h1") -> WorkerInfo:
    return WorkerInfo(
        id=worker_id,
        host=host,
        pid=123,
        queues=("a", "b"),
        state="idle",
        started_at=T0,
        heartbeat_at=T0,
        current_job=None,
        jobs_done=0,
        supervisor_pid=100,
        wake="@x",
    )


def test_worker_view_comes_from_the_jobs_it_holds(store: Store) -> None:
    store.register_worker(worker_info("w1"))
    store.insert_jobs([new("a")])
    (idle,) = store.list_workers()
    assert (idle.state, idle.current_job, idle.jobs_done) == ("idle", None, 0)
    job = claim(store)
    assert job is not None
    (busy,) = store.list_workers()
    assert (busy.state, busy.current_job) == ("busy", "a")
    store.finish(job, result(), Outcome(State.COMPLETED, None))
    store.heartbeat("w1", None, T0 + 5, T0 + 35, 1)
    (after,) = store.list_workers()
    assert (after.state, after.current_job, after.jobs_done, after.heartbeat_at) == (
        "idle",
        None,
        1,
        T0 + 5,
    )
    store.request_stop(["w1"], 1)
    assert store.list_workers()[0].state == "stopping"


def test_worker_registry_and_stop_requests(store: Store) -> None:
    store.register_worker(worker_info("w1"))
    store.register_worker(worker_info("w2"))
    assert [w.id for w in store.list_workers()] == ["w1", "w2"]
    store.request_stop(["w1"], 1)
    assert store.heartbeat("w1", None, T0 + 1, T0 + 31, 0) == (1, True)
    assert store.heartbeat("w2", None, T0 + 1, T0 + 31, 0) == (0, True)
    store.request_stop(["w1"], 2)
    store.request_stop(["w1"], 1)  # a later graceful request does not soften a force
    assert store.heartbeat("w1", None, T0 + 2, T0 + 32, 0)[0] == 2
    store.unregister_worker("w1")
    store.forget_workers(["w2"])
    assert store.list_workers() == []
    assert store.heartbeat("w1", None, T0 + 3, T0 + 33, 0)[0] is None


def test_the_stop_mark_only_moves_forward(store: Store) -> None:
    assert store.stop_mark() is None
    store.mark_stop(T0 + 5)
    store.mark_stop(T0 + 1)  # an older `worker stop` that got here late
    assert store.stop_mark() == T0 + 5
    store.mark_stop(T0 + 9)
    assert store.stop_mark() == T0 + 9


def test_concurrent_claims_never_share_a_job(open_new: StoreFactory) -> None:
    seed = open_new()
    seed.insert_jobs([new(f"j{i}", run_at=time.time() - 1) for i in range(200)])
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        s = open_new(durable=False)
        while (job := s.claim(name, None, time.time(), time.time() + 30)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(f"j{i}" for i in range(200))


def test_wake_ups_for_new_work_and_scheduled_retries(open_new: StoreFactory) -> None:
    import select

    from queuectl.host import hostname

    idle = open_new(durable=False)
    waker = idle.open_waker("w-idle")
    idle.register_worker(worker_info("w-idle", host=hostname())._replace(wake=waker.address))
    other = open_new()

    def woken() -> bool:
        ready = bool(select.select([waker.fileno()], [], [], 2.0)[0])
        waker.drain()
        return ready

    other.insert_jobs([new("a", run_at=time.time() - 1)])
    assert woken()  # new work
    job = other.claim("w1", None, time.time(), time.time() + 30)
    assert job is not None
    assert not select.select([waker.fileno()], [], [], 0.2)[0]  # a claim wakes nobody
    other.finish(job, result(ok=False), Outcome(State.FAILED, time.time() + 10))
    assert woken()  # a retry was scheduled: idle workers must re-read the next due time
    waker.close()


def test_output_of_a_running_attempt(store: Store) -> None:
    store.insert_jobs([new("a")])
    job = claim(store)
    assert job is not None
    assert store.save_output(job, result(stdout=b"partial", stdout_total=7, stderr=b""))
    out = store.output("a")
    assert out is not None and (out.stdout, out.finished) == (b"partial", False)
    store.finish(job, result(), Outcome(State.COMPLETED, None))
    assert not store.save_output(job, result(stdout=b"late"))
    assert store.output("a", 1).stdout == b"out"  # type: ignore[union-attr]
    assert store.output("a", 2) is None


def _first_uses(warm_up: str, urls: list[str], openers: int) -> list[str]:
    """``openers`` processes per URL open a store that does not exist yet, released at the
    same instant; returns the errors they met. ``warm_up`` is opened first, so that the
    forked openers do not stagger themselves importing and loading queries."""
    from queuectl.errors import QueuectlError
    from queuectl.store import open_store

    open_store(warm_up).close()
    errors: list[str] = []
    for url in urls:
        go_r, go_w = os.pipe()
        ready_r, ready_w = os.pipe()
        err_r, err_w = os.pipe()
        pids = []
        for _ in range(openers):
            pid = os.fork()
            if pid == 0:  # a first user of the store
                code = 1
                try:
                    os.close(go_w)
                    os.write(ready_w, b"+")
                    os.read(go_r, 1)  # blocks until the parent closes its end
                    s = open_store(url)
                    s.count_jobs()
                    s.close()
                    code = 0
                except QueuectlError as exc:
                    os.write(err_w, f"{exc.message}\n".encode())
                finally:
                    os._exit(code)
            pids.append(pid)
        os.close(go_r)
        os.close(err_w)
        os.close(ready_w)
        waiting = b""
        while len(waiting) < openers:
            waiting += os.read(ready_r, openers)
        os.close(ready_r)
        os.close(go_w)  # EOF: every opener starts now
        for pid in pids:
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if code:
                errors.append(f"exit {code}")
        with os.fdopen(err_r, "rb") as f:
            errors.extend(f.read().decode().splitlines())
    return errors


def test_many_first_users_of_a_new_store_all_succeed(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """SPEC §6: no first user may see a store halfway through its creation (a SQLite reader
    once met the tables before the header that marks them as queuectl's)."""
    with contextlib.ExitStack() as stack:
        if store_kind == "postgres":
            base = request.getfixturevalue("pg_base_url")
            warm_up, *urls = [stack.enter_context(isolated_schema(base)) for _ in range(4)]
        else:
            warm_up, *urls = [str(tmp_path / f"new-{i}.db") for i in range(13)]
        assert _first_uses(warm_up, urls, openers=12) == []
