"""The store reads and the batch revive that the dashboard needs, on every store."""

from __future__ import annotations

from queuectl.lifecycle import State
from queuectl.models import JobFilter, Outcome
from queuectl.store import Store

from .conftest import StoreFactory
from .test_contract import T0, claim, new, result


def kill(store: Store, job_id: str, error: str = "exit code 1", at: float = T0 + 1) -> None:
    """Claim ``job_id`` (it must be the next due job) and bury it with ``error``."""
    job = claim(store, now=at)
    assert job is not None and job.id == job_id
    assert store.finish(job, result(ok=False, at=at, error=error), Outcome(State.DEAD, None))


def pages(store: Store, where: JobFilter, limit: int, window: int | None = None) -> list[list[str]]:
    found: list[list[str]] = []
    before: int | None = None
    while True:
        jobs, before = store.page_jobs(where, before, limit, window)
        found.append([j.id for j in jobs])
        if before is None:
            return found
        assert len(found) < 50, "paging does not end"


def test_pages_by_key_newest_first(store: Store) -> None:
    store.insert_jobs([new(f"j{i:02d}", queue="odd" if i % 2 else "even") for i in range(25)])
    assert pages(store, JobFilter(), 10) == [
        [f"j{i:02d}" for i in range(24, 14, -1)],
        [f"j{i:02d}" for i in range(14, 4, -1)],
        [f"j{i:02d}" for i in range(4, -1, -1)],
    ]
    assert pages(store, JobFilter(), 25) == [[f"j{i:02d}" for i in range(24, -1, -1)]]
    assert pages(store, JobFilter(queue="odd"), 5)[2] == ["j03", "j01"]
    # A new job does not shift the pages already handed out (no OFFSET).
    _, cursor = store.page_jobs(JobFilter(), None, 10, None)
    store.insert_jobs([new("late")])
    assert [j.id for j in store.page_jobs(JobFilter(), cursor, 3, None)[0]] == ["j14", "j13", "j12"]


def test_filters_combine(store: Store) -> None:
    store.insert_jobs(
        [
            new("build-1", command="make build", queue="ci"),
            new("test-1", command="make test", queue="ci"),
            new("mail-1", command="send-mail --to ops", queue="mail"),
            new("test-2", command="pytest", queue="ci"),
        ]
    )
    kill(store, "build-1", "exit code 2")
    kill(store, "test-1", "timed out after 5s")

    def ids(**kw: object) -> list[str]:
        return [j.id for j in store.page_jobs(JobFilter(**kw), None, 50, None)[0]]  # type: ignore[arg-type]

    assert ids(state=State.DEAD) == ["test-1", "build-1"]
    assert ids(state=State.DEAD, queue="mail") == []
    assert ids(text="make") == ["test-1", "build-1"]
    assert ids(text="test") == ["test-2", "test-1"]  # the id or the command
    assert ids(text="MAKE") == []  # case-sensitive, as grep is
    assert ids(text="%") == [] and ids(text="_") == []  # no wildcards
    assert ids(state=State.PENDING, text="mail") == ["mail-1"]
    assert ids(error="exit code 2") == ["build-1"]
    assert ids(state=State.DEAD, error="timed out after 5s") == ["test-1"]


def test_a_text_search_reads_one_window_at_a_time(store: Store) -> None:
    store.insert_jobs([new(f"j{i:02d}", command="hit" if i in (2, 17) else "x") for i in range(20)])
    # Windows of 6 seqs: the first page holds j17, the next ones j02, some come back empty.
    found = pages(store, JobFilter(text="hit"), 10, window=6)
    assert [i for page in found for i in page] == ["j17", "j02"]
    assert [] in found and len(found) >= 3
    # Without a text a page is never cut short.
    assert pages(store, JobFilter(), 30, window=None) == [[f"j{i:02d}" for i in range(19, -1, -1)]]


def test_queue_load(store: Store) -> None:
    store.insert_jobs([new("a-dead", queue="a", max_retries=0)])
    kill(store, "a-dead")
    store.insert_jobs(
        [
            new("a-run", queue="a", run_at=T0 - 30),
            new("a-ready", queue="a"),
            new("a-later", queue="a", run_at=T0 + 3600),
            new("b-ready", queue="b"),
            new("c-done", queue="c", run_at=T0 - 60),
        ]
    )
    job = claim(store, now=T0 + 1)
    assert job is not None and job.id == "c-done"
    store.finish(job, result(), Outcome(State.COMPLETED, None))
    assert claim(store, now=T0 + 1, queues=["a"]).id == "a-run"  # type: ignore[union-attr]
    loads = {q.queue: q for q in store.queue_load(T0 + 2)}
    assert set(loads) == {"a", "b"}  # c has only finished jobs
    a, b = loads["a"], loads["b"]
    assert (a.ready, a.scheduled, a.processing, a.dead) == (1, 1, 1, 1)
    assert a.oldest_ready_at == T0
    assert (b.ready, b.scheduled, b.processing, b.dead) == (1, 0, 0, 0)


def test_finished_per_minute(store: Store) -> None:
    minute = 60 * (int(T0) // 60 + 10)
    store.insert_jobs([new(f"j{i}") for i in range(5)])
    for i, (ok, at) in enumerate(
        [(True, minute + 1), (False, minute + 2), (True, minute + 61), (True, minute - 120)]
    ):
        job = claim(store, now=at - 0.5)
        assert job is not None and job.id == f"j{i}"
        outcome = Outcome(State.COMPLETED if ok else State.FAILED, None if ok else at + 99)
        assert store.finish(job, result(ok=ok, at=at), outcome)
    running = claim(store, now=minute + 62)  # running: not finished, not counted
    assert running is not None
    counts = [tuple(m) for m in store.finished_per_minute(minute)]
    assert counts == [(minute, 1, 1), (minute + 60.0, 1, 0)]
    # A forced stop's interrupted attempt neither completed nor failed.
    assert store.release(running, minute + 63, interrupted=result(ok=False, at=minute + 63))
    counts = [tuple(m) for m in store.finished_per_minute(minute)]
    assert counts == [(minute, 1, 1), (minute + 60.0, 1, 0)]


def test_dead_groups(store: Store) -> None:
    store.insert_jobs([new(f"d{i}", max_retries=0) for i in range(4)])
    for i, error in enumerate(["exit code 1", "exit code 2", "exit code 1", "exit code 1"]):
        kill(store, f"d{i}", error, at=T0 + 1 + i)
    groups = store.dead_groups(10)
    assert [(g.error, g.size, g.latest_at) for g in groups] == [
        ("exit code 1", 3, T0 + 4),
        ("exit code 2", 1, T0 + 2),
    ]
    assert len(store.dead_groups(1)) == 1


def test_revive_some_moves_only_dead_jobs(store: Store) -> None:
    store.insert_jobs([new("d1", max_retries=0), new("d2", max_retries=0), new("p")])
    kill(store, "d1")
    kill(store, "d2")
    assert sorted(store.revive_some(["d1", "p", "nope", "d1"], T0 + 5)) == ["d1"]
    d1, d2, p = (store.get_job(i) for i in ("d1", "d2", "p"))
    assert d1 is not None and (d1.state, d1.attempts, d1.next_run_at) == (State.PENDING, 0, T0 + 5)
    assert d2 is not None and d2.state is State.DEAD
    assert p is not None and p.updated_at == T0  # untouched
    assert store.revive_some(["d1"], T0 + 6) == []


def test_the_change_marker_moves_with_other_writers(open_new: StoreFactory) -> None:
    watcher, writer = open_new(), open_new()
    first = watcher.change_marker()
    assert watcher.change_marker() == first  # nothing happened
    writer.insert_jobs([new("a")])
    second = watcher.change_marker()
    assert second != first
    job = claim(writer)
    assert job is not None
    third = watcher.change_marker()
    assert third != second
