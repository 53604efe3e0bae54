"""The HTML pages: each gathers its data from ``Queue`` in a worker thread and renders.

A page's live parts are templates of their own (``parts/NAME.html``, each one element with a
``data-part`` attribute); ``?_part=NAME`` renders only that part, with the same query, which
is how ``live.js`` refreshes it.

Pages still to come with the operations they show (queues, cron, hooks) are listed in
``NAV`` commented out; each is one builder, one template and one route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from .. import config as cfg
from ..api import Queue, parse_filter
from ..errors import NotFound, ValidationError
from ..lifecycle import State
from ..models import ActionResult, JobFilter, Output
from . import actions, chart

PAGE_SIZE = 50
MAX_FORM = 1 << 20  # bytes of a form body (a selection of 500 ids is about 25 KB)


class NavItem(NamedTuple):
    key: str
    label: str
    path: str


NAV = [
    NavItem("overview", "Overview", "/"),
    NavItem("jobs", "Jobs", "/jobs"),
    NavItem("dlq", "DLQ", "/dlq"),
    # NavItem("queues", "Queues", "/queues"),  with Queue's per-queue pause and limits
    NavItem("workers", "Workers", "/workers"),
    # NavItem("cron", "Cron", "/cron"),  with Queue's schedules
    # NavItem("hooks", "Hooks", "/hooks"),  with Queue's hooks and deliveries
    NavItem("config", "Config", "/config"),
]

Build = Callable[[Queue], dict[str, Any]]


async def render(
    request: Request, page: str, build: Build, parts: tuple[str, ...] = ()
) -> Response:
    """Run ``build`` on a pooled ``Queue`` off the event loop, then render the page (or the
    one live part that ``?_part=`` asks for)."""
    context = await run_in_threadpool(request.app.state.pool.call, build)
    context["page"] = page
    part = request.query_params.get("_part")
    if part is not None and part not in parts:
        raise NotFound(f"page {page!r} has no part {part!r}")
    template = f"parts/{part}.html" if part else f"{page}.html"
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, template, context, headers={"cache-control": "no-store"}
    )


NOT_KEPT = ("_part", "did", "done", "skipped")  # query parameters a link never carries on


def url_with(request: Request, **changes: str | None) -> str:
    """This page's path and query with ``changes`` (None removes a parameter)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in NOT_KEPT]
    query = [(k, v) for k, v in kept if k not in changes]
    query += [(k, v) for k, v in changes.items() if v is not None]
    return request.url.path + ("?" + urlencode(query) if query else "")


def job_filter(request: Request) -> JobFilter:
    p = request.query_params
    return parse_filter(p.get("state"), p.get("queue"), p.get("q"), p.get("error"))


def page_size(request: Request) -> int:
    raw = request.query_params.get("limit") or str(PAGE_SIZE)
    if not raw.isdigit():
        raise ValidationError(f"limit: {raw[:20]!r} is not a whole number")
    return int(raw)


# --- pages -------------------------------------------------------------------------------


async def overview(request: Request) -> Response:
    def build(q: Queue) -> dict[str, Any]:
        status = q.status()
        return {
            "title": "Overview",
            "counts": status.counts,
            "total": sum(status.counts.values()),
            "loads": q.queue_load(),
            "chart": chart.draw(q.throughput(60)),
            "workers": status.workers,
        }

    return await render(request, "overview", build, parts=("overview",))


async def jobs(request: Request) -> Response:
    where = job_filter(request)
    limit = page_size(request)
    cursor = request.query_params.get("cursor") or None

    def build(q: Queue) -> dict[str, Any]:
        return {
            "title": "Jobs",
            "where": where,
            "states": list(State),
            "result": q.page(where, limit=limit, cursor=cursor),
            "cursor": cursor,
            "limit": limit,
            "bulk": bulk_actions(where),
        }

    return await render(request, "jobs", build, parts=("jobs_table",))


async def job(request: Request) -> Response:
    job_id = request.path_params["job_id"]

    def build(q: Queue) -> dict[str, Any]:
        found = q.get(job_id)
        history = q.history(job_id)
        # Output of the newest attempts only: a job retried a hundred times stays one page.
        outputs: dict[int, Output] = {}
        for attempt in history[-5:]:
            try:
                outputs[attempt.attempt] = q.logs(job_id, attempt.attempt)
            except NotFound:
                pass
        return {
            "title": f"Job {job_id}",
            "job": found,
            "history": list(reversed(history)),
            "outputs": outputs,
            "actions": actions.available(found.state),
        }

    return await render(request, "job", build, parts=("job_live",))


async def dlq(request: Request) -> Response:
    error = request.query_params.get("error") or None
    where = JobFilter(state=State.DEAD, error=error)
    cursor = request.query_params.get("cursor") or None
    limit = page_size(request)

    def build(q: Queue) -> dict[str, Any]:
        return {
            "title": "Dead letter queue",
            "groups": q.dlq_groups(),
            "where": where,
            "dead": q.counts()[State.DEAD],
            "result": q.page(where, limit=limit, cursor=cursor),
            "cursor": cursor,
            "limit": limit,
            "bulk": bulk_actions(where),
        }

    return await render(request, "dlq", build, parts=("dlq_groups", "jobs_table"))


async def workers(request: Request) -> Response:
    def build(q: Queue) -> dict[str, Any]:
        return {"title": "Workers", "workers": q.workers()}

    return await render(request, "workers", build, parts=("workers_table",))


async def config(request: Request) -> Response:
    def build(q: Queue) -> dict[str, Any]:
        stored = set(q.config_stored())
        values = q.config().as_dict()
        rows = [(k.name, values[k.name], k.name in stored, k.help) for k in cfg.KEYS.values()]
        return {"title": "Config", "rows": rows}

    return await render(request, "config", build)


def bulk_actions(where: JobFilter) -> list[actions.Action]:
    """The actions that could apply to some job of ``where``."""
    found = actions.ACTIONS.values()
    return [a for a in found if where.state is None or where.state in a.states]


# --- forms -------------------------------------------------------------------------------


async def form(request: Request) -> list[tuple[str, str]]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ValidationError("the form is too large")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise ValidationError("the form is not UTF-8") from None


async def act_on_job(request: Request) -> Response:
    """``POST /jobs/ID/ACTION`` from a job's page."""
    action = actions.get(request.path_params["action"])
    job_id = request.path_params["job_id"]
    fields = await form(request)
    pool = request.app.state.pool
    result = await run_in_threadpool(actions.on_ids, pool, action, [job_id])
    return back_to(fields, f"/jobs/{job_id}", action.name, result)


async def act(request: Request) -> Response:
    """``POST /actions/ACTION``: on the ticked ids, or (``scope=filter``) on a filter."""
    action = actions.get(request.path_params["action"])
    fields = await form(request)
    values = dict(fields)
    pool = request.app.state.pool
    if values.get("scope") == "filter":
        where = parse_filter(
            values.get("state"), values.get("queue"), values.get("q"), values.get("error")
        )
        result = await run_in_threadpool(actions.on_filter, pool, action, where)
    else:
        ids = [v for k, v in fields if k == "id"]
        if not ids:
            raise ValidationError("tick at least one job")
        result = await run_in_threadpool(actions.on_ids, pool, action, ids)
    return back_to(fields, "/jobs", action.name, result)


def back_to(
    fields: list[tuple[str, str]], default: str, did: str, result: ActionResult
) -> Response:
    """Redirect to the page the form came from, saying what happened (POST, redirect, GET)."""
    back = dict(fields).get("back") or default
    parts = urlsplit(back)
    if parts.scheme or parts.netloc or not back.startswith("/") or back.startswith("//"):
        back, parts = default, urlsplit(default)  # only ever back to this dashboard
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("did", "done", "skipped")]
    query += [("did", did), ("done", str(len(result.done))), ("skipped", str(len(result.skipped)))]
    target = urlunsplit(("", "", parts.path, urlencode(query), ""))
    return RedirectResponse(target, status_code=303)


def flash(request: Request) -> str | None:
    """The line a page shows after an action redirected to it."""
    p = request.query_params
    did, done, skipped = p.get("did"), p.get("done"), p.get("skipped")
    if did not in actions.ACTIONS or not (done or "").isdigit():
        return None
    text = f"{actions.ACTIONS[did].label}: {done} done"
    if (skipped or "0") != "0" and (skipped or "").isdigit():
        text += f", {skipped} skipped (not in a state this action applies to)"
    return text
