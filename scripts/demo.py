"""`make demo`: a short tour of queuectl on a throw-away SQLite store.

It runs the real `queuectl` executable, printing every command before its output, so what
you see is exactly what you would type.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUEUECTL = str(Path(sys.executable).with_name("queuectl"))


def run(*args: str, show: bool = True, stdin: str | None = None) -> str:
    if show:
        print(f"\n$ queuectl {shlex.join(args)}", flush=True)
    proc = subprocess.run(
        [QUEUECTL, *args], input=stdin, capture_output=True, text=True, check=False
    )
    if show:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"demo: `queuectl {shlex.join(args)}` failed:\n{proc.stderr}")
    return proc.stdout


def counts() -> dict[str, int]:
    doc: dict[str, int] = json.loads(run("status", "--json", show=False))["jobs"]
    return doc


def settle(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = counts()
        if c["pending"] == c["processing"] == c["failed"] == 0:
            return
        time.sleep(0.1)
    raise SystemExit("demo: the queue did not settle in time")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="queuectl-demo-") as tmp:
        os.environ["QUEUECTL_DB"] = str(Path(tmp) / "demo.db")
        os.chdir(tmp)
        print(f"Throw-away store: {os.environ['QUEUECTL_DB']}")
        run("init")
        run("enqueue", "echo 'hello from queuectl'", "--id", "hello")
        run("enqueue", "echo 'this one goes first'", "--id", "urgent", "--priority", "10")
        # max_retries 3: three runs, then the DLQ with attempts 3
        run("enqueue", "exit 3", "--id", "flaky", "--max-retries", "3", "--backoff-base", "1.5")
        run("enqueue", "sleep 30", "--id", "slow", "--timeout", "1", "--max-retries", "0")
        run("enqueue", "echo 'ran 3 s later'", "--id", "scheduled", "--delay", "3s")
        run("worker", "start", "--count", "2", "--detach")
        started = time.monotonic()
        settle(60)
        print(f"\n(the queue settled in {time.monotonic() - started:.1f}s)")
        run("status")
        run("list")
        run("dlq", "list")
        run("show", "flaky")
        run("logs", "urgent")

        n = 1000
        print(f"\nThroughput: {n} jobs running `true` on the same 2 workers...")
        lines = "\n".join(json.dumps({"command": "true"}) for _ in range(n))
        run("enqueue", "--file", "-", stdin=lines, show=False)
        started = time.monotonic()
        while counts()["completed"] < n + 3:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        print(f"{n} jobs in {elapsed:.2f}s: {n / elapsed:.0f} jobs/s")
        run("worker", "stop")


if __name__ == "__main__":
    main()
