"""The parts of ``Queue`` that the dashboard stands on, over a real store of each kind."""

from __future__ import annotations

import threading
import time

import pytest

from queuectl import Queue
from queuectl.api import parse_filter
from queuectl.errors import ValidationError
from queuectl.lifecycle import State
from queuectl.models import JobFilter

from ..helpers import bury_next


def test_page_checks_its_input(db_url: str) -> None:
    with Queue(db_url) as q:
        q.enqueue("true", id="a")
        for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "abc"}, {"cursor": "-1"}):
            with pytest.raises(ValidationError):
                q.page(**bad)  # type: ignore[arg-type]
        page = q.page(limit=1)
        assert [j.id for j in page.jobs] == ["a"] and page.next is None
        assert page.to_dict()["jobs"] == [q.get("a").to_dict()]
    with pytest.raises(ValidationError, match="unknown state"):
        parse_filter(state="bogus")
    with pytest.raises(ValidationError, match="queue"):
        parse_filter(queue="a b")
    with pytest.raises(ValidationError, match="200 characters"):
        parse_filter(text="x" * 201)
    assert parse_filter(state="", queue="", text="", error="") == JobFilter()


def test_retry_reports_each_id(db_url: str) -> None:
    with Queue(db_url) as q:
        q.enqueue("false", id="dead", max_retries=0)
        assert bury_next(q.url) == "dead"
        q.enqueue("true", id="waiting")
        result = q.retry(["dead", "waiting", "nope", "dead"])
        assert result.done == ["dead"]
        assert result.skipped == [
            ("waiting", "it is pending, not dead"),
            ("nope", "no such job"),
        ]
        assert q.get("dead").state is State.PENDING
        assert result.to_dict()["skipped"][1] == {"id": "nope", "reason": "no such job"}


def test_throughput_has_one_entry_per_minute(db_url: str) -> None:
    with Queue(db_url) as q:
        q.enqueue("false", id="dead", max_retries=0)
        assert bury_next(q.url) == "dead"
        minutes = q.throughput(60)
        assert len(minutes) == 60
        assert [m.start for m in minutes] == sorted(m.start for m in minutes)
        assert minutes[-1].start <= time.time() < minutes[-1].start + 60
        assert sum(m.failed for m in minutes) == 1 and sum(m.completed for m in minutes) == 0


def test_changes_notices_an_enqueue_from_another_process(db_url: str) -> None:
    seen: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        with Queue(db_url) as q:
            for _ in q.changes(stop.is_set, interval=0.2):
                seen.append(time.monotonic())

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(seen) == 1  # the first look
        time.sleep(0.5)
        assert len(seen) == 1  # nothing changed, nothing reported
        with Queue(db_url) as other:
            other.enqueue("true")
            enqueued = time.monotonic()  # committed: from here it is there to be seen
        while len(seen) < 2 and time.monotonic() < enqueued + 5:
            time.sleep(0.01)
        assert len(seen) >= 2 and seen[1] - enqueued < 1.0
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
