"""The Starlette application: routes, error pages, and the resources it starts and stops."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..errors import Conflict, NotFound, QueuectlError, StoreError, UsageError
from . import api_v1, formatting, pages
from .live import Hub, Watcher
from .pool import QueuePool
from .security import Credentials, Guard

HERE = os.path.dirname(__file__)


class Settings(NamedTuple):
    url: str  # the store, as Queue opens it
    location: str  # the store, as people see it (no password)
    read_only: bool = False
    credentials: Credentials = Credentials("admin", None, None)


def routes() -> list[Route | Mount]:
    """Every route. Pages and API routes of operations still to come are added here."""
    return [
        Route("/", pages.overview),
        Route("/jobs", pages.jobs),
        Route("/jobs/{job_id}", pages.job),
        Route("/jobs/{job_id}/{action}", pages.act_on_job, methods=["POST"]),
        Route("/actions/{action}", pages.act, methods=["POST"]),
        Route("/dlq", pages.dlq),
        Route("/workers", pages.workers),
        Route("/config", pages.config),
        Route("/events", events),
        Route("/healthz", healthz),
        Route("/api/v1/status", api_v1.status),
        Route("/api/v1/jobs", api_v1.jobs),
        Route("/api/v1/jobs/{job_id}", api_v1.job),
        Route("/api/v1/jobs/{job_id}/{action}", api_v1.act_on_job, methods=["POST"]),
        Route("/api/v1/bulk/{action}", api_v1.bulk, methods=["POST"]),
        Route("/api/v1/dlq", api_v1.dlq),
        Route("/api/v1/workers", api_v1.workers),
        Route("/api/v1/config", api_v1.config),
        Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static"),
    ]


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        app.state.hub.loop = loop
        app.state.watcher = Watcher(settings.url, app.state.hub, loop)
        app.state.watcher.start()
        try:
            yield
        finally:
            app.state.hub.close()
            app.state.watcher.stop()
            app.state.pool.close()

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(Guard, credentials=settings.credentials, read_only=settings.read_only)
        ],
        exception_handlers={
            QueuectlError: queuectl_error,
            404: not_found,
            405: not_allowed,
            Exception: unexpected,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = QueuePool(settings.url)
    app.state.hub = Hub()
    app.state.templates = templates(settings)
    return app


def templates(settings: Settings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
        autoescape=True,  # every value is escaped, job text above all
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.FILTERS)
    env.globals["url_with"] = pages.url_with

    def common(request: Request) -> dict[str, Any]:
        return {
            "nav": pages.NAV,
            "read_only": settings.read_only,
            "store": settings.location,
            "flash": pages.flash(request),
            "now": formatting.now(),
        }

    return Jinja2Templates(env=env, context_processors=[common])


# --- small routes ------------------------------------------------------------------------


async def events(request: Request) -> Response:
    """Server-sent events: ``change`` whenever the store may have changed."""
    hub: Hub = request.app.state.hub
    stream = hub.stream(request.app.state.watcher.wanted)
    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def healthz(request: Request) -> Response:
    """Open without credentials: says only whether the server runs."""
    return JSONResponse({"ok": True})


# --- errors ------------------------------------------------------------------------------

STATUS = ((UsageError, 400), (NotFound, 404), (Conflict, 409), (StoreError, 503))


def error_response(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    context = {"title": f"{status}", "status": status, "message": message, "page": ""}
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


async def queuectl_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueuectlError)
    status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
    return error_response(request, status, exc.message)


async def unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server's stderr (uvicorn logs it); the page says only this.
    return error_response(request, 500, f"unexpected {type(exc).__name__}; see the server's log")


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(request, 404, f"no page at {request.url.path}")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(request, 405, f"{request.method} is not allowed here")
