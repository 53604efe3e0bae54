"""Delivering hooks for real: an HTTP endpoint on 127.0.0.1 run by the test, and shell
callbacks as real processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from queuectl.errors import ValidationError
from queuectl.hooks import delivery, events, signing


class Request(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes


class Endpoint:
    """A webhook receiver. Each request takes the next behaviour from ``script`` (an HTTP
    status, "hang" or "trickle"); the last one repeats."""

    def __init__(self) -> None:
        self.script: list[int | str] = [200]
        self.requests: list[Request] = []
        self.released = threading.Event()  # ends hanging handlers at teardown
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                endpoint.requests.append(Request(self.path, dict(self.headers.items()), body))
                step = endpoint.script.pop(0) if len(endpoint.script) > 1 else endpoint.script[0]
                if step == "hang":
                    endpoint.released.wait(10)
                elif step == "trickle":  # a header byte every 0.1 s: each read succeeds
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(100):
                        if endpoint.released.wait(0.1):
                            break
                        self.wfile.write(b"z")
                        self.wfile.flush()
                else:
                    assert isinstance(step, int)
                    self.send_response(step)
                    self.send_header("content-type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"answer %d" % step)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    ep.thread.start()
    yield ep
    ep.stop()


SECRET = "whsec_" + base64.b64encode(b"queuectl-test-secret-of-24b").decode()
JOB = {"id": "job-1", "command": 'echo "it\'s" $(touch PWNED) `touch PWNED2`', "state": "completed"}


def send(endpoint: Endpoint, msg_id: str = "evt_1", timeout: float = 5.0) -> delivery.Outcome:
    body = events.body("job.completed", time.time(), JOB, {"attempt": 1, "exit_code": 0})
    key = signing.decode_secret(SECRET)
    headers = signing.headers(key, msg_id, int(time.time()), body)
    return delivery.post(endpoint.url, body, headers, timeout=timeout)


def test_delivery_is_signed_as_standard_webhooks(endpoint: Endpoint) -> None:
    outcome = send(endpoint)
    assert outcome.delivered and outcome.status == 200 and outcome.error is None
    [request] = endpoint.requests
    assert request.path == "/hook?x=1"
    h = {k.lower(): v for k, v in request.headers.items()}
    assert h["content-type"] == "application/json"
    assert h["user-agent"].startswith("queuectl/")
    # Verified as a receiver would, from the raw bytes and the secret, without queuectl.
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert h["webhook-signature"] == f"v1,{expected}"
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 60
    assert json.loads(request.body)["data"]["job"] == JOB


def test_a_failing_endpoint_is_retried_until_it_answers(endpoint: Endpoint) -> None:
    endpoint.script = [500, 503, 200]
    outcomes = [send(endpoint) for _ in range(3)]
    assert [o.delivered for o in outcomes] == [False, False, True]
    assert outcomes[0].error == "HTTP 500 Internal Server Error: answer 500"
    assert outcomes[1].status == 503
    # One id for every try of an event: the receiver's idempotency key.
    assert {r.headers["webhook-id"] for r in endpoint.requests} == {"evt_1"}
    first = 100.0
    assert events.next_try(first, first, 1) == 101.0
    assert events.next_try(first, 101.0, 2) == 103.0


@pytest.mark.parametrize("status", [204, 299])
def test_any_2xx_is_delivered(endpoint: Endpoint, status: int) -> None:
    endpoint.script = [status]
    assert send(endpoint).delivered


@pytest.mark.parametrize("status", [301, 307, 404, 410])
def test_redirects_and_client_errors_are_failures(endpoint: Endpoint, status: int) -> None:
    endpoint.script = [status]
    outcome = send(endpoint)
    assert not outcome.delivered and outcome.status == status
    assert len(endpoint.requests) == 1  # a redirect is not followed


@pytest.mark.parametrize("behaviour", ["hang", "trickle"])
def test_a_slow_endpoint_is_cut_off_at_the_deadline(endpoint: Endpoint, behaviour: str) -> None:
    endpoint.script = [behaviour]
    started = time.monotonic()
    outcome = send(endpoint, timeout=0.5)
    took = time.monotonic() - started
    assert not outcome.delivered
    assert "within 0.5 s" in (outcome.error or "")
    assert 0.5 <= took < 3.0, took  # without the watchdog the trickle would take 10 s


def test_a_late_watchdog_still_reports_the_deadline(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded machine the watchdog thread may run after the socket's own timeout has
    ended the read: the reason is the deadline all the same, not a bare "timed out"."""

    class LateTimer(threading.Timer):
        def __init__(self, interval: float, *args: Any, **kwargs: Any) -> None:
            super().__init__(interval + 1.0, *args, **kwargs)

    monkeypatch.setattr(delivery.threading, "Timer", LateTimer)
    endpoint.script = ["hang"]
    outcome = send(endpoint, timeout=0.5)
    assert (outcome.delivered, outcome.error) == (False, "no answer within 0.5 s")


def test_nothing_listening() -> None:
    free = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = free.server_address[1]
    free.server_close()
    outcome = delivery.post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=2)
    assert (outcome.delivered, outcome.error) == (False, "connection refused")


@pytest.mark.parametrize("url", ["ftp://example.org/", "http://", "127.0.0.1:80", "http://h:x/"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="bad hook URL"):
        delivery.check_url(url)


# ---------------------------------------------------------------- shell callbacks


def callback(
    tmp_path: Path, command: str, body: bytes, timeout: float = 5.0
) -> Callable[[], delivery.Outcome]:
    return lambda: delivery.run_command(
        command,
        body,
        event="job.completed",
        job_id="job-1",
        state="completed",
        exit_code=0,
        timeout=timeout,
        cwd=str(tmp_path),
    )


def test_callback_gets_the_event_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    body = events.body("job.completed", time.time(), JOB, {"attempt": 1, "exit_code": 0})
    command = (
        'cat > event.json; printf "%s|%s|%s|%s" "$QUEUECTL_EVENT" "$QUEUECTL_JOB_ID" '
        '"$QUEUECTL_JOB_STATE" "$QUEUECTL_EXIT_CODE" > env.txt'
    )
    outcome = callback(tmp_path, command, body)()
    assert outcome == delivery.Outcome(True, 0, None, outcome.seconds)
    assert (tmp_path / "event.json").read_bytes() == body
    assert (tmp_path / "env.txt").read_text() == "job.completed|job-1|completed|0"


def test_a_job_command_is_never_executed_by_a_callback(tmp_path: Path) -> None:
    """The job's command holds $(...), backticks and quotes; callbacks that read it from
    stdin and from the environment, the ways a user would, never run it."""
    body = events.body("job.completed", time.time(), JOB, None)
    for command in [
        "cat >/dev/null",
        'event=$(cat); echo "$event" > seen.json; echo $event > unquoted.txt',
        'read -r line; printf "%s\\n" "$line" >> lines.txt',
    ]:
        assert callback(tmp_path, command, body)().delivered
    assert json.loads((tmp_path / "seen.json").read_text())["data"]["job"] == JOB
    assert not list(tmp_path.glob("PWNED*"))


def test_a_failing_callback_says_why(tmp_path: Path) -> None:
    outcome = callback(tmp_path, "echo 'disk full' >&2; exit 3", b"{}")()
    assert (outcome.delivered, outcome.status, outcome.error) == (False, 3, "exit 3: disk full")


def test_a_hanging_callback_is_killed_with_its_children(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = callback(tmp_path, "sleep 30 & echo $! > child.pid; sleep 30", b"{}", 0.5)()
    assert not outcome.delivered and "killed" in (outcome.error or "")
    assert time.monotonic() - started < 5
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and _state(child) != "Z":
        assert time.monotonic() < deadline, "the callback's background child survived"
        time.sleep(0.02)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"
