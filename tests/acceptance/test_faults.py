"""Faults queuectl must survive without losing, duplicating or corrupting work.

Each test states the fault, causes it for real (signals, a full disk, a file swapped under
a running worker, misbehaving commands) and checks the outcome recorded in
docs/reliability.md.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl import Queue

from ..helpers import QUEUECTL, Cli, Workers, alive, wait_for


def big_batch(path: Path, prefix: str, count: int) -> None:
    with open(path, "w") as f:
        for i in range(count):
            f.write(json.dumps({"id": f"{prefix}{i}", "command": "true"}) + "\n")


def total(url: str) -> int:
    with Queue(url) as q:
        return sum(q.counts().values())


def test_a_killed_enqueuer_leaves_all_or_nothing(cli: Cli, tmp_path: Path) -> None:
    count = 100_000
    batch = tmp_path / "batch.jsonl"
    big_batch(batch, "full-", count)
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    started = time.monotonic()
    subprocess.run(
        [QUEUECTL, "enqueue", "--file", str(batch)], env=env, check=True, stdout=subprocess.DEVNULL
    )
    duration = time.monotonic() - started
    assert total(cli.db) == count
    # Kill further enqueuers at points spread over the same run: while reading, while
    # validating, while inserting, around the commit.
    for n, fraction in enumerate((0.2, 0.4, 0.6, 0.8, 0.95)):
        big_batch(batch, f"k{n}-", count)
        proc = subprocess.Popen(
            [QUEUECTL, "enqueue", "--file", str(batch)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        before = total(cli.db)
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert total(cli.db) - before in (0, count), fraction
    # The store is healthy afterwards.
    cli.ok("enqueue", "true", "--id", "after")
    assert cli.state("after") == "pending"


def test_a_frozen_worker_cannot_overwrite_the_newer_attempt(
    cli: Cli, workers: list[Workers]
) -> None:
    cli.ok("config", "set", "lease_timeout", "1.5")
    out = cli.cwd / "attempts.txt"
    release = cli.cwd / "release"
    # The first attempt runs until the test releases it: it is still running when its
    # worker is frozen, however slowly the machine goes.
    cli.ok(
        "enqueue",
        f"[ $QUEUECTL_ATTEMPT = 1 ] && until [ -f {release} ]; do sleep 0.02; done;"
        f" echo attempt-$QUEUECTL_ATTEMPT >> {out}",
        "--id",
        "slow",
    )
    # One worker alone takes it, so it cannot hand the job on before the test knows the
    # holder (a starved holder loses its 1.5 s lease to any other worker there is).
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: "action=job_started job=slow attempt=1" in w.log(), what="attempt 1")
    (frozen,) = w.worker_pids()
    holder = cli.job("slow")["worker_id"]
    assert holder.split(":")[1] == str(frozen)
    os.kill(frozen, signal.SIGSTOP)
    try:
        release.touch()  # attempt 1 ends: its frozen worker now holds a result to push
        # The lease runs out; another worker recovers the job and runs it again.
        rescuer = cli.workers("--count", "1")
        workers.append(rescuer)
        wait_for(lambda: len(cli.job("slow")["history"]) >= 2, timeout=20, what="recovery")
        wait_for(lambda: cli.state("slow") == "completed", timeout=20, what="attempt 2")
    finally:
        os.kill(frozen, signal.SIGCONT)
    # Give the thawed worker every chance to push its late result.
    wait_for(
        lambda: "action=job_abandoned" in w.log() or "result_dropped" in w.log(),
        timeout=15,
        what="the late result to be refused",
    )
    job = cli.job("slow")
    first, second = job["history"]
    assert first["error"] == "worker lost: its lease expired"
    assert second["exit_code"] == 0 and second["worker_id"].split(":")[1] != str(frozen)
    assert (job["state"], job["worker_id"]) == ("completed", None)
    assert out.read_text().split().count("attempt-2") == 1


def _enqueue_many(url: str, prefix: str, count: int, out: str) -> None:
    with Queue(url) as q:
        for i in range(count):
            q.enqueue(f"echo {prefix}{i} >> {out}", id=f"{prefix}{i}")


def test_concurrent_enqueuers_and_workers(cli: Cli, workers: list[Workers]) -> None:
    out = cli.cwd / "ran.txt"
    w = cli.workers("--count", "4", "--quiet")
    workers.append(w)
    wait_for(lambda: len(cli.json("worker", "list")) == 4, what="4 workers")
    ctx = multiprocessing.get_context("spawn")
    producers = [
        ctx.Process(target=_enqueue_many, args=(cli.db, f"p{n}-", 500, str(out))) for n in range(8)
    ]
    for p in producers:
        p.start()
    for p in producers:
        p.join(180)
        assert p.exitcode == 0
    wait_for(lambda: cli.counts()["completed"] == 4000, timeout=180, what="4000 jobs")
    ran = Counter(out.read_text().split())
    assert len(ran) == 4000 and set(ran.values()) == {1}
    assert "locked" not in w.log().lower()


# --- misbehaving commands ------------------------------------------------------------------


def worker_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_nasty_commands_leave_the_worker_healthy(cli: Cli, workers: list[Workers]) -> None:
    pids = cli.cwd / "children.txt"
    nasty = {
        "flood": ("head -c 100000000 /dev/zero | tr '\\0' x", None),
        "forker": (f"for i in $(seq 50); do sleep 60 & echo $! >> {pids}; done; wait", 1),
        "stubborn": ("trap '' TERM; sleep 60", 1),
        "closes-stdout": ("exec >&-; sleep 0.2; echo still-here >&2", None),
        "reads-stdin": ('cat; read line; echo "got:[$line]"', None),
    }
    for job_id, (command, timeout) in nasty.items():
        args = ["enqueue", command, "--id", job_id, "--max-retries", "0"]
        if timeout:
            args += ["--timeout", str(timeout)]
        cli.ok(*args)
    w = cli.workers("--count", "1")
    workers.append(w)
    wait_for(lambda: cli.counts()["pending"] + cli.counts()["processing"] == 0, timeout=60)

    flood = cli.json("logs", "flood")
    assert cli.state("flood") == "completed" and len(flood["stdout"]) == 65536
    (worker,) = w.worker_pids()
    assert worker_rss_kb(worker) < 80 * 1024  # 100 MB went through; the worker kept 64 KiB

    forker = cli.job("forker")
    assert forker["history"][0]["timed_out"] is True
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 50
    wait_for(lambda: not any(alive(p) for p in children), timeout=10, what="all 50 children")

    stubborn = cli.job("stubborn")
    assert stubborn["history"][0]["timed_out"] is True and stubborn["exit_code"] == 137

    assert cli.state("closes-stdout") == "completed"
    assert cli.json("logs", "closes-stdout")["stderr"] == "still-here\n"
    assert cli.json("logs", "reads-stdin")["stdout"] == "got:[]\n"
    assert alive(worker)  # and it is still taking work
    cli.ok("enqueue", "true", "--id", "after")
    wait_for(lambda: cli.state("after") == "completed")


# --- the SQLite file itself ------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_a_full_disk_is_a_clear_error_and_no_partial_batch(cli: Cli, small_disk: Path) -> None:
    db = str(small_disk / "queue.db")
    cli.ok("--db", db, "enqueue", "true", "--id", "first")
    batch = small_disk.parent / "batch.jsonl"
    with open(batch, "w") as f:
        for i in range(20_000):
            f.write(json.dumps({"id": f"b{i}", "command": "echo " + "x" * 100}) + "\n")
    result = cli.run("--db", db, "enqueue", "--file", str(batch))
    assert result.code == 1, result
    assert result.err.startswith("error: ") and len(result.err.splitlines()) == 1
    assert "full" in result.err and "Traceback" not in result.err
    listed = cli.run("--db", db, "list", "--json", "--limit", "0")
    assert listed.code == 0 and [j["id"] for j in json.loads(listed.out)] == ["first"]


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_a_read_only_store_is_a_clear_error(cli: Cli, small_disk: Path) -> None:
    db = str(small_disk / "queue.db")
    cli.ok("--db", db, "enqueue", "true", "--id", "kept")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = cli.run("--db", db, "enqueue", "true")
    assert result.code == 1 and result.err.startswith("error: "), result
    assert "Traceback" not in result.err and len(result.err.splitlines()) == 1
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert [j["id"] for j in cli.json("--db", db, "list")] == ["kept"]


@pytest.mark.parametrize("store_kind", ["sqlite"])
@pytest.mark.parametrize(
    "fault", ["deleted", "garbage", "truncated", "overwritten", "journal deleted"]
)
def test_a_store_swapped_under_the_workers_stops_them(
    cli: Cli, workers: list[Workers], fault: str
) -> None:
    cli.ok("enqueue", "sleep 0.2", "--id", "first")
    w = cli.workers("--count", "2")
    workers.append(w)
    w.wait_ready(2)
    wait_for(lambda: cli.state("first") == "completed", what="the first job")
    db = Path(cli.db)
    if fault == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    elif fault == "garbage":
        moved = db.with_name("moved.db")
        shutil.move(db, moved)
        db.write_bytes(os.urandom(8192))
    elif fault == "truncated":
        os.truncate(db, 0)  # in place: the same file, now empty
    elif fault == "overwritten":
        with open(db, "r+b") as f:
            f.write(os.urandom(4096))
    else:
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink()
        # Acknowledged now, so they must survive whatever the workers do next.
        for i in range(10):
            cli.ok("enqueue", "true", "--id", f"after-{i}")
    assert w.wait(20) == 1  # the supervisor gives up, loudly, instead of draining a ghost
    log = w.log()
    assert "action=store_lost" in log and "Traceback" not in log
    if fault in ("garbage", "overwritten"):
        result = cli.run("list")
        assert result.code == 1 and "not a queuectl store" in result.err
    if fault == "journal deleted":
        listed = {j["id"] for j in cli.json("list", "--limit", "0")}
        assert {f"after-{i}" for i in range(10)} <= listed


@pytest.mark.parametrize("store_kind", ["postgres"])
def test_a_schema_dropped_under_the_workers_stops_them(
    cli: Cli, workers: list[Workers], pg_base_url: str
) -> None:
    from queuectl.store.urls import parse_url

    from ..pg import drop_schema, schema_exists

    schema = parse_url(cli.db).schema
    cli.ok("enqueue", "sleep 30", "--id", "running")
    w = cli.workers("--count", "2")
    workers.append(w)
    w.wait_ready(2)
    wait_for(lambda: cli.state("running") == "processing", what="the job to start")
    drop_schema(pg_base_url, schema)  # an administrator's DROP SCHEMA ... CASCADE
    assert w.wait(20) == 1  # as for a deleted SQLite file: stop, loudly
    log = w.log()
    assert "action=store_lost" in log and "was dropped" in log and "Traceback" not in log
    # Reading a missing store shows an empty one and creates nothing behind anyone's back...
    for args in (["status"], ["list"], ["worker", "list"], ["dlq", "list"], ["config", "list"]):
        assert cli.run(*args).code == 0, args
    assert cli.json("status")["jobs"]["total"] == 0
    assert cli.run("show", "running").code == 1
    # ...a write that does not make a store is refused...
    result = cli.run("dlq", "clear", "--yes")
    assert result.code == 1 and "no queuectl store in schema" in result.err
    assert len(result.err.splitlines()) == 1
    assert not schema_exists(pg_base_url, schema)
    # ...and only a command that writes one (init, enqueue, config set...) makes a new one.
    created = cli.ok("enqueue", "true", "--id", "fresh")
    assert "created a new empty store" in created.err
    assert schema_exists(pg_base_url, schema)
