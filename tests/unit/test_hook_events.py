"""Hook events (SPEC §13): names, body, retry schedule, and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from queuectl.errors import ValidationError
from queuectl.hooks import events, signing


def test_event_names() -> None:
    assert events.parse_events("completed,dead") == ("completed", "dead")
    assert events.parse_events(" dead , job.enqueued,dead ") == ("enqueued", "dead")
    assert events.event_type("completed") == "job.completed"


@pytest.mark.parametrize(("text", "reason"), [("", "at least one"), ("complete", "did you mean")])
def test_bad_event_names(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        events.parse_events(text)


def test_body_shape() -> None:
    job = {"id": "j1", "command": "echo 'hi' $(id)", "state": "completed"}
    attempt = {"attempt": 1, "exit_code": 0}
    raw = events.body("job.completed", 1_800_000_000.25, job, attempt)
    assert json.loads(raw) == {
        "type": "job.completed",
        "timestamp": "2027-01-15T08:00:00.250Z",
        "data": {"job": job, "attempt": attempt},
    }
    assert b" " not in raw.replace(b"echo 'hi' $(id)", b"")  # compact: what is sent is signed
    assert json.loads(events.body("hook.test", 0, None))["data"] == {"job": None, "attempt": None}


def test_retry_delays_double_from_one_second_to_ten_minutes() -> None:
    delays = [events.retry_delay(k) for k in range(1, 14)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]
    assert events.retry_delay(10**6) == 600
    with pytest.raises(ValueError):
        events.retry_delay(0)


def test_retries_stop_at_the_window() -> None:
    first = 1000.0
    tries, at, failures = [first], first, 1
    while (following := events.next_try(first, at, failures)) is not None:
        tries.append(following)
        at, failures = following, failures + 1
    assert tries[-1] <= first + 86400 < tries[-1] + 600
    # 1+2+...+512 = 1023 s of doubling, then every 10 minutes for the rest of the day.
    assert len(tries) == 11 + (86400 - 1023) // 600
    assert events.next_try(first, first, 1, window=0.5) is None
    assert events.next_try(first, first, 1, window=1.0) == first + 1


# The example of the Standard Webhooks reference library's own tests
# (libraries/python/tests/test_webhooks.py, test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_example() -> None:
    key = signing.decode_secret(SPEC_SECRET)
    assert signing.sign(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers() -> None:
    key = b"plain secret"
    h = signing.headers(key, "evt_1", 1700000000, b"{}")
    expected = hmac.new(key, b"evt_1.1700000000.{}", hashlib.sha256).digest()
    assert h == {
        "content-type": "application/json",
        "webhook-id": "evt_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(expected).decode(),
    }
    assert "webhook-signature" not in signing.headers(None, "evt_1", 1700000000, b"{}")


def test_secrets() -> None:
    assert signing.decode_secret("hunter2") == b"hunter2"
    assert signing.decode_secret("whsec_" + base64.b64encode(b"\x00\xff").decode()) == b"\x00\xff"
    for bad in ["", "whsec_", "whsec_not base64!"]:
        with pytest.raises(ValidationError):
            signing.decode_secret(bad)


@pytest.mark.parametrize("msg_id", ["", "evt.1"])
def test_ids_that_could_forge_a_signature_are_refused(msg_id: str) -> None:
    with pytest.raises(ValueError, match="webhook id"):
        signing.sign(b"k", msg_id, 1, b"{}")
