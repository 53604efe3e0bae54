"""How fast other Python job queues run the workload queuectl is benchmarked on.

The workload, the same for every peer: N jobs (default 2000), each running the shell command
``true`` from inside the task with ``subprocess.run(["/bin/sh", "-c", "true"])`` -- a shell
command run from a job, which is all a queuectl job is -- on exactly 2 concurrent executions.

The peers, each on the store people normally pair it with:

- **huey** -- ``SqliteHuey`` on a fresh temporary file; ``huey_consumer`` with 2 *process*
  workers and its polling made as eager as it allows (``--delay 0.01 --max-delay 0.01
  --backoff 1``, instead of 0.1 s growing to 10 s), so it is not handicapped by defaults.
- **procrastinate** -- PostgreSQL, in a database created for the run (Procrastinate's schema
  applied) and dropped afterwards; 2 worker processes with ``--concurrency 1`` each, listening
  for notifications. Two processes, not one process with ``--concurrency 2``, because every
  other contender (queuectl included) runs each execution in its own worker process; set
  ``QUEUECTL_BENCH_PROCRASTINATE_MODE=concurrency`` for the other shape.
- **rq** -- Redis, a dedicated db (``redis://127.0.0.1:6379/13``, flushed before and after; no
  other db is touched); 2 ``rq worker`` processes with the default ``Worker`` class, which
  forks a work horse per job -- that is how RQ is run, and part of its cost.

Method, identical for all peers (see ``peer_tasks/driver.py``): enqueue all N jobs through the
peer's own API while no worker runs; start the clock and launch the peer's own worker command;
stop the clock at the finish of the last job as recorded in the peer's own store (Huey keeps
no timestamps, so its task returns them in its stored result). Worker start-up is therefore
inside the measured time, as it is when queuectl's workers are started on a full queue; the
``note`` says how long it took until the first job began. Completion is verified from the
peer's store (every job succeeded, none missing), and the peak concurrency seen in the
recorded start/end times is reported, so a run that is not really 2-wide shows.

Isolation: each run of a peer is a separate driver process in a session of its own; the peer's
worker commands lead process groups inside that session. Workers are stopped with the peer's
graceful signal, their groups are then killed, and finally anything still alive in the session
is killed and reported in ``note`` -- no orphan survives a run. A peer that is not installed,
whose server does not answer, or that fails, comes back with ``skipped`` and the reason.

Servers: ``QUEUECTL_BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``,
used only to create and drop the run's own database) and ``QUEUECTL_BENCH_REDIS_URL``.

    python bench/peers.py [--jobs N] [--repeat K] [--workers W] [peer ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEERS: tuple[str, ...] = ("huey", "procrastinate", "rq")
STORES: dict[str, str] = {"huey": "sqlite", "procrastinate": "postgresql", "rq": "redis"}

BENCH_DIR = Path(__file__).resolve().parent
# Time for the N jobs to finish, generous enough for a slow machine (10 jobs/s) but finite.
FINISH_BASE_S = 60.0
FINISH_PER_JOB_S = 0.1
# On top of that: enqueueing, creating and dropping stores, stopping workers.
SETUP_S = 120.0
TERM_GRACE_S = 30.0


def run_peer(name: str, jobs: int = 2000, workers: int = 2) -> dict[str, object]:
    """Run the workload once on peer ``name`` (one of ``PEERS``) and say how it went.

    Returns ``{"peer", "store", "jobs", "workers", "seconds", "jobs_per_s", "skipped",
    "note"}``; ``seconds`` and ``jobs_per_s`` are None and ``skipped`` gives the reason when
    the peer could not run. Never raises for a peer's failure, only for a bad argument.
    """
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; expected one of {', '.join(PEERS)}")
    if jobs < 1 or workers < 1:
        raise ValueError("jobs and workers must be at least 1")
    result: dict[str, object] = {
        "peer": name,
        "store": STORES[name],
        "jobs": jobs,
        "workers": workers,
        "seconds": None,
        "jobs_per_s": None,
        "skipped": None,
        "note": "",
    }
    tmp = Path(tempfile.mkdtemp(prefix=f"queuectl-peer-{name}-"))
    try:
        report = _drive(name, jobs, workers, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = report.get("seconds")
    if isinstance(seconds, int | float) and seconds > 0 and not report.get("skipped"):
        result["seconds"] = float(seconds)
        result["jobs_per_s"] = jobs / seconds
    else:
        result["skipped"] = str(report.get("skipped") or "failed: no time was measured")
    result["note"] = str(report.get("note") or "")
    return result


def _drive(name: str, jobs: int, workers: int, tmp: Path) -> dict[str, object]:
    """Run the driver for one peer in its own session; clean up whatever it leaves."""
    finish_s = FINISH_BASE_S + FINISH_PER_JOB_S * jobs
    out = tmp / "result.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "peer_tasks.driver", name, f"--jobs={jobs}"]
    argv += [f"--workers={workers}", f"--timeout={finish_s}", f"--out={out}"]
    with open(tmp / "driver.log", "wb") as log:
        driver = subprocess.Popen(
            argv,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    timed_out = False
    limit_s = finish_s + SETUP_S
    try:
        driver.wait(limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Also reached on KeyboardInterrupt: SIGTERM lets the driver stop its workers itself.
        if driver.poll() is None:
            driver.terminate()
            try:
                driver.wait(TERM_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
        strays = _kill_session(driver.pid)

    try:
        report: dict[str, object] = json.loads(out.read_text())
    except (OSError, ValueError):
        tail = " | ".join(
            (tmp / "driver.log").read_text(errors="replace").strip().splitlines()[-5:]
        )
        why = "timed out" if timed_out else f"driver exited with code {driver.returncode}"
        report = {"skipped": f"failed: {why}: {tail}", "note": ""}
    if timed_out:
        report["skipped"] = f"stopped: the run went past its time limit of {limit_s:.0f}s"
    if strays:
        report["note"] = (
            f"{report.get('note') or ''}; {len(strays)} process(es) outlived the stop and were"
            f" killed: {', '.join(strays)}"
        ).lstrip("; ")
    return report


def _session_members(sid: int) -> dict[int, str]:
    """Live (non-zombie) processes in session ``sid``, with their command names."""
    members: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # The command name is in parentheses and may contain spaces and parentheses itself.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(session) == sid and state != "Z":
            members[int(entry.name)] = comm
    return members


def _kill_session(sid: int) -> list[str]:
    """Kill every process left in the driver's session; say which ones there were."""
    killed: list[str] = []
    # A few rounds: a dying parent can still fork, and a kill takes a moment to be seen.
    for _ in range(20):
        members = _session_members(sid)
        if not members:
            break
        for pid, comm in members.items():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            label = f"{comm}[{pid}]"
            if label not in killed:
                killed.append(label)
        time.sleep(0.1)
    return killed


def run_peer_median(
    name: str, jobs: int = 2000, workers: int = 2, repeat: int = 3
) -> dict[str, object]:
    """``run_peer`` ``repeat`` times; the median run's result, plus ``runs`` (all seconds).

    A single skipped run makes the whole result skipped: a peer that fails now and then is
    not one to quote a number for.
    """
    results = [run_peer(name, jobs, workers) for _ in range(repeat)]
    for result in results:
        if result["skipped"]:
            return {**result, "runs": []}
    times = [float(str(r["seconds"])) for r in results]
    median_s = statistics.median(times)
    # The note of the run closest to the median describes the start-up of a typical run.
    typical = min(results, key=lambda r: abs(float(str(r["seconds"])) - median_s))
    return {
        **typical,
        "seconds": median_s,
        "jobs_per_s": jobs / median_s,
        "runs": times,
        "note": f"{typical['note']}; median of {repeat} run(s)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run queuectl's benchmark workload on other Python job queues."
    )
    parser.add_argument("peers", nargs="*", metavar="peer", help=f"any of {', '.join(PEERS)}")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per peer; the median counts")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.workers < 1 or args.repeat < 1:
        parser.error("--jobs, --workers and --repeat must be at least 1")
    if unknown := [name for name in args.peers if name not in PEERS]:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; expected {', '.join(PEERS)}")

    results = []
    for name in args.peers or PEERS:
        if not args.json:
            print(f"running {name} ({args.repeat} x {args.jobs} jobs)...", file=sys.stderr)
        results.append(run_peer_median(name, args.jobs, args.workers, args.repeat))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0

    header = f"{'peer':<14} {'store':<11} {'jobs':>6} {'workers':>7} {'median s':>9} {'jobs/s':>8}"
    print(f"{header}  runs")
    for r in results:
        if r["skipped"]:
            print(f"{r['peer']!s:<14} {r['store']!s:<11} skipped: {r['skipped']}")
            continue
        runs = " ".join(f"{t:.2f}" for t in r["runs"])  # type: ignore[attr-defined]
        print(
            f"{r['peer']!s:<14} {r['store']!s:<11} {r['jobs']!s:>6} {r['workers']!s:>7}"
            f" {r['seconds']:>9.2f} {r['jobs_per_s']:>8.1f}  {runs}"
        )
    print()
    for r in results:
        if r["note"]:
            print(f"{r['peer']}: {r['note']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)  # run_peer has already stopped the peer and cleaned up
