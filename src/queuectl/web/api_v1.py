"""``/api/v1``: the same documents as the CLI's ``--json`` (SPEC sections 6 and 15).

    GET  /api/v1/status                    status --json
    GET  /api/v1/jobs?state=&queue=&q=&error=&limit=&cursor=
                                           {"jobs": [list --json entries], "next": cursor}
    GET  /api/v1/jobs/ID                   show --json (404 for an unknown id)
    GET  /api/v1/dlq?limit=                dlq list --json
    GET  /api/v1/workers                   worker list --json
    GET  /api/v1/config                    config list --json
    POST /api/v1/jobs/ID/ACTION            {"done": [ids], "skipped": [{"id", "reason"}]}
    POST /api/v1/bulk/ACTION               the same, for {"ids": [...]} or {"filter": {...}}

Errors answer ``{"error": "..."}`` with 400 (bad input), 404, 409 or 503 (store unavailable).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..api import Queue, parse_filter
from ..errors import ValidationError
from ..models import job_document
from . import actions
from .pages import job_filter, page_size

MAX_BODY = 4 << 20  # bytes of a JSON body (a list of 50,000 ids is about 2 MB)


async def answer(request: Request, work: Callable[[Queue], Any]) -> Response:
    document = await run_in_threadpool(request.app.state.pool.call, work)
    return JSONResponse(document, headers={"cache-control": "no-store"})


async def status(request: Request) -> Response:
    return await answer(request, lambda q: q.status().to_dict())


async def jobs(request: Request) -> Response:
    where = job_filter(request)
    limit = page_size(request)
    cursor = request.query_params.get("cursor") or None
    return await answer(request, lambda q: q.page(where, limit=limit, cursor=cursor).to_dict())


async def job(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    return await answer(request, lambda q: job_document(q.get(job_id), q.history(job_id)))


async def dlq(request: Request) -> Response:
    raw = request.query_params.get("limit") or "100"
    if not raw.isdigit():
        raise ValidationError(f"limit: {raw[:20]!r} is not a whole number (0: all)")
    limit = int(raw)
    return await answer(request, lambda q: [j.to_dict() for j in q.dlq_list(limit=limit)])


async def workers(request: Request) -> Response:
    return await answer(request, lambda q: [w.to_dict() for w in q.workers()])


async def config(request: Request) -> Response:
    return await answer(request, lambda q: q.config().as_dict())


async def act_on_job(request: Request) -> Response:
    action = actions.get(request.path_params["action"])
    job_id = request.path_params["job_id"]
    pool = request.app.state.pool
    result = await run_in_threadpool(actions.on_ids, pool, action, [job_id])
    return JSONResponse(result.to_dict())


async def bulk(request: Request) -> Response:
    """``{"ids": [...]}`` or ``{"filter": {"state", "queue", "q", "error"}}``."""
    action = actions.get(request.path_params["action"])
    body = await json_body(request)
    pool = request.app.state.pool
    if "ids" in body and "filter" not in body:
        ids = body["ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValidationError('"ids": expected a list of job ids')
        result = await run_in_threadpool(actions.on_ids, pool, action, ids)
    elif "filter" in body and "ids" not in body:
        raw = body["filter"]
        if not isinstance(raw, dict) or set(raw) - {"state", "queue", "q", "error"}:
            raise ValidationError('"filter": expected an object of state, queue, q and error')
        if not all(v is None or isinstance(v, str) for v in raw.values()):
            raise ValidationError('"filter": every value is a string')
        where = parse_filter(raw.get("state"), raw.get("queue"), raw.get("q"), raw.get("error"))
        result = await run_in_threadpool(actions.on_filter, pool, action, where)
    else:
        raise ValidationError('give "ids" or "filter" (one of them)')
    return JSONResponse(result.to_dict())


async def json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValidationError(f"the body is larger than {MAX_BODY} bytes")
    try:
        document = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the body is not JSON") from None
    if not isinstance(document, dict):
        raise ValidationError("the body must be a JSON object")
    return document
