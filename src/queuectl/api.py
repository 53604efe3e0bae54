"""The Python API: ``Queue`` gives programs every operation the CLI has.

    from queuectl import Queue

    with Queue("jobs.db") as q:
        job = q.enqueue("echo hello", max_retries=5)
        print(q.get(job.id).state)

The API validates input, calls the store and returns records; it never prints.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from . import config as cfg
from . import spec
from .errors import NotFound, ValidationError
from .lifecycle import CLAIMABLE, State
from .models import (
    ActionResult,
    Attempt,
    ErrorGroup,
    Job,
    JobFilter,
    MinuteCount,
    NewJob,
    Output,
    Page,
    QueueLoad,
    WorkerInfo,
)
from .store import Store, open_store, resolve
from .timeutil import now

if TYPE_CHECKING:
    from .worker.control import Detached, StopReport
    from .worker.supervisor import Supervisor

# `Queue.list` shadows the builtin inside the class body, so its annotations use these.
Jobs = list[Job]
Ids = list[str]

PAGE_LIMIT = 500  # the most jobs one page may hold
SEARCH_WINDOW = 200_000  # jobs one text search looks through before it returns a page
TEXT_LIMIT = 200  # characters of a search text


class _StoreOptions(TypedDict):
    create: bool
    missing_ok: bool
    on_wait: Callable[[str], None] | None


class Status(NamedTuple):
    counts: dict[State, int]
    workers: list[WorkerInfo]

    @property
    def dlq(self) -> int:
        return self.counts[State.DEAD]

    def to_dict(self) -> dict[str, Any]:
        jobs: dict[str, int] = {str(s): n for s, n in self.counts.items()}
        jobs["total"] = sum(self.counts.values())
        return {"jobs": jobs, "dlq": self.dlq, "workers": [w.to_dict() for w in self.workers]}


def parse_filter(
    state: State | str | None = None,
    queue: str | None = None,
    text: str | None = None,
    error: str | None = None,
) -> JobFilter:
    """A checked ``JobFilter`` from user input (empty strings mean "any")."""
    st = parse_state(state) if isinstance(state, str) and state else state or None
    if queue:
        try:
            spec.check_queue(queue)
        except ValueError as exc:
            raise ValidationError(f"queue: {exc}") from None
    if text and len(text) > TEXT_LIMIT:
        raise ValidationError(f"search text: at most {TEXT_LIMIT} characters")
    return JobFilter(st, queue or None, text or None, error or None)


def parse_state(text: str) -> State:
    try:
        return State(text.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in State)
        raise ValidationError(f"unknown state {text!r}; valid states: {choices}") from None


def retry_targets(job_ids: Sequence[str], all: bool) -> Ids | None:
    """The dead jobs a DLQ retry is for, once each (None: all of them)."""
    if all and job_ids:
        raise ValidationError("give job ids or --all, not both")
    if not all and not job_ids:
        raise ValidationError("give at least one job id, or --all")
    return None if all else list(dict.fromkeys(job_ids))


def worker_queues(names: Iterable[str] | None, label: str = "queues") -> tuple[str, ...] | None:
    """The queues workers take jobs from, checked, each once (None or empty: all)."""
    if not names:
        return None
    checked: Ids = []
    for name in names:
        try:
            checked.append(spec.check_queue(name.strip()))
        except ValueError as exc:
            raise ValidationError(f"{label}: {exc}") from None
    return tuple(dict.fromkeys(checked))


class Queue:
    """A handle on one store (SQLite path or PostgreSQL URL)."""

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        missing_ok: bool = False,
        store: Store | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """``create``: make the store if it does not exist yet; without it, a missing store
        is an error, or with ``missing_ok`` reads as an empty one that refuses writes.
        ``on_wait`` is told, in a sentence, when a call starts waiting for the store."""
        self.url = resolve(db) if store is None else store.url
        self._options = _StoreOptions(create=create, missing_ok=missing_ok, on_wait=on_wait)
        self._handle: Store | None = (
            store if store is not None else open_store(self.url, **self._options)
        )
        self._created = self._store.created
        self.location = self._store.location  # for people: a path, or a URL without password

    @property
    def _store(self) -> Store:
        """The store, opened again on first use after ``close`` (or a fork of workers)."""
        if self._handle is None:
            self._handle = open_store(self.url, **self._options)
        return self._handle

    @property
    def created(self) -> bool:
        """Whether opening this queue created its store (a new file, or a new schema)."""
        return self._created

    @property
    def missing(self) -> bool:
        """Opened with ``missing_ok`` and there is no store: reads see an empty one."""
        return self._store.missing

    def schema_version(self) -> int:
        return self._store.schema_version()

    def close(self) -> None:
        """Close the connection (the next call opens it again)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- config -------------------------------------------------------------------------

    def config(self) -> cfg.Config:
        """The effective settings (store values over defaults)."""
        return cfg.Config.from_stored(self._store.config_items())

    def config_get(self, key: str) -> cfg.Number:
        return cfg.get_value(self.config(), key)

    def config_set(self, key: str, value: str | int | float) -> tuple[str, cfg.Number]:
        name, number = cfg.parse_value(key, str(value))
        self._store.config_set(name, cfg.encode(number))
        return name, number

    def config_unset(self, key: str) -> bool:
        """Back to the default; returns whether a value had been set."""
        name = cfg.resolve_key(key)[0].name
        return self._store.config_unset(name)

    def config_stored(self) -> dict[str, str]:
        """Only the keys set in the store (raw), for showing which values are defaults."""
        return self._store.config_items()

    # --- enqueue ------------------------------------------------------------------------

    def enqueue(self, command: str | None = None, **fields: Any) -> Job:
        """Enqueue one job: ``enqueue("make test", priority=5, queue="ci")``."""
        if command is not None:
            if "command" in fields:
                raise ValidationError("command: given twice")
            fields["command"] = command
        return self.enqueue_many([fields])[0]

    def enqueue_many(self, specs: Iterable[Mapping[str, Any]], *, cwd: str | None = None) -> Jobs:
        """Enqueue a batch: every job, or (on any error) none."""
        items = ((f"item {i}", s) for i, s in enumerate(specs))
        return self._insert(spec.build_batch(items, self.config(), cwd or os.getcwd(), now()))

    def enqueue_text(self, text: str, *, cwd: str | None = None) -> Jobs:
        """Enqueue the jobs of a file's text: one JSON object, a JSON array, or JSON Lines."""
        jobs = spec.build_batch(spec.parse_batch(text), self.config(), cwd or os.getcwd(), now())
        return self._insert(jobs)

    def _insert(self, new: Sequence[NewJob]) -> Jobs:
        if not new:
            raise ValidationError("no jobs given")
        self._store.insert_jobs(new)
        pending = State.PENDING
        # Positional, in Job's field order: batches can hold 100,000 jobs.
        return [
            Job(
                n.id,
                n.command,
                pending,
                n.queue,
                n.priority,
                0,
                0,
                n.max_retries,
                n.backoff_base,
                n.timeout,
                n.run_at,
                n.run_at,
                n.created_at,
                n.created_at,
                None,
                None,
                None,
                None,
                n.cwd,
                n.env,
            )
            for n in new
        ]

    # --- reading ------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self._store.get_job(job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id!r}")
        return job

    def list(
        self,
        *,
        state: State | str | None = None,
        queue: str | None = None,
        limit: int | None = 100,
        ready: bool = False,
    ) -> Jobs:
        """Jobs, newest first. ``ready``: only pending/failed jobs whose time has come."""
        wanted, filters = self._filters(state, queue, limit, ready)
        jobs = self._store.list_jobs(**filters)
        return jobs if wanted is None else [j for j in jobs if j.state is wanted]

    def iter_jobs(
        self,
        *,
        state: State | str | None = None,
        queue: str | None = None,
        limit: int | None = 100,
        ready: bool = False,
    ) -> Generator[Job, None, None]:
        """``list`` as a stream: the first jobs come at once, however many follow (the
        store is read in chunks from one snapshot). Consume or ``close()`` it before the
        next call."""
        wanted, filters = self._filters(state, queue, limit, ready)
        return self._stream(wanted, filters)

    def _stream(self, wanted: State | None, filters: dict[str, Any]) -> Generator[Job, None, None]:
        jobs = self._store.iter_jobs(**filters)
        try:
            yield from (jobs if wanted is None else (j for j in jobs if j.state is wanted))
        finally:
            jobs.close()  # the store's cursor, now rather than whenever it is collected

    def _filters(
        self, state: State | str | None, queue: str | None, limit: int | None, ready: bool
    ) -> tuple[State | None, dict[str, Any]]:
        """The store's filters for a listing, and the state to keep of a ``ready`` one."""
        st = parse_state(state) if isinstance(state, str) else state
        if ready and st is not None and st not in CLAIMABLE:
            raise ValidationError(f"--ready lists pending and failed jobs, not {st}")
        if limit is not None and limit < 0:
            raise ValidationError(f"limit: must be >= 0, got {limit}")
        filters = {
            "state": None if ready else st,
            "queue": queue,
            "ready_at": now() if ready else None,
            "limit": limit or None,
        }
        return (st if ready else None), filters

    def counts(self) -> dict[State, int]:
        return self._store.count_jobs()

    def page(
        self, where: JobFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Jobs matching ``where``, newest first, one page at a time by key (never OFFSET):
        pass ``page.next`` as ``cursor`` for the next page. A text search looks through at
        most ``SEARCH_WINDOW`` jobs per page, so a page may come back short (even empty) with
        a ``next`` that goes on searching older jobs."""
        if not 1 <= limit <= PAGE_LIMIT:
            raise ValidationError(f"limit: must be between 1 and {PAGE_LIMIT}, got {limit}")
        before = None
        if cursor:
            if not cursor.isdigit() or len(cursor) > 19:
                raise ValidationError(f"cursor: {cursor[:40]!r} is not a cursor this store gave")
            before = int(cursor)
        where = where or JobFilter()
        window = SEARCH_WINDOW if where.text else None
        jobs, after = self._store.page_jobs(where, before, limit, window)
        return Page(jobs, None if after is None else str(after))

    def queue_load(self) -> builtins.list[QueueLoad]:
        """Per queue: jobs ready, scheduled for later, running and dead."""
        return self._store.queue_load(now())

    def throughput(self, minutes: int = 60) -> builtins.list[MinuteCount]:
        """Attempts completed and failed per minute over the last ``minutes``, oldest first,
        one entry per minute (the current, unfinished minute last)."""
        current = int(now() // 60)
        first = current - minutes + 1
        found = {int(m.start // 60): m for m in self._store.finished_per_minute(first * 60.0)}
        return [found.get(m, MinuteCount(m * 60.0, 0, 0)) for m in range(first, current + 1)]

    def changes(self, stopped: Callable[[], bool], interval: float = 0.5) -> Iterator[None]:
        """Yield once at once, then each time the store may have changed, until ``stopped()``.

        Checks a cheap marker every ``interval`` seconds, and wakes at once for what the
        store announces (new jobs, revives and retries on PostgreSQL). For live views.
        """
        import select

        waker = self._store.open_waker(f"watch-{os.getpid()}")
        try:
            seen: object = None
            while not stopped():
                marker = self._store.change_marker()
                if marker != seen:
                    seen = marker
                    yield
                if select.select([waker], [], [], interval)[0]:
                    waker.drain()
                    seen = None  # something was announced: report it even if the marker missed it
        finally:
            waker.close()

    def history(self, job_id: str) -> builtins.list[Attempt]:
        self.get(job_id)
        return self._store.attempts(job_id)

    def logs(self, job_id: str, attempt: int | None = None) -> Output:
        if attempt is not None and attempt < 1:
            raise ValidationError(f"attempt: numbers start at 1, got {attempt}")
        output = self._store.output(job_id, attempt)
        if output is None:
            job = self.get(job_id)
            if attempt is None:
                raise NotFound(f"job {job_id!r} has not run yet (it is {job.state})")
            raise NotFound(f"job {job_id!r} has no attempt {attempt} (it has {job.runs})")
        return output

    def workers(self) -> builtins.list[WorkerInfo]:
        """Registered workers that are alive (heartbeat within the lease timeout)."""
        horizon = now() - self.config().lease_timeout
        return [w for w in self._store.list_workers() if w.heartbeat_at >= horizon]

    def status(self) -> Status:
        return Status(self.counts(), self.workers())

    def run_workers(
        self,
        count: int | None = None,
        *,
        queues: Sequence[str] | None = None,
        quiet: bool = False,
        json_log: bool = False,
        launched_at: float | None = None,
    ) -> int:
        """Run a supervisor with ``count`` worker processes (default: config ``worker_count``)
        in this process until it is stopped (a signal, ``stop_workers`` from anywhere);
        returns its exit status, 0 when it stopped as asked. It logs to stderr (JSON Lines on
        stdout with ``json_log``), and leaves signal handling as it found it.

        ``launched_at``: a ``stop_workers`` at or after this time stops the pool even if it
        comes before the workers registered (default: now).
        """
        supervisor = self._supervisor(count, queues, quiet, json_log, launched_at)
        return supervisor.run()

    def start_workers(
        self,
        count: int | None = None,
        *,
        queues: Sequence[str] | None = None,
        log_file: str | None = None,
        quiet: bool = False,
        json_log: bool = False,
        launched_at: float | None = None,
    ) -> Detached:
        """``run_workers`` in the background: returns once every worker is up, with the
        supervisor's pid and where it logs (``log_file``; default: next to a SQLite store, or
        ``$XDG_STATE_HOME/queuectl/worker.log``)."""
        from .worker.control import default_log_path, start_detached

        supervisor = self._supervisor(count, queues, quiet, json_log, launched_at)
        log_path = os.path.abspath(log_file or default_log_path(self.url))
        return start_detached(supervisor, log_path)

    def _supervisor(
        self,
        count: int | None,
        queues: Sequence[str] | None,
        quiet: bool,
        json_log: bool,
        launched_at: float | None,
    ) -> Supervisor:
        from .worker.supervisor import Supervisor

        chosen = worker_queues(queues)
        if count is not None and count < 1:
            raise ValidationError(f"count: must be at least 1, got {count}")
        size = count or self.config().worker_count
        self.close()  # no connection may cross the fork into the workers
        return Supervisor(
            self.url,
            size,
            chosen,
            quiet=quiet,
            json_log=json_log,
            launched_at=now() if launched_at is None else launched_at,
        )

    def stop_workers(
        self,
        *,
        force: bool = False,
        timeout: float = 60.0,
        on_wait: Callable[[builtins.list[WorkerInfo]], None] | None = None,
    ) -> StopReport:
        """Ask every worker of the store to stop, wherever it runs, and wait up to ``timeout``
        seconds until they are gone. ``force``: their running jobs are terminated and put
        back without spending an attempt. ``on_wait`` is told once, after a second, which
        workers are still running. A worker running the very job that calls this is asked
        too, but not waited for (``StopReport.own``)."""
        from .worker.control import stop_workers

        if timeout < 0:
            raise ValidationError(f"timeout: must be >= 0, got {timeout:g}")
        lease = self.config().lease_timeout
        return stop_workers(self._store, lease, force=force, timeout=timeout, on_wait=on_wait)

    # --- dead letter queue --------------------------------------------------------------

    def dlq_list(self, *, limit: int | None = 100) -> Jobs:
        return self.list(state=State.DEAD, limit=limit)

    def dlq_retry(self, job_ids: Sequence[str] = (), *, all: bool = False) -> Ids:
        """Revive dead jobs with a fresh retry budget (all or nothing)."""
        return self._store.revive(retry_targets(job_ids, all), now())

    def dlq_groups(self, limit: int = 50) -> builtins.list[ErrorGroup]:
        """Dead jobs grouped by their last error, the largest groups first."""
        return self._store.dead_groups(limit)

    def retry(self, job_ids: Sequence[str]) -> ActionResult:
        """Revive each dead job of ``job_ids``; every other id is skipped with the reason.

        One short transaction, whatever the others are: meant for batches (the dashboard).
        """
        wanted = list(dict.fromkeys(job_ids))
        done = self._store.revive_some(wanted, now()) if wanted else []
        moved = set(done)
        skipped = [(i, self._why_not(i, "dead")) for i in wanted if i not in moved]
        return ActionResult(done, skipped)

    def _why_not(self, job_id: str, wanted: str) -> str:
        job = self._store.get_job(job_id)
        return "no such job" if job is None else f"it is {job.state}, not {wanted}"

    def dlq_clear(self) -> int:
        """Delete every dead job; returns how many."""
        return self._store.purge_dead()
