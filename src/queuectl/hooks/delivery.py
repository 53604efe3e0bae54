"""One try at delivering an event: an HTTP POST, or a shell callback.

Both are bounded by a deadline (10 s by default) and report an :class:`Outcome` instead of
raising, so the caller (the supervisors' maintenance step) records the try and schedules
the next one with :func:`queuectl.hooks.events.next_try`. The standard library is enough
here: one POST per try, no session to keep, and http.client lets us bound the whole
exchange, which the per-read timeouts of urllib, requests and httpx do not.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from .. import __version__
from ..errors import ValidationError

TIMEOUT = 10.0  # SPEC §13: a 2xx answer within 10 s is delivered
ERROR_TEXT = 300  # characters of an answer or of stderr kept as the reason


class Outcome(NamedTuple):
    delivered: bool
    status: int | None  # the HTTP status, or the callback's exit code
    error: str | None  # why it was not delivered, one line
    seconds: float


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"bad hook URL {url!r}: use http:// or https:// and a host")
    try:
        parts.port  # noqa: B018  (a bad port raises here, not at the first delivery)
    except ValueError:
        raise ValidationError(f"bad hook URL {url!r}: the port is not a number") from None
    return url


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = TIMEOUT) -> Outcome:
    """POST ``body``; delivered on a 2xx answer that arrives within ``timeout``.

    Redirects are not followed: Standard Webhooks counts a 3xx as a failure (the hook's
    URL should be fixed instead), and following one would re-send the body elsewhere.
    """
    parts = urlsplit(check_url(url))
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = factory(parts.hostname or "", parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    expired = threading.Event()
    # A socket timeout bounds each read, not the answer: a server that sends a byte every
    # second would hold the try forever. At the deadline the watchdog shuts the socket,
    # which wakes the blocked read at once.
    watchdog = threading.Timer(timeout, _expire, (conn, expired))
    watchdog.daemon = True
    started = time.monotonic()
    watchdog.start()
    try:
        conn.request("POST", path, body=body, headers={"user-agent": _AGENT, **headers})
        answer = conn.getresponse()
        status, text = answer.status, answer.read(ERROR_TEXT).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        # The socket's own timeout (the whole deadline, for one read) may end the read before
        # the watchdog thread runs: on a loaded machine it often does. Either way the
        # deadline passed.
        late = expired.is_set() or time.monotonic() - started >= timeout
        reason = f"no answer within {timeout:g} s" if late else _describe(exc)
        return Outcome(False, None, reason, time.monotonic() - started)
    finally:
        watchdog.cancel()
        conn.close()
    seconds = time.monotonic() - started
    if expired.is_set():
        return Outcome(False, status, f"no complete answer within {timeout:g} s", seconds)
    if 200 <= status < 300:
        return Outcome(True, status, None, seconds)
    return Outcome(False, status, _one_line(f"HTTP {status} {answer.reason}: {text}"), seconds)


def run_command(
    command: str,
    event_json: bytes,
    *,
    event: str,
    job_id: str,
    state: str,
    exit_code: int | None,
    timeout: float = TIMEOUT,
    cwd: str | None = None,
) -> Outcome:
    """Run ``/bin/sh -c command`` with the event on stdin; delivered on exit 0.

    The job's text reaches the callback only as data (stdin and the environment), never
    as part of ``command``: a job whose command holds ``$(rm -rf ~)`` is a string here.
    """
    env = {
        **os.environ,
        "QUEUECTL_EVENT": event,
        "QUEUECTL_JOB_ID": job_id,
        "QUEUECTL_JOB_STATE": state,
        "QUEUECTL_EXIT_CODE": "" if exit_code is None else str(exit_code),
    }
    started = time.monotonic()
    # stderr goes to a file: a pipe would buffer without bound, and a background grandchild
    # holding it open would keep us waiting for an end of file after the callback exited.
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its own process group, so a timeout kills it all
            )
        except OSError as exc:
            return Outcome(False, None, f"cannot start /bin/sh: {exc}", time.monotonic() - started)
        try:
            proc.communicate(event_json, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            reason = f"still running after {timeout:g} s; killed"
            return Outcome(False, None, reason, time.monotonic() - started)
        seconds = time.monotonic() - started
        code = proc.returncode
        if code == 0:
            return Outcome(True, 0, None, seconds)
        stderr.seek(max(0, os.fstat(stderr.fileno()).st_size - ERROR_TEXT))
        tail = stderr.read().decode("utf-8", "replace")
    how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    return Outcome(False, code, _one_line(f"{how}: {tail}" if tail.strip() else how), seconds)


_AGENT = f"queuectl/{__version__}"


def _expire(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: the exchange ended as the deadline fell


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return _one_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:ERROR_TEXT]
