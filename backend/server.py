"""How ``serve`` runs uvicorn: bounded connections, and no connection held for free.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and answers
503 beyond ``limit_concurrency`` connections or requests, but it has no timeout
for a request that never completes: a client that connects and sends nothing, or
a header line every few seconds, holds a descriptor for ever (1,100 of those took
a default service down). :class:`RequestTimeoutProtocol` is uvicorn's h11
protocol plus that timer: from the moment a connection opens, or a response
ends, the next request must arrive complete within ``HTTP_REQUEST_TIMEOUT_SECONDS``
(10 s) or the connection is closed.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess

from backend.config import BackendSettings

_RECEIVED = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
#: What each worker process imports to build its app (settings from the environment).
APP_FACTORY = "backend.app:create_app"


class RequestTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol that closes connections whose request is not complete in time.

    The timeout is read from the uvicorn config (``request_timeout_seconds``, set by
    :func:`uvicorn_config`): the config travels to worker processes, a subclass
    made at run time would not.
    """

    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    _request_timer: asyncio.TimerHandle | None = None

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.request_timeout_seconds = float(
            getattr(config, "request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT_SECONDS)
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in _RECEIVED:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state not in _RECEIVED:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._request_timer = self.loop.call_later(self.request_timeout_seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _timed_out(self) -> None:
        self._request_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: Any, settings: BackendSettings, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration ``serve`` uses (``options``: host, port, workers...)."""
    config = uvicorn.Config(
        app,
        http=RequestTimeoutProtocol,
        proxy_headers=False,
        limit_concurrency=settings.http_max_connections,
        timeout_keep_alive=max(1, math.ceil(settings.http_keep_alive_seconds)),
        **options,
    )
    config.request_timeout_seconds = settings.http_request_timeout_seconds  # type: ignore[attr-defined]
    return config


def run(settings: BackendSettings, *, host: str, port: int, workers: int = 1) -> None:
    """``serve``: one process, or ``workers`` processes sharing one listening socket.

    Workers share state only through the database (rate limits, codes, tokens,
    leases all live there); each builds its own app from the environment. On
    PostgreSQL they run no reminders (``domaincheck-backend worker`` does); with
    ``REMINDERS_IN_PROCESS`` the timer runs in each and the run lease lets one at a
    time work. Per-process bounds (``MAX_CONCURRENT_CHECKS``, ``MAIL_CONCURRENCY``,
    ``HTTP_MAX_CONNECTIONS``) apply to each worker.
    """
    config = uvicorn_config(
        APP_FACTORY, settings, factory=True, host=host, port=port, workers=workers
    )
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
