"""The FastAPI application: ``create_app()`` and its lifespan.

The lifespan owns the process-wide resources: the database engine (migrated at
start unless ``AUTO_MIGRATE=false``), the mailer, the one analytics client (shut
down with a bounded wait), the in-process reminder timer and its health (SQLite; on
PostgreSQL ``domaincheck-backend worker`` processes run the reminders), and the
:class:`~backend.limits.Limits` (thread pools and semaphores kept apart so that
health checks never queue behind mail or checks). Anything can be
injected for tests; settings are read through ``get_settings`` so
``app.dependency_overrides`` changes them for the lifespan and routes alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from backend import db
from backend.analytics import Analytics, analytics_from_settings, clean_id
from backend.api import errors
from backend.api.deps import get_core_settings
from backend.api.routes import check, health, notifications, otp, unsubscribe
from backend.config import BackendSettings, get_settings
from backend.email import Mailer, mailer_from_settings
from backend.http_guards import JsonBodiesOnly, SecurityHeaders
from backend.limits import Limits
from backend.logs import install_redaction
from backend.registry_limits import shared_registry_gates
from backend.scheduler import SchedulerHealth, scheduler_loop, watch

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def resolve_settings(app: FastAPI) -> BackendSettings:
    provider = app.dependency_overrides.get(get_settings, get_settings)
    settings: BackendSettings = provider()
    return settings


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = resolve_settings(app)
    install_redaction()
    engine = db.make_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    if settings.auto_migrate:
        await anyio.to_thread.run_sync(db.migrate, engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    injected_mailer: Mailer | None = app.state.injected_mailer
    injected_analytics: Analytics | None = app.state.injected_analytics
    app.state.mailer = injected_mailer or mailer_from_settings(settings)
    app.state.analytics = injected_analytics or analytics_from_settings(settings)
    app.state.limits = Limits.from_settings(settings)
    # On PostgreSQL, /api/check shares the RDAP slots and WHOIS turns with the other
    # replicas and the workers (backend.registry_limits); SQLite means one process.
    gates = contextlib.AsyncExitStack()
    app.state.rdap_gate = app.state.whois_gate = None
    if not db.is_sqlite(settings.effective_database_url):
        app.state.rdap_gate, app.state.whois_gate = await gates.enter_async_context(
            shared_registry_gates(
                db.normalize_url(settings.effective_database_url),
                rdap_limit=settings.rdap_per_server_limit,
            )
        )
    scheduler: asyncio.Task[None] | None = None
    app.state.scheduler_health = None
    if settings.check_interval_seconds > 0 and settings.runs_reminders_in_process:
        core_settings = app.dependency_overrides.get(get_core_settings, get_core_settings)()
        health = app.state.scheduler_health = SchedulerHealth()
        scheduler = asyncio.create_task(
            scheduler_loop(
                app.state.sessionmaker,
                settings=settings,
                mailer=app.state.mailer,
                analytics=app.state.analytics,
                core_settings=core_settings,
                health=health,
            ),
            name="reminder-scheduler",
        )
        watch(scheduler, health)
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler
        await gates.aclose()
        if injected_analytics is None:
            await anyio.to_thread.run_sync(app.state.analytics.shutdown)
        engine.dispose()


class BodySizeLimit:
    """Refuse request bodies over ``MAX_BODY_BYTES`` with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int = scope["app"].state.settings.max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit, bad=not declared.isdigit())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, limit: int, bad: bool = False
    ) -> None:
        if bad:
            response = JSONResponse(
                errors.error_body("invalid Content-Length header"), status_code=400
            )
        else:
            response = JSONResponse(
                errors.error_body(f"request body is larger than {limit} bytes"), status_code=413
            )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class AnalyticsContext:
    """Per request: an analytics context with the desktop's IDs, and ``api_request``.

    Only the route *template* is recorded (``/api/notifications``), never the raw
    path or query, which may hold tokens.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        analytics: Analytics = scope["app"].state.analytics
        headers = Headers(scope=scope)
        status_code = 500

        async def send_recording(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        started = time.perf_counter()
        with analytics.request_context(
            clean_id(headers.get("x-posthog-distinct-id")),
            clean_id(headers.get("x-posthog-session-id")),
        ):
            try:
                await self.app(scope, receive, send_recording)
            finally:
                route = getattr(scope.get("route"), "path", None)
                method = scope.get("method", "")
                analytics.capture(
                    "api_request",
                    {
                        "route": route if isinstance(route, str) else "unmatched",
                        "method": method if method in _KNOWN_METHODS else "OTHER",
                        "status_code": status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )


def create_app(
    settings: BackendSettings | None = None,
    *,
    mailer: Mailer | None = None,
    analytics: Analytics | None = None,
) -> FastAPI:
    """The service. ``settings``/``mailer``/``analytics`` replace the defaults (tests)."""
    app = FastAPI(
        title="Domain Check API",
        summary="Email reminders before TLS certificates and domain registrations expire.",
        version="0.1.0",
        lifespan=lifespan,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    app.state.injected_mailer = mailer
    app.state.injected_analytics = analytics
    for module in (otp, notifications, check, unsubscribe, health):
        app.include_router(module.router)
    errors.install(app)
    app.add_middleware(JsonBodiesOnly)
    app.add_middleware(BodySizeLimit)  # before the type check: a bad length is a 400
    app.add_middleware(AnalyticsContext)  # sees every response, 413s and 415s too
    app.add_middleware(SecurityHeaders)  # outermost: every response gets the headers
    return app
