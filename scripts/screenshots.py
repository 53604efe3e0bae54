#!/usr/bin/env python3
"""Screenshots of the dashboard for the README: ``.venv/bin/python scripts/screenshots.py``.

Builds a throw-away store with an hour of history, starts real workers and ``queuectl web``
on 127.0.0.1, photographs the main pages with Debian's chromium (driven by Playwright), and
writes ``docs/screenshots/*.png``. Everything it starts is stopped before it exits.

The hour of history is written through the store's own claim/finish calls with past
timestamps (a real hour of jobs would take an hour); the jobs running in the pictures are run
by real workers.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from queuectl import Queue
from queuectl.lifecycle import State
from queuectl.models import AttemptResult, Outcome
from queuectl.store import Store, open_store
from queuectl.timeutil import to_iso

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser import launch  # noqa: E402  (how the tests start Chromium)
from tests.helpers import stop_group  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
QUEUECTL = str(Path(sys.executable).with_name("queuectl"))
ERRORS = ["exit code 1", "exit code 2", "timed out after 30s", "command not found (exit code 127)"]
COMMANDS = {
    "default": ["./scripts/nightly-report.sh", "python manage.py clearsessions", "make backup"],
    "build": ["make test", "docker build -t app:latest .", "npm run lint", "cargo build --release"],
    "mail": ["send-digest --user 4711", "send-invoice --order 981", "send-welcome --user 88"],
}


def history(q: Queue, store: Store, now: float) -> None:
    """An hour of finished jobs: mostly completed, some failed and retried, a few dead."""
    rng = random.Random(14)
    for minute in range(60, 0, -1):
        load = int(18 + 12 * abs(((minute % 24) - 12) / 12)) + rng.randint(0, 8)
        for _ in range(load):
            queue = rng.choice(list(COMMANDS))
            finished = now - minute * 60 + rng.uniform(0, 59)
            started = finished - rng.uniform(0.05, 20)
            ok = rng.random() > 0.08
            command = rng.choice(COMMANDS[queue])
            job = q.enqueue(command, queue=queue, max_retries=1, run_at=to_iso(started - 1))
            claimed = store.claim("demo-worker", None, started, started + 30)
            assert claimed is not None and claimed.id == job.id
            error = None if ok else rng.choice(ERRORS)
            result = AttemptResult(0 if ok else 1, error, False, started, finished)
            state = State.COMPLETED if ok else State.DEAD
            store.finish(claimed, result, Outcome(state, None))


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [QUEUECTL, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def shoot(base: str) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
        context = launch(driver, profile, height=860)
        page = context.new_page()
        shots = [  # name, path, height of the picture
            ("overview", "/", 860),
            ("jobs", "/jobs?queue=build", 860),
            ("job", "/jobs/tail-demo", 860),
            ("dlq", "/dlq", 860),
            ("workers", "/workers", 300),
        ]
        for name, path, height in shots:
            page.set_viewport_size({"width": 1280, "height": height})
            page.goto(base + path)
            page.wait_for_selector("#live.on")
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            print(f"docs/screenshots/{name}.png")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + "/")
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / "phone.png"), full_page=False)
        print("docs/screenshots/phone.png")
        context.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="queuectl-shots-") as folder:
        db = os.path.join(folder, "queue.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
        env["QUEUECTL_DB"] = db
        now = time.time()
        with Queue(db) as q:
            store = open_store(db)
            history(q, store, now)
            store.close()
            q.enqueue(
                "for i in $(seq 1 300); do echo step $i of 300; sleep 0.2; done",
                id="tail-demo",
                queue="build",
                priority=9,
            )
            for i in range(4):
                q.enqueue(f"sleep {40 + i}", queue="build", priority=5)
            q.enqueue_many(
                [{"command": "send-digest --user 17", "queue": "mail"} for _ in range(25)]
            )
            q.enqueue_many(
                [{"command": "make backup", "run_at": "2099-01-01T03:00:00Z"} for _ in range(3)]
            )
        workers = start(
            ["worker", "start", "--count", "3", "--queue", "build"], env, Path(folder) / "w.log"
        )
        web = start(["web", "--port", "0"], env, Path(folder) / "web.log")
        try:
            deadline = time.monotonic() + 30
            base = None
            while base is None and time.monotonic() < deadline:
                found = re.search(
                    r"http://127\.0\.0\.1:\d+", (Path(folder) / "web.log").read_text()
                )
                base = found.group(0) if found else None
                time.sleep(0.1)
            if base is None:
                raise SystemExit("queuectl web did not start")
            with Queue(db) as q:
                while len([w for w in q.workers() if w.current_job]) < 3:
                    time.sleep(0.1)
            time.sleep(2)  # some output in the tail
            shoot(base)
        finally:
            stop_group(web)
            stop_group(workers)


if __name__ == "__main__":
    main()
