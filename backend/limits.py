"""Process-wide bounds, so that one kind of work cannot starve another.

Sync routes share anyio's default thread pool (40 threads). Before, a slow SMTP
relay held those threads with code emails and ``/healthz`` and ``/readyz`` queued
behind them for seconds. Now mail is sent on its own limiter (``MAIL_CONCURRENCY``
threads), readiness pings have their own, ``/healthz`` uses no thread at all, and
``/api/check`` runs at most ``MAX_CONCURRENT_CHECKS`` checks at once: a request
beyond that is answered 503 with ``Retry-After`` at once rather than queued, so
sockets and memory held by checks stay bounded.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import anyio

from backend.config import BackendSettings

#: Threads for readiness pings (a probe answers even when every other pool is busy).
HEALTH_THREADS = 2


class Busy(Exception):
    """Every slot is taken; the caller answers 503 with ``Retry-After``."""


class Slots:
    """A counter of work in flight with a non-blocking acquire (one event loop only)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    @contextlib.contextmanager
    def take(self) -> Iterator[None]:
        """Hold one slot for the ``with`` block; :class:`Busy` when none is free."""
        if self.in_use >= self.capacity:
            raise Busy
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    mail: anyio.CapacityLimiter
    health: anyio.CapacityLimiter
    checks: Slots

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> Limits:
        """Create inside the event loop (the lifespan): limiters belong to one loop."""
        return cls(
            mail=anyio.CapacityLimiter(settings.mail_concurrency),
            health=anyio.CapacityLimiter(HEALTH_THREADS),
            checks=Slots(settings.max_concurrent_checks),
        )
