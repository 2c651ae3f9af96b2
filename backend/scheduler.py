"""The in-process reminder timer, which must never stop silently.

It used to read the last completed run outside its ``try``: one database outage
at the wrong moment ended the task for good while ``/readyz`` stayed green. Now
every step of an iteration is inside one ``try``; any exception is logged, noted
in :class:`SchedulerHealth` (which ``/readyz`` reports) and retried after a
backoff that doubles up to :data:`MAX_BACKOFF_SECONDS` but never waits longer than
the regular interval. The next successful iteration turns the health green again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from backend.analytics import Analytics
from backend.config import BackendSettings
from backend.email import Mailer
from backend.reminders import RunStats, last_completed, run_checks
from core.config import Settings as CoreSettings
from core.models import utcnow

log = logging.getLogger(__name__)

#: First retry after a failed iteration; doubled per failure in a row.
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
#: Longest single sleep (the loop re-reads the database at least this often).
MAX_SLEEP_SECONDS = 300.0

RunFunction = Callable[[], Awaitable[RunStats]]


@dataclasses.dataclass(slots=True)
class SchedulerHealth:
    """What ``/readyz`` needs to know about the timer (written by the loop only)."""

    #: Failed iterations in a row; 0 = the last one worked (or none ran yet).
    failures: int = 0
    #: Exception class of the last failure, for the readiness message.
    last_error: str | None = None
    #: The loop ended (it never should); set by :func:`watch`.
    stopped: bool = False

    @property
    def healthy(self) -> bool:
        return self.failures == 0 and not self.stopped


def backoff_seconds(failures: int, interval_seconds: float) -> float:
    """1, 2, 4 ... up to five minutes, but never longer than the interval itself."""
    delay: float = FIRST_BACKOFF_SECONDS * 2.0 ** max(failures - 1, 0)
    return max(0.5, min(delay, MAX_BACKOFF_SECONDS, max(interval_seconds, 1.0)))


def _last_completed(session_factory: sessionmaker[Session]) -> datetime | None:
    with session_factory() as session:
        last = last_completed(session)
        session.rollback()
    return last


async def scheduler_loop(
    session_factory: sessionmaker[Session],
    *,
    settings: BackendSettings,
    mailer: Mailer,
    analytics: Analytics,
    core_settings: CoreSettings | None = None,
    clock: Callable[[], datetime] = utcnow,
    health: SchedulerHealth | None = None,
    run: RunFunction | None = None,
) -> None:
    """Run reminders every ``CHECK_INTERVAL_SECONDS`` (whichever replica gets there first).

    Only cancellation ends it. ``run`` replaces the reminder run (tests).
    """
    health = health if health is not None else SchedulerHealth()
    interval = timedelta(seconds=settings.check_interval_seconds)
    if run is None:

        async def run() -> RunStats:
            return await run_checks(
                session_factory,
                settings=settings,
                mailer=mailer,
                analytics=analytics,
                core_settings=core_settings,
                clock=clock,
            )

    while True:
        try:
            last = await asyncio.to_thread(_last_completed, session_factory)
            now = clock()
            due_at = now if last is None else last + interval
            if due_at <= now:
                stats = await run()
                # Skipped = another replica holds the lease: look again soon.
                retry = min(interval, timedelta(seconds=5))
                due_at = clock() + (retry if stats.skipped else interval)
            wait = min(max((due_at - clock()).total_seconds(), 0.5), MAX_SLEEP_SECONDS)
            health.failures, health.last_error = 0, None
        except Exception as exc:
            health.failures += 1
            health.last_error = type(exc).__name__
            wait = backoff_seconds(health.failures, interval.total_seconds())
            log.exception(
                "reminder scheduling failed (%d in a row); retrying in %.0f s",
                health.failures,
                wait,
            )
        await asyncio.sleep(wait)


def watch(task: asyncio.Task[None], health: SchedulerHealth) -> None:
    """Mark ``health`` stopped if ``task`` ever ends other than by cancellation."""

    def done(finished: asyncio.Task[None]) -> None:
        if finished.cancelled():
            return
        health.stopped = True
        error = finished.exception()
        health.last_error = type(error).__name__ if error else "stopped"
        log.error("the reminder scheduler stopped: %s", health.last_error)

    task.add_done_callback(done)
