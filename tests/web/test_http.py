"""The dashboard over HTTP, against the real `queuectl web` process on each store:
credentials, the cross-site POST rule, read-only, and the API's documents against the CLI's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from ..helpers import Cli, Workers, bury_next, dump_store, wait_for
from .conftest import Web, basic

StartWeb = Callable[..., Web]


def make_dead(cli: Cli, *ids: str, command: str = "false") -> None:
    """Jobs that fail once and land in the DLQ, run by a real worker."""
    for job_id in ids:
        cli.ok("enqueue", command, "--id", job_id, "--max-retries", "1")
    workers = cli.workers("--count", "1")
    try:
        wait_for(
            lambda: all(j["state"] == "dead" for j in cli.json("list") if j["id"] in ids),
            what="jobs to die",
        )
    finally:
        workers.stop()


# --- security -----------------------------------------------------------------------------


def test_credentials_guard_every_route_but_healthz(cli: Cli, web: StartWeb) -> None:
    server = web(env={"QUEUECTL_WEB_PASSWORD": "s3cret", "QUEUECTL_WEB_TOKEN": "tok-123"})
    assert "login required" in server.stderr()
    assert server.get("/healthz").status == 200
    for path in ("/", "/jobs", "/api/v1/status", "/events", "/static/style.css"):
        reply = server.get(path)
        assert reply.status == 401, path
        assert reply.headers["www-authenticate"].startswith("Basic")
    assert server.get("/api/v1/status", basic("admin", "s3cret")).status == 200
    assert server.get("/api/v1/status", {"Authorization": "Bearer tok-123"}).status == 200
    for wrong in (
        basic("admin", "wrong"),
        basic("root", "s3cret"),
        {"Authorization": "Bearer tok-1234"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "s3cret"},
    ):
        assert server.get("/api/v1/status", wrong).status == 401, wrong


def test_a_custom_user_and_a_token_alone(cli: Cli, web: StartWeb) -> None:
    server = web(env={"QUEUECTL_WEB_USER": "ops", "QUEUECTL_WEB_PASSWORD": "pw"})
    assert server.get("/", basic("ops", "pw")).status == 200
    assert server.get("/", basic("admin", "pw")).status == 401
    only_token = web(env={"QUEUECTL_WEB_TOKEN": "t0ken"})
    reply = only_token.get("/")
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Bearer")
    assert only_token.get("/", {"Authorization": "Bearer t0ken"}).status == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.invalid"])
def test_exposed_hosts_need_credentials(cli: Cli, host: str) -> None:
    before = dump_store(cli.db) if os.path.exists(cli.db) else None
    result = cli.run("web", "--host", host, "--port", "0", timeout=30)
    assert result.code == 2, result
    assert result.err.startswith("error: ") and "QUEUECTL_WEB_PASSWORD" in result.err
    assert len(result.err.splitlines()) == 1
    if before is not None:
        assert dump_store(cli.db) == before


def test_cross_site_posts_are_refused(cli: Cli, web: StartWeb) -> None:
    make_dead(cli, "d1")
    server = web()
    before = dump_store(cli.db)
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://evil.example"},
        {"Origin": server.base.replace("127.0.0.1", "localhost")},
        {"Origin": "null"},
    ):
        reply = server.post_json("/api/v1/jobs/d1/retry", {}, headers)
        assert reply.status == 403, headers
        assert reply.json() == {"error": "cross-site request refused"}
        form = server.post_form("/actions/retry", [("id", "d1")], headers)
        assert form.status == 403, headers
    assert dump_store(cli.db) == before
    # The same origin (as a browser says it), or no browser at all (curl), may.
    same = server.post_json("/api/v1/jobs/d1/retry", {}, {"Origin": server.base})
    assert same.json() == {"done": ["d1"], "skipped": []}
    make_dead(cli, "d2")
    fetch = server.post_json("/api/v1/jobs/d2/retry", {}, {"Sec-Fetch-Site": "same-origin"})
    assert fetch.json()["done"] == ["d2"]


def test_read_only_shows_and_changes_nothing(cli: Cli, web: StartWeb) -> None:
    make_dead(cli, "d1")
    server = web("--read-only")
    before = dump_store(cli.db)
    assert "(read-only)" in server.stderr()
    reply = server.post_json("/api/v1/jobs/d1/retry", {})
    assert reply.status == 403 and reply.json() == {"error": "this dashboard is read-only"}
    for path in ("/actions/retry", "/jobs/d1/retry", "/api/v1/bulk/retry"):
        assert server.post_form(path, [("id", "d1")]).status == 403
    assert dump_store(cli.db) == before
    for path in ("/dlq", "/jobs/d1", "/jobs?state=dead"):
        page = server.get(path).text
        assert 'type="checkbox"' not in page and 'method="post"' not in page, path
        assert "Retry" not in page, path
    # A writable server offers the same actions (so the check above can fail).
    assert "Retry" in web().get("/jobs/d1").text


def test_every_answer_carries_the_security_headers(cli: Cli, web: StartWeb) -> None:
    server = web()
    for path in ("/", "/jobs", "/api/v1/status", "/static/live.js", "/nope"):
        headers = {k.lower(): v for k, v in server.get(path).headers.items()}
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    page = server.get("/").text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page


def test_mutations_are_posts_only(cli: Cli, web: StartWeb) -> None:
    make_dead(cli, "d1")
    server = web()
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        assert server.request(method, "/api/v1/jobs/d1/retry").status == 405, method
    assert server.request("PUT", "/jobs").status == 405
    assert cli.state("d1") == "dead"


# --- the API's documents are the CLI's ------------------------------------------------------


def test_api_documents_equal_the_cli_json(cli: Cli, web: StartWeb) -> None:
    make_dead(cli, "dead-1")
    cli.ok("enqueue", "echo one", "--id", "one", "--queue", "mail")
    cli.ok("enqueue", "echo two", "--id", "two", "--priority", "3")
    cli.ok("config", "set", "max_retries", "5")
    server = web()
    assert server.get("/api/v1/status").json() == cli.json("status")
    listed = server.get("/api/v1/jobs?limit=100").json()
    assert listed == {"jobs": cli.json("list"), "next": None}
    assert server.get("/api/v1/jobs?state=dead").json()["jobs"] == cli.json(
        "list", "--state", "dead"
    )
    assert server.get("/api/v1/jobs?queue=mail").json()["jobs"] == cli.json(
        "list", "--queue", "mail"
    )
    for job_id in ("dead-1", "one"):
        assert server.get(f"/api/v1/jobs/{job_id}").json() == cli.json("show", job_id)
    assert server.get("/api/v1/dlq").json() == cli.json("dlq", "list")
    assert server.get("/api/v1/config").json() == cli.json("config", "list")
    assert server.get("/api/v1/workers").json() == cli.json("worker", "list") == []


def test_workers_document_with_live_workers(
    cli: Cli, web: StartWeb, workers: list[Workers]
) -> None:
    workers.append(cli.workers("--count", "2"))
    workers[0].wait_ready(2)
    server = web()
    wait_for(lambda: len(server.get("/api/v1/workers").json()) == 2, what="two workers")
    api = server.get("/api/v1/workers").json()
    mine = cli.json("worker", "list")
    moving = ("heartbeat_at", "jobs_done", "state", "current_job")
    assert [{k: v for k, v in w.items() if k not in moving} for w in api] == [
        {k: v for k, v in w.items() if k not in moving} for w in mine
    ]
    assert set(api[0]) == set(mine[0])


def test_errors_are_json_with_the_right_status(cli: Cli, web: StartWeb) -> None:
    server = web()
    cases = [
        ("GET", "/api/v1/jobs/nope", 404),
        ("GET", "/api/v1/jobs?state=bogus", 400),
        ("GET", "/api/v1/jobs?cursor=xyz", 400),
        ("GET", "/api/v1/jobs?limit=0", 400),
        ("GET", "/api/v1/jobs?limit=many", 400),
        ("GET", "/api/v1/jobs?queue=a%20b", 400),
        ("GET", "/api/v1/dlq?limit=-1", 400),
        ("POST", "/api/v1/jobs/x/explode", 404),
        ("POST", "/api/v1/bulk/retry", 400),
    ]
    for method, path, status in cases:
        reply = server.request(method, path, body=b"{}" if method == "POST" else None)
        assert reply.status == status, (path, reply)
        assert set(reply.json()) == {"error"} and reply.json()["error"], path
    assert server.post_json("/api/v1/bulk/retry", {"ids": "d1"}).status == 400
    assert server.post_json("/api/v1/bulk/retry", {"ids": [], "filter": {}}).status == 400
    assert server.post_json("/api/v1/bulk/retry", {"filter": {"colour": "red"}}).status == 400
    assert server.request("POST", "/api/v1/bulk/retry", body=b"not json").status == 400
    page = server.get("/jobs/%3Cb%3Enope")
    assert page.status == 404 and "<b>nope" not in page.text and "&lt;b&gt;nope" in page.text


# --- actions ---------------------------------------------------------------------------------


def test_actions_answer_done_and_skipped(cli: Cli, web: StartWeb) -> None:
    make_dead(cli, "d1", "d2", "d3")
    cli.ok("enqueue", "true", "--id", "waiting")
    server = web()
    assert server.post_json("/api/v1/jobs/d1/retry", {}).json() == {"done": ["d1"], "skipped": []}
    assert server.post_json("/api/v1/jobs/nope/retry", {}).json() == {
        "done": [],
        "skipped": [{"id": "nope", "reason": "no such job"}],
    }
    reply = server.post_json("/api/v1/bulk/retry", {"ids": ["d2", "waiting", "d2"]}).json()
    assert reply == {
        "done": ["d2"],
        "skipped": [{"id": "waiting", "reason": "it is pending, not dead"}],
    }
    assert [cli.state(i) for i in ("d1", "d2", "d3")] == ["pending", "pending", "dead"]


def test_bulk_retry_on_a_filter_runs_in_batches(cli: Cli, web: StartWeb) -> None:
    """1,200 dead jobs (more than two batches) revived by one filter; others untouched."""
    from queuectl import Queue

    with Queue(cli.db) as q:
        q.enqueue_many(
            [
                {"command": "false", "id": f"d{i:04d}", "queue": "ci" if i % 3 else "mail"}
                for i in range(1200)
            ]
        )
    while bury_next(cli.db) is not None:
        pass
    server = web()
    reply = server.post_json("/api/v1/bulk/retry", {"filter": {"queue": "ci"}}).json()
    assert len(reply["done"]) == 800 and reply["skipped"] == []
    assert len(set(reply["done"])) == 800
    counts = cli.counts()
    assert counts["pending"] == 800 and counts["dead"] == 400
    again = server.post_json("/api/v1/bulk/retry", {"filter": {"queue": "ci", "state": "dead"}})
    assert again.json() == {"done": [], "skipped": []}
    rest = server.post_form(
        "/actions/retry", [("scope", "filter"), ("state", "dead"), ("back", "/dlq")]
    )
    assert rest.status == 200  # the redirect was followed to the DLQ, which says what happened
    assert "Retry: 400 done" in rest.text
    assert cli.counts()["dead"] == 0


def test_the_form_redirect_never_leaves_the_dashboard(cli: Cli, web: StartWeb) -> None:
    make_dead(cli, "d1")
    server = web()
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for back, expected in (
        ("https://evil.example/x", "/jobs?"),
        ("//evil.example", "/jobs?"),
        ("/dlq?x=1", "/dlq?x=1&"),
    ):
        body = f"id=d1&back={back}".encode()
        request = urllib.request.Request(
            server.url("/actions/retry"),
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            opener.open(request, timeout=30)
        except urllib.error.HTTPError as exc:
            assert exc.code == 303
            assert exc.headers["location"].startswith(expected), exc.headers["location"]


# --- paging ----------------------------------------------------------------------------------


def test_jobs_page_by_cursor(cli: Cli, web: StartWeb) -> None:
    lines = "\n".join(json.dumps({"id": f"j{i:02d}", "command": "true"}) for i in range(45))
    cli.ok("enqueue", "--file", "-", input=lines)
    server = web()
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        doc = server.get(f"/api/v1/jobs?limit=20&cursor={cursor}").json()
        seen += [j["id"] for j in doc["jobs"]]
        pages += 1
        if doc["next"] is None:
            break
        cursor = doc["next"]
    assert pages == 3 and seen == [f"j{i:02d}" for i in range(44, -1, -1)]
    first = server.get("/jobs?limit=20").text
    assert "Older" in first and "j44" in first and "j24" not in first
    text = server.get("/api/v1/jobs?q=j1").json()["jobs"]
    assert [j["id"] for j in text] == [f"j{i}" for i in range(19, 9, -1)]


# --- live ------------------------------------------------------------------------------------


def test_the_event_stream_tells_of_an_enqueue_within_two_seconds(cli: Cli, web: StartWeb) -> None:
    server = web()
    with server.open_stream() as stream:
        # The watcher's first look at the store is told as a change: let it pass.
        stream.read_until(b"event: change", timeout=15)
        cli.ok("enqueue", "true")
        enqueued = time.monotonic()  # from the job's existence, not the command's start-up
        stream.read_until(b"event: change", timeout=10)
        assert time.monotonic() - enqueued < 2.0


def test_stops_promptly_with_open_streams(cli: Cli, web: StartWeb) -> None:
    server = web()
    with server.open_stream():
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        assert time.monotonic() - started < 5
    assert "Traceback" not in server.stderr()


# --- the command ---------------------------------------------------------------------------


def test_a_port_in_use_is_one_error_line(cli: Cli, web: StartWeb) -> None:
    server = web()
    port = server.base.rsplit(":", 1)[1]
    result = cli.run("web", "--port", port, timeout=30)
    assert result.code == 1 and result.err.startswith("error: cannot listen on 127.0.0.1:")
    assert len(result.err.splitlines()) == 1


def test_without_the_web_extra_the_command_names_it(cli: Cli) -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'uvicorn', 'jinja2'):\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from queuectl.cli import main\n"
        "main(['web'])\n"
    )
    env = dict(cli.env, QUEUECTL_DB=cli.db)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: queuectl web needs the 'web' extra")
    assert lines[0].endswith("pip install 'queuectl[web]'")
