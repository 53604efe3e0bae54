"""The dashboard in a real headless Chromium: pages load under the strict CSP, live updates
arrive without a reload, a retry clicked in the page changes the store, filters and paging
work, and hostile job text is shown as text and never runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from ..helpers import Cli, Workers, wait_for
from .conftest import Browser, Web
from .test_http import make_dead

StartWeb = Callable[..., Web]

HOSTILE = (
    "echo '<script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2">'
    "<b onmouseover=alert(3)>bold</b>'"
)


def test_every_page_loads_without_errors(cli: Cli, web: StartWeb, browser: Browser) -> None:
    make_dead(cli, "d1")
    cli.ok("enqueue", "echo hello", "--id", "hello", "--queue", "mail")
    server = web()
    page = browser.page
    for path, heading in (
        ("/", "Last hour"),
        ("/jobs", "Jobs"),
        ("/jobs/d1", "d1"),
        ("/dlq", "Dead letter queue"),
        ("/workers", "Workers"),
        ("/config", "Config"),
    ):
        response = page.goto(server.url(path))
        assert response is not None and response.status == 200, path
        assert heading in page.inner_text("main"), path
    # Every nav link leads to a page that loads.
    page.goto(server.url("/"))
    for link in page.locator("header nav a").all():
        target = link.get_attribute("href")
        assert target is not None and page.request.get(server.url(target)).status == 200
    page.wait_for_selector("#live.on")
    assert browser.errors == [] and browser.dialogs == []


def test_an_enqueued_job_appears_without_a_reload(
    cli: Cli, web: StartWeb, browser: Browser
) -> None:
    cli.ok("enqueue", "true", "--id", "first")
    server = web()
    page = browser.page
    for path in ("/jobs", "/"):
        page.goto(server.url(path))
        page.wait_for_selector("#live.on")
        page.evaluate("window.__sameDocument = true")
        job_id = f"new-{path.strip('/') or 'overview'}"
        before = time.monotonic()
        cli.ok("enqueue", "sleep 60", "--id", job_id)
        if path == "/jobs":
            page.wait_for_selector(f"text={job_id}", timeout=5000)
        else:
            # first, new-jobs, and now new-overview: three pending jobs
            page.wait_for_selector(".card.state-pending .n:text-is('3')", timeout=5000)
        assert time.monotonic() - before < 2.0, path
        assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert browser.errors == []


def test_retry_from_the_page_changes_the_store(cli: Cli, web: StartWeb, browser: Browser) -> None:
    make_dead(cli, "d1", "d2", "d3")
    server = web()
    page = browser.page
    page.goto(server.url("/dlq"))
    page.check("input[name=id][value=d1]")
    page.check("input[name=id][value=d3]")
    page.click("button:has-text('Retry selected')")
    page.wait_for_selector("text=Retry: 2 done")
    assert [cli.state(i) for i in ("d1", "d2", "d3")] == ["pending", "dead", "pending"]
    page.goto(server.url("/jobs/d2"))
    page.click("button:has-text('Retry')")
    page.wait_for_selector("text=Retry: 1 done")
    assert cli.state("d2") == "pending"
    assert "Retry" not in page.inner_text("[data-part=job_live]")  # pending: nothing to retry


def test_retry_a_whole_error_group(cli: Cli, web: StartWeb, browser: Browser) -> None:
    make_dead(cli, "a1", "a2", command="exit 3")
    make_dead(cli, "b1", command="exit 4")
    server = web()
    page = browser.page
    page.goto(server.url("/dlq"))
    groups = page.inner_text("[data-part=dlq_groups]")
    assert "exit code 3" in groups and "exit code 4" in groups
    page.click("tr:has-text('exit code 3') button:has-text('Retry these 2')")
    page.wait_for_selector("text=Retry: 2 done")
    assert [cli.state(i) for i in ("a1", "a2", "b1")] == ["pending", "pending", "dead"]


def test_filters_and_paging(cli: Cli, web: StartWeb, browser: Browser) -> None:
    jobs = [
        {
            "id": f"{'mail' if i % 2 else 'ci'}-{i:02d}",
            "command": f"echo {i}",
            "queue": "mail" if i % 2 else "ci",
        }
        for i in range(50)
    ]
    cli.ok("enqueue", "--file", "-", input="\n".join(json.dumps(j) for j in jobs))
    server = web()
    page = browser.page
    page.goto(server.url("/jobs?limit=10"))
    page.fill("input[name=queue]", "mail")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**queue=mail**")
    seen: list[str] = []
    while True:
        ids = page.locator("table.jobs td.id a").all_inner_texts()
        assert ids and all(i.startswith("mail-") for i in ids)
        seen += ids
        older = page.locator("a[rel=next]")
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state()
    assert seen == [f"mail-{i:02d}" for i in range(49, 0, -2)]
    page.goto(server.url("/jobs"))
    page.fill("input[name=q]", "echo 4")
    page.select_option("select[name=state]", "pending")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**q=echo**")
    assert page.locator("table.jobs td.id a").all_inner_texts() == [
        "mail-49",
        "ci-48",
        "mail-47",
        "ci-46",
        "mail-45",
        "ci-44",
        "mail-43",
        "ci-42",
        "mail-41",
        "ci-40",
        "ci-04",
    ]


def test_hostile_job_text_renders_as_text(
    cli: Cli, web: StartWeb, browser: Browser, workers: list[Workers]
) -> None:
    cli.ok("enqueue", HOSTILE, "--id", "hostile", "--max-retries", "1")
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.state("hostile") == "completed", what="the job to run")
    server = web()
    page = browser.page
    for path in ("/jobs", "/jobs/hostile", "/jobs?q=script", "/"):
        page.goto(server.url(path))
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("main img").count() == 0, path
        assert page.locator("main script").count() == 0, path
        assert page.locator("main b:has-text('bold')").count() == 0, path
    page.goto(server.url("/jobs/hostile"))
    assert page.inner_text("pre.command") == HOSTILE
    assert "<script>window.__pwned = 1</script>" in page.inner_text("pre.stdout")
    page.hover("pre.stdout")
    assert browser.dialogs == [] and page.evaluate("window.__pwned") is None
    assert browser.errors == []


def test_a_running_job_shows_its_output_as_it_grows(
    cli: Cli, web: StartWeb, browser: Browser, workers: list[Workers]
) -> None:
    cli.ok("enqueue", "for i in $(seq 1 150); do echo line $i; sleep 0.1; done", "--id", "tail")
    workers.append(cli.workers("--count", "1"))
    wait_for(lambda: cli.state("tail") == "processing", what="the job to start")
    server = web()
    page = browser.page
    page.goto(server.url("/jobs/tail"))
    page.evaluate("window.__sameDocument = true")
    assert page.locator("[data-part=job_live] > p .state-processing").count() == 1
    shown = page.locator("pre.stdout").all_inner_texts()
    later = len(shown[0].splitlines()) + 20 if shown else 20
    page.wait_for_selector(f"pre.stdout:has-text('line {later}')", timeout=15_000)
    page.wait_for_selector("[data-part=job_live] > p .state-completed", timeout=40_000)
    assert "line 150" in page.inner_text("pre.stdout")
    assert page.evaluate("window.__sameDocument") is True
    assert browser.errors == []
