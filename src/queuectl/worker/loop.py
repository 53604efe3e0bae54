"""The worker: claim a job, run it, record the attempt, repeat.

Each pass of the loop is a list of named steps: maintenance (heartbeat, lease recovery,
config refresh), claim, execute and record, or wait for a wake-up. Signal handlers only
set ``self.stop``; the loop acts on it:

* SIGTERM / SIGINT: graceful, finish the running job and exit.
* SIGUSR1: forced, terminate the running job and put it back without spending an attempt.
  A forced stop ends the worker even while the store cannot record anything (the lease then
  recovers the job).
* A stop requested through the store (`worker stop`, from any host): as the signals.
* The supervisor's pipe closing (it died): terminate the job, record it as lost, exit.
* The store lost (deleted, replaced, truncated, dropped): terminate the job, exit.

The exit code tells the supervisor why (``EXIT_*``): it restarts a worker that stopped for
any reason of its own, and stops the pool only when asked to or when the store is lost.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from ..config import Config
from ..errors import NotAStore, QueuectlError, StoreError, StoreLost
from ..host import hostname
from ..lifecycle import State, after_attempt, on_lease_expired
from ..models import AttemptResult, Job, WorkerInfo
from ..store import Store, Waker, open_store, without_password
from . import signals
from .log import EventLog
from .runner import Command, Execution, Stop, signal_name

T = TypeVar("T")

GRACEFUL = 1
FORCE = 2

EXIT_STOPPED = 0  # by a signal
EXIT_CRASHED = 1  # an unexpected exception (a bug): logged, and the worker is restarted
EXIT_ORPHANED = 3
EXIT_CANNOT_START = 4
EXIT_STORE_LOST = 5
EXIT_STOP_REQUESTED = 6  # by `worker stop`, through the store

RECOVERY_EVERY = 1.0  # seconds between scans for expired leases
# How long a lease must be seen expired, without a break in the watching, before its job is
# recovered (or the lease timeout, when shorter): see Recovery.
RECOVERY_GRACE = 5.0
PROMPT = 1.0  # a store call slower than this had to wait (for a lock, say)
# A store call gives up after this long, so that an outage shows in the log within seconds;
# the worker then keeps retrying on its own (see _persist) until the store is back.
STORE_PATIENCE = 5.0
FLUSH_EVERY = 1.0  # seconds between saves of a running attempt's output


def new_worker_id() -> str:
    return f"{hostname()}:{os.getpid()}:{os.urandom(2).hex()}"


def heartbeat_every(lease_timeout: float) -> float:
    return max(0.05, min(lease_timeout / 3, 2.0))


def recovery_every(lease_timeout: float) -> float:
    return min(RECOVERY_EVERY, lease_timeout / 4)


class Recovery:
    """Recovers the jobs of workers that stopped renewing their leases, and only those.

    An expired lease is not proof enough: after a lock on the store or an outage, every
    lease may look expired while its worker is alive and about to renew it. So a job is
    recovered only once this worker has watched its lease stay expired, unchanged, for a
    grace period (``RECOVERY_GRACE``, or the lease timeout when shorter, which is always
    longer than a heartbeat interval) of uninterrupted watching: scans close together, each
    answered promptly. A scan that had to wait, a store call that failed, or a gap in the
    watching (a long job, a frozen worker) starts the count again, since the lease's holder
    may have been held up just the same. The recovery itself is fenced by the lease value
    seen, so a heartbeat that lands in between still wins.
    """

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._first_seen: dict[tuple[str, int, float | None], float] = {}
        self._last_scan = float("-inf")

    def forget(self) -> None:
        """Trust nothing seen so far (the store failed, or made us wait)."""
        self._first_seen.clear()

    def waited(self, seconds: float) -> None:
        """A store call of this worker took ``seconds``."""
        if seconds > PROMPT:
            self.forget()

    def scan(self, store: Store, config: Config) -> int:
        grace = min(RECOVERY_GRACE, config.lease_timeout)
        started = time.monotonic()
        if started - self._last_scan > recovery_every(config.lease_timeout) + PROMPT:
            self.forget()  # not watching for a while: whatever was seen may have changed
        now = time.time()
        jobs = store.expired(now)
        self._last_scan = time.monotonic()
        if self._last_scan - started > PROMPT:
            self.forget()
            return 0
        seen: dict[tuple[str, int, float | None], float] = {}
        recovered = 0
        for job in jobs:
            key = (job.id, job.runs, job.lease_expires_at)
            first = self._first_seen.get(key, started)
            if started - first < grace:
                seen[key] = first
            elif self._recover(store, config, job, now):
                recovered += 1
            else:
                seen[key] = time.monotonic()  # renewed or busy meanwhile: watch again
        self._first_seen = seen
        return recovered

    def _recover(self, store: Store, config: Config, job: Job, now: float) -> bool:
        result, outcome = on_lease_expired(job, now, config)
        if not store.recover(job, result, outcome):
            return False
        self.log(
            "job_recovered",
            job=job.id,
            lost_worker=job.worker_id,
            state=str(outcome.state),
            attempt=job.runs,
        )
        return True


class Worker:
    def __init__(
        self,
        url: str,
        *,
        queues: tuple[str, ...] | None = None,
        supervisor_pid: int | None = None,
        parent_fd: int | None = None,
        ready_fd: int | None = None,
        report_job: Callable[[int], None] | None = None,
        log: EventLog | None = None,
        launched_at: float | None = None,
    ) -> None:
        self.url = url
        self.queues = queues
        self.supervisor_pid = supervisor_pid
        # When whoever asked for this worker was launched (`worker start`): a `worker stop`
        # marked in the store at or after that time stops it, even if it ran before this
        # worker could register and be seen.
        self.launched_at = launched_at
        self.parent_fd = parent_fd
        self.ready_fd = ready_fd
        self.report_job = report_job or (lambda pgid: None)
        self.id = new_worker_id()
        self.log = log or EventLog(f"worker={os.getpid()}")
        self.stop = 0
        self.why = ""  # what made the worker stop, for its last log line
        self.orphaned = False
        self.store_lost = False
        self.requested = False  # the stop came through the store
        self.done = 0  # jobs finished, reported with each heartbeat
        self.config = Config()
        self._sig_r = self._sig_w = -1  # the signal wake-up pipe, open while run() runs
        self._next_heartbeat = 0.0
        self._next_recovery = 0.0
        # When an idle worker next looks for work (monotonic): at once after a job, a wake-up
        # or a recovery; otherwise when the earliest queued job falls due, or after the poll
        # interval. Maintenance passes in between do not claim: poll_interval means what it
        # says, so a quick pick-up can only come from a wake-up.
        self._look_at = 0.0
        self._recovery = Recovery(self.log)
        self._flushed_at = 0.0  # when the running attempt's output was last saved
        self._flushed_bytes = 0
        self._outage_since: float | None = None  # the store has been failing since then
        self._store: Store | None = None
        self._waker: Waker | None = None
        # Encoded once: re-encoding the whole environment for every job costs more than
        # spawning the shell. A job gets the worker's environment, except that QUEUECTL_DB
        # names this worker's store without its password (a job may enqueue more work, but
        # must not read the database password from its environment).
        self._base_env = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
        self._base_env[b"QUEUECTL_DB"] = os.fsencode(without_password(url, mask=None))

    # --- life cycle ---------------------------------------------------------------------

    def run(self) -> int:
        """Work until stopped. Signal handlers and the wake-up descriptor are this call's
        own: it returns with the process as it found them."""
        self._sig_r, self._sig_w = os.pipe()
        for fd in (self._sig_r, self._sig_w):
            os.set_blocking(fd, False)
        try:
            with signals.handling(self._handlers(), wakeup_fd=self._sig_w):
                return self._work()
        finally:
            os.close(self._sig_r)
            os.close(self._sig_w)
            self._sig_r = self._sig_w = -1

    def _work(self) -> int:
        try:
            self._store = open_store(self.url, durable=False, busy_budget=STORE_PATIENCE)
            self.config = Config.from_stored(self._store.config_items())
            self._waker = self._store.open_waker(self.id)
            self._register()
            self._heed_stop_mark()
        except QueuectlError as exc:
            self.log("worker_failed", error=exc.message)
            return EXIT_CANNOT_START
        if self.ready_fd is not None:
            os.write(self.ready_fd, b"+")
        self.log("worker_started", id=self.id, queues=",".join(self.queues or ["*"]))
        try:
            self._loop()
        except Exception as exc:  # a bug: say what it was; the supervisor restarts us
            self.log("worker_crashed", error=f"{type(exc).__name__}: {exc}")
            self._shutdown()
            if os.environ.get("QUEUECTL_DEBUG"):
                raise
            return EXIT_CRASHED
        self._shutdown()
        if self.store_lost:
            return EXIT_STORE_LOST
        if self.orphaned:
            return EXIT_ORPHANED
        return EXIT_STOP_REQUESTED if self.requested else EXIT_STOPPED

    def _register(self) -> None:
        assert self._store is not None and self._waker is not None
        now = time.time()
        self._store.register_worker(
            WorkerInfo(
                id=self.id,
                host=hostname(),
                pid=os.getpid(),
                queues=self.queues,
                state="idle",
                started_at=now,
                heartbeat_at=now,
                current_job=None,
                jobs_done=0,
                supervisor_pid=self.supervisor_pid,
                wake=self._waker.address,
            )
        )
        self._next_heartbeat = now + self._heartbeat_every()

    def _heed_stop_mark(self) -> None:
        """Stop if `worker stop` ran after our launch but before we registered. Read after
        registering: a `worker stop` that marks the store before this read is seen here,
        and one that marks it after lists this worker and asks it directly."""
        assert self._store is not None
        mark = self._store.stop_mark()
        if self.launched_at is not None and mark is not None and self.launched_at <= mark:
            self.stop = max(self.stop, GRACEFUL)
            self.requested = True
            self.why = "`worker stop` ran while this worker was starting"

    def _shutdown(self) -> None:
        store = self._store
        if self._waker is not None:
            self._waker.close()
        if store is not None and not self.store_lost:
            try:
                store.verify()  # another worker may have found it lost first
            except StoreLost as exc:
                self._lose(exc)
            except StoreError:
                pass
        if store is not None and not self.store_lost:
            if self._outage_since is None:  # not worth a wait while the store is failing
                try:
                    store.unregister_worker(self.id)
                except QueuectlError:
                    pass  # the row goes stale and readers ignore it after the lease timeout
            store.close()
        # A lost store is left unclosed: closing a SQLite connection may checkpoint its
        # (deleted) write-ahead log into the file and delete the new one at the same path,
        # taking jobs acknowledged since with it. The process exits without closing it.
        self.log("worker_stopped", reason=self.why or "stopped")

    def _graceful(self, signum: int, frame: FrameType | None) -> None:
        if self.stop < GRACEFUL:
            self.why = f"{signal_name(signum)}: finish the running job, then stop"
        self.stop = max(self.stop, GRACEFUL)

    def _force(self, signum: int, frame: FrameType | None) -> None:
        if self.stop < FORCE:
            self.why = f"{signal_name(signum)}: forced stop"
        self.stop = FORCE

    def _handlers(self) -> dict[int, signals.Handler]:
        return {
            signal.SIGTERM: self._graceful,
            signal.SIGINT: self._graceful,
            signal.SIGUSR1: self._force,
            signal.SIGHUP: signal.SIG_IGN,
        }

    # --- the loop -----------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self.stop > 0  # set by signal handlers and heartbeats between any two lines

    def _loop(self) -> None:
        job: Job | None = None  # the next job, when the last result came with a claim
        while not self._stopping():
            self._maintain()
            if self._stopping():
                break
            if job is None and time.monotonic() >= self._look_at:
                job = self._persist("claim", self._claim)
                if job is None:
                    self._plan_look()
            if job is not None:
                job = self._execute(job)
                self._look_at = 0.0
            elif not self._stopping():
                self._idle()
        if job is not None:
            # Claimed with the last result, but a stop came before it started: give it back.
            store = self._store
            assert store is not None
            held = job
            self._persist("release", lambda: store.release(held, time.time()))

    def _heartbeat_every(self) -> float:
        return heartbeat_every(self.config.lease_timeout)

    def _maintain(self) -> None:
        store = self._store
        assert store is not None
        now = time.time()
        try:
            if now >= self._next_heartbeat:
                began = time.monotonic()
                store.verify()
                self._heartbeat(None)
                self.config = Config.from_stored(store.config_items())
                self._store_ok("maintenance")
                self._recovery.waited(time.monotonic() - began)
            if now >= self._next_recovery:
                self._next_recovery = now + recovery_every(self.config.lease_timeout)
                if self._recovery.scan(store, self.config):
                    self._look_at = 0.0
        except StoreError as exc:
            self._store_failed(exc, "maintenance")

    def _store_failed(self, exc: StoreError, during: str) -> None:
        """Log an outage once, when it starts; a store that is gone for good stops us."""
        if isinstance(exc, (StoreLost, NotAStore)):
            self._lose(exc)
            return
        self._recovery.forget()  # holders may be failing to renew just the same
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self.log("store_unavailable", error=exc.message, during=during)

    def _store_ok(self, during: str) -> None:
        if self._outage_since is not None:
            away = time.monotonic() - self._outage_since
            self._outage_since = None
            self.log("store_available", during=during, after=f"{away:.1f}s")

    def _lose(self, exc: StoreError) -> None:
        if not self.store_lost:
            self.log("store_lost", error=exc.message)
            self.why = f"store lost: {exc.message}"
        self.store_lost = True
        self.stop = FORCE

    def _heartbeat(self, job: Job | None) -> bool:
        """Returns whether the worker still holds ``job``."""
        assert self._store is not None
        now = time.time()
        self._next_heartbeat = now + self._heartbeat_every()
        lease = now + self.config.lease_timeout
        level, holds = self._store.heartbeat(self.id, job, now, lease, self.done)
        if level is None:
            self._register()  # our row was pruned (e.g. after a long freeze): come back
        elif level > self.stop:
            self.requested = True
            mode = "forced stop" if level >= FORCE else "finish the running job, then stop"
            self.why = f"`worker stop` asked through the store: {mode}"
            self.stop = level
        return holds

    def _claim(self) -> Job | None:
        assert self._store is not None
        now = time.time()
        return self._store.claim(self.id, self.queues, now, now + self.config.lease_timeout)

    def _plan_look(self) -> None:
        """After a claim that found nothing: look again when the earliest queued job falls
        due, or after the poll interval, whichever comes first (or on a wake-up)."""
        assert self._store is not None
        wait = self.config.poll_interval
        try:
            due = self._store.next_due(self.queues)
        except StoreError:
            due = None
        if due is not None:
            wait = min(wait, max(0.0, due - time.time()))
        self._look_at = time.monotonic() + wait

    def _idle(self) -> None:
        assert self._waker is not None
        next_chore = min(self._next_heartbeat, self._next_recovery) - time.time()
        timeout = max(0.0, min(next_chore, self._look_at - time.monotonic()))
        watch = [self._waker.fileno(), self._sig_r]
        if self.parent_fd is not None:
            watch.append(self.parent_fd)
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
        except InterruptedError:
            ready = []
        if self._waker.fileno() in ready:
            self._waker.drain()
            self._look_at = 0.0
        self._check_fds(ready)

    def _check_fds(self, ready: list[int]) -> None:
        if self._sig_r in ready:
            try:
                while os.read(self._sig_r, 512):
                    pass
            except BlockingIOError:
                pass
        if self.parent_fd is not None and self.parent_fd in ready:
            self.orphaned = True
            self.why = "its supervisor exited"
            self.stop = FORCE

    # --- running one job ----------------------------------------------------------------

    def _execute(self, job: Job) -> Job | None:
        """Run ``job`` and record it; returns the next job when one came with the record."""
        env = dict(self._base_env)
        for key, value in job.env.items():
            env[os.fsencode(key)] = os.fsencode(value)
        env[b"QUEUECTL_JOB_ID"] = job.id.encode()
        env[b"QUEUECTL_ATTEMPT"] = str(job.runs).encode()
        execution = Execution(
            Command(job.command, job.cwd, env, job.timeout, self.config.output_limit)
        )
        self.log(
            "job_started",
            job=job.id,
            attempt=job.runs,  # its number in the history, as `show` and `logs` give it
            budget=f"{job.attempts}/{job.allowed_attempts}",
            command=job.command,
        )
        store = self._store
        assert store is not None
        execution.start()
        self.report_job(execution.pid or 0)  # at once: if we die, the supervisor kills it
        self._flushed_at, self._flushed_bytes = time.monotonic(), 0
        watch = [self._sig_r] + ([self.parent_fd] if self.parent_fd is not None else [])

        def tick() -> Stop | None:
            ready, _, _ = select.select(watch, [], [], 0)
            self._check_fds(ready)
            if self.orphaned:
                return Stop.ORPHANED
            if self.stop >= FORCE:
                return Stop.FORCE
            try:
                if time.time() >= self._next_heartbeat:
                    store.verify()
                    if not self._heartbeat(job):
                        return Stop.LEASE_LOST
                    self._store_ok("heartbeat")
                if self.stop < FORCE:
                    self._flush_output(job, execution)
            except StoreError as exc:
                self._store_failed(exc, "heartbeat")
            return Stop.FORCE if self.stop >= FORCE else None

        # Half the heartbeat interval: a heartbeat falls due between two ticks, and must not
        # wait for a whole extra interval (with a short lease, that is most of the margin).
        tick_every = min(self._heartbeat_every() / 2, FLUSH_EVERY)
        result = execution.wait(watch, tick, tick_every)
        self.report_job(0)
        return self._record(job, result, execution.stop_reason)

    def _flush_output(self, job: Job, execution: Execution) -> None:
        """Save a running attempt's output (for `logs --follow`) when it grew, at most once a
        second: a chatty command must not turn into a stream of writes to the store."""
        now = time.monotonic()
        written = execution.out.total + execution.err.total
        if now - self._flushed_at >= FLUSH_EVERY and written != self._flushed_bytes:
            assert self._store is not None
            self._store.save_output(job, execution.progress())
            self._flushed_at, self._flushed_bytes = now, written

    def _record(self, job: Job, result: AttemptResult, stop: Stop | None) -> Job | None:
        store = self._store
        assert store is not None
        if stop is Stop.LEASE_LOST:
            self.log("job_abandoned", job=job.id, reason=stop.value)
            return None
        if self.store_lost:
            self.log("job_abandoned", job=job.id, reason=self.why)
            return None
        if stop is Stop.FORCE:
            # Kept in the history with its output, but given back to the retry budget.
            released = self._persist("release", lambda: store.release(job, time.time(), result))
            self.log("job_interrupted", job=job.id, attempt=job.runs, released=bool(released))
            return None
        outcome = after_attempt(job, result, self.config)
        next_job: Job | None = None
        if self._stopping():
            saved = self._persist("finish", lambda: store.finish(job, result, outcome))
        else:
            now = time.time()
            lease = now + self.config.lease_timeout
            both = self._persist(
                "finish",
                lambda: store.finish_and_claim(
                    job, result, outcome, self.id, self.queues, now, lease
                ),
            )
            saved, next_job = both if both is not None else (None, None)
        self.done += 1
        fields: dict[str, object] = {
            "job": job.id,
            "exit": result.exit_code,
            "duration": f"{result.finished_at - result.started_at:.3f}s",
        }
        if saved is None:
            reason = f"the store could not record it before the worker had to stop ({self.why})"
            self.log("job_result_dropped", reason=reason, **fields)
        elif not saved:
            self.log(
                "job_result_dropped", reason="lease lost before the result was saved", **fields
            )
        elif outcome.state is State.COMPLETED:
            self.log("job_completed", **fields)
        elif outcome.state is State.FAILED:
            assert outcome.next_run_at is not None
            retry_in = max(0.0, outcome.next_run_at - time.time())
            self.log("job_failed", error=result.error, retry_in=f"{retry_in:.1f}s", **fields)
        else:
            self.log("job_dead", error=result.error, **fields)
        return next_job

    def _persist(self, what: str, action: Callable[[], T]) -> T | None:
        """Run a store call until it succeeds, or until the worker must stop now.

        Returns None when it gave up: a graceful stop keeps trying (the result is worth
        recording once the store is back), but a forced stop, a lost supervisor or a lost
        store end the worker within its timeout; the lease then recovers the job.
        """
        delay = 0.05
        while True:
            try:
                result = action()
            except StoreError as exc:
                self._store_failed(exc, what)
            else:
                self._store_ok(what)
                return result
            if self.orphaned or self.stop >= FORCE or (self.stop and what == "claim"):
                return None
            watch = [self._sig_r] + ([self.parent_fd] if self.parent_fd is not None else [])
            try:
                ready, _, _ = select.select(watch, [], [], delay)
            except InterruptedError:
                ready = []
            self._check_fds(ready)
            # Short waits: when the store is back, a result must be recorded before the
            # lease it is fenced by runs out.
            delay = min(delay * 2, 1.0)
