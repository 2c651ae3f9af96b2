"""Scheduled reminders: check every watched domain, mail each subscriber their news.

A run (``run_checks``) has three steps:

1. Check every distinct watched target once with the core engine.
2. Per subscriber, in one transaction: compare each result with the stored
   reminder state, raise the state, and queue one ``Reminder`` row (the outbox)
   with everything new. State and outbox change together, so news is neither
   lost nor repeated.
3. Send queued reminders (:mod:`backend.outbox`): exactly once where the mail
   server lets us know, at most once where it does not.

When to remind, and what the mail says, is :mod:`backend.reminder_news` (on
crossing the threshold, again at 7, 3 and 1 days, once when expired or invalid;
registration changes once each); which targets a run checks, ``mx:`` entries
included, is :mod:`backend.watch_checks`. Checks that fail (timeouts, DNS) change
nothing: no mail, no reset. A whole run holds the ``reminders`` lease row, so
replicas on one database take turns instead of checking and mailing twice; the
lease is short and renewed while the run lives, so a crashed run blocks the others
for minutes at most. The
timer that starts runs is :mod:`backend.scheduler`. That is the SQLite path (and
``run-checks``); on PostgreSQL the same steps run as batches on a task queue, in
``domaincheck-backend worker`` processes (:mod:`backend.runs`, :mod:`backend.queue`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend import crud
from backend.analytics import Analytics
from backend.checking import check_targets
from backend.config import BackendSettings, core_settings_for
from backend.email import Mailer, stable_message_id, unsubscribe_url
from backend.models import Reminder, SchedulerLease, Subscriber, Subscription
from backend.outbox import send_pending
from backend.reminder_news import (  # noqa: F401  (re-exported: the policy lived here)
    LEVEL_EXPIRED,
    LEVEL_INVALID,
    MILESTONE_DAYS,
    News,
    assess,
    compose,
    expiry_level,
    milestones,
)
from backend.security import unsubscribe_token
from backend.targets import subscription_target
from core.config import Settings as CoreSettings
from core.dns import DnsResolver
from core.models import CheckResult, Target, utcnow

log = logging.getLogger(__name__)

LEASE_NAME = "reminders"
#: Sent reminders and stale rate-limit rows are kept this long, then pruned.
RETENTION = timedelta(days=30)

CheckFunction = Callable[[Sequence[Target]], Awaitable[dict[tuple[str, int], CheckResult]]]


class LeaseLost(Exception):
    """This run's lease ran out and another replica holds it now."""


@dataclasses.dataclass(slots=True)
class RunStats:
    skipped: bool = False
    subscribers: int = 0
    domains: int = 0
    reminders_queued: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    duration_ms: int = 0


# --------------------------------------------------------------------------- leases


def default_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire_lease(
    session: Session, *, owner: str, now: datetime, duration: timedelta, name: str = LEASE_NAME
) -> bool:
    """Take the run lease unless another live owner holds it (one conditional UPDATE)."""
    crud._insert_ignoring_conflicts(session, SchedulerLease, [{"name": name}])
    result = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            or_(
                SchedulerLease.lease_until.is_(None),
                SchedulerLease.lease_until < now,
                SchedulerLease.owner == owner,
            ),
        )
        .values(owner=owner, lease_until=now + duration, last_started_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0)) == 1


def release_lease(
    session: Session, *, owner: str, completed_at: datetime | None, name: str = LEASE_NAME
) -> None:
    values: dict[str, object] = {"owner": None, "lease_until": None}
    if completed_at is not None:
        values["last_completed_at"] = completed_at
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def last_completed(session: Session, *, name: str = LEASE_NAME) -> datetime | None:
    return session.scalar(
        select(SchedulerLease.last_completed_at).where(SchedulerLease.name == name)
    )


# --------------------------------------------------------------------------- run


async def check_with_core(
    targets: Sequence[Target],
    core_settings: CoreSettings,
    *,
    resolver: DnsResolver | None = None,
    rdap_per_server_limit: int | None = None,
) -> dict[tuple[str, int], CheckResult]:
    """Check ``targets`` (``mx:`` ones through their MX hosts), keyed by ``Target.key``:
    the pipeline every path shares (:func:`backend.checking.check_targets`)."""
    return await check_targets(
        targets, core_settings, resolver=resolver, rdap_per_server_limit=rdap_per_server_limit
    )


def subscription_key(subscription: Subscription) -> tuple[str, int]:
    """The ``Target.key`` of what a subscription watches (results are keyed by it)."""
    return _target_of(subscription).key


def _target_of(subscription: Subscription) -> Target:
    return subscription_target(
        protocol=subscription.protocol,
        host=subscription.host,
        port=subscription.port,
        display=subscription.display,
        threshold_days=subscription.threshold_days,
    )


def _watched_targets(session: Session, subscriber_ids: Sequence[int] | None = None) -> list[Target]:
    """The distinct targets watched (by ``subscriber_ids`` only, if given).

    A target watched with several thresholds is checked once, with the first one's;
    each subscription is then judged with its own (:func:`backend.reminder_news.assess`).
    """
    query = select(Subscription).order_by(Subscription.id)
    if subscriber_ids is not None:
        query = query.where(Subscription.subscriber_id.in_(subscriber_ids))
    targets: dict[tuple[str, int], Target] = {}
    for subscription in session.scalars(query):
        target = _target_of(subscription)
        targets.setdefault(target.key, target)
    session.rollback()
    return list(targets.values())


def queue_reminders(
    session: Session,
    *,
    results: dict[tuple[str, int], CheckResult],
    settings: BackendSettings,
    now: datetime,
    subscriber_ids: Sequence[int] | None = None,
) -> int:
    """Step 2: one transaction per subscriber (all, or ``subscriber_ids``); returns how
    many reminders were queued."""
    queued = 0
    if subscriber_ids is None:
        subscriber_ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
    session.commit()
    for subscriber_id in subscriber_ids:
        subscriber = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if subscriber is None:  # unsubscribed meanwhile
            session.rollback()
            continue
        subscriptions = session.scalars(
            select(Subscription)
            .where(Subscription.subscriber_id == subscriber_id)
            .order_by(Subscription.id)
            .with_for_update()
        ).all()
        news: list[News] = []
        for subscription in subscriptions:
            result = results.get(subscription_key(subscription))
            if result is not None:
                news.extend(assess(subscription, result, subscriber.threshold_days))
        if news:
            link = unsubscribe_url(
                settings, unsubscribe_token(settings.otp_secret_bytes, subscriber.public_id)
            )
            subject, body = compose(news, link)
            # The same news for the same subscriber has one Message-ID: queued twice
            # (say, by a replica whose lease ran out), it is still one row, one mail.
            message_id = stable_message_id(
                settings,
                subscriber.public_id,
                *sorted(n.identity for n in news),
            )
            crud._insert_ignoring_conflicts(
                session,
                Reminder,
                [
                    {
                        "subscriber_id": subscriber_id,
                        "message_id": message_id,
                        "subject": subject,
                        "body": body,
                        "created_at": now,
                        "attempts": 0,
                    }
                ],
            )
            queued += 1
        session.commit()
    return queued


def _take_lease(
    session_factory: sessionmaker[Session], *, owner: str, now: datetime, duration: timedelta
) -> bool:
    with session_factory() as session:
        return acquire_lease(session, owner=owner, now=now, duration=duration)


def _renew_lease(
    session_factory: sessionmaker[Session], *, owner: str, now: datetime, duration: timedelta
) -> None:
    """Extend the lease ``owner`` holds (a no-op if it lost it)."""
    with session_factory() as session:
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.owner == owner)
            .values(lease_until=now + duration)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def _census(session_factory: sessionmaker[Session]) -> tuple[list[Target], int]:
    """The distinct watched targets and the number of subscribers."""
    with session_factory() as session:
        targets = _watched_targets(session)
        subscribers = len(list(session.scalars(select(Subscriber.id))))
        session.rollback()
    return targets, subscribers


def _queue(
    session_factory: sessionmaker[Session],
    *,
    owner: str,
    lease: timedelta,
    results: dict[tuple[str, int], CheckResult],
    settings: BackendSettings,
    clock: Callable[[], datetime],
) -> int:
    with session_factory() as session:
        if not acquire_lease(session, owner=owner, now=clock(), duration=lease):  # renew
            # Another replica took over (ours ran out while checking): it queues and
            # sends; queueing here too would race it for nothing.
            raise LeaseLost("the reminder lease passed to another replica; run abandoned")
        return queue_reminders(session, results=results, settings=settings, now=clock())


def prune_old_rows(session_factory: sessionmaker[Session], *, now: datetime) -> None:
    with session_factory() as session:
        crud.prune(session, before=now - timedelta(days=1))
        session.execute(delete(Reminder).where(Reminder.sent_at < now - RETENTION))
        # Sends whose outcome stayed unknown (never retried) go after the same time.
        session.execute(
            delete(Reminder).where(
                Reminder.sent_at.is_(None), Reminder.send_started_at < now - RETENTION
            )
        )
        session.commit()


def _release(
    session_factory: sessionmaker[Session], *, owner: str, completed_at: datetime | None
) -> None:
    with session_factory() as session:
        release_lease(session, owner=owner, completed_at=completed_at)


async def _keep_lease(
    session_factory: sessionmaker[Session],
    *,
    owner: str,
    duration: timedelta,
    clock: Callable[[], datetime],
) -> None:
    """Renew the run lease every third of its length while the run is alive.

    The lease is short (``CHECK_LEASE_SECONDS``, two minutes by default), so a run
    that crashed or was killed blocks the other replicas for minutes, not an hour;
    a run that is alive keeps it however long the checks take.
    """
    while True:
        await asyncio.sleep(max(duration.total_seconds() / 3, 0.05))
        try:
            await asyncio.to_thread(
                _renew_lease, session_factory, owner=owner, now=clock(), duration=duration
            )
        except Exception as exc:  # the database is down: the run itself will notice
            log.warning("could not renew the reminder lease: %s", type(exc).__name__)


async def run_checks(
    session_factory: sessionmaker[Session],
    *,
    settings: BackendSettings,
    mailer: Mailer,
    analytics: Analytics,
    core_settings: CoreSettings | None = None,
    check: CheckFunction | None = None,
    clock: Callable[[], datetime] = utcnow,
    owner: str | None = None,
) -> RunStats:
    """One reminder run (``domaincheck-backend run-checks`` and the in-process timer).

    The database work is blocking, so it runs in worker threads: in ``serve`` this
    shares the event loop with the API, which must keep answering meanwhile.
    """
    owner = owner or default_owner()
    stats = RunStats()
    lease = timedelta(seconds=settings.check_lease_seconds)
    if not await asyncio.to_thread(
        _take_lease, session_factory, owner=owner, now=clock(), duration=lease
    ):
        log.info("another replica is running the reminders; skipping")
        stats.skipped = True
        return stats
    started = time.monotonic()
    completed_at: datetime | None = None
    heartbeat = asyncio.create_task(
        _keep_lease(session_factory, owner=owner, duration=lease, clock=clock),
        name="reminder-lease-heartbeat",
    )
    try:
        targets, stats.subscribers = await asyncio.to_thread(_census, session_factory)
        stats.domains = len(targets)
        analytics.capture(
            "scheduled_check_started",
            {"subscriber_count": stats.subscribers, "domain_count": stats.domains},
        )
        if check is None:
            check_settings = core_settings or core_settings_for(settings)

            async def check(targets: Sequence[Target]) -> dict[tuple[str, int], CheckResult]:
                return await check_with_core(
                    targets,
                    check_settings,
                    rdap_per_server_limit=settings.rdap_per_server_limit,
                )

        results = await check(targets) if targets else {}
        stats.reminders_queued = await asyncio.to_thread(
            _queue,
            session_factory,
            owner=owner,
            lease=lease,
            results=results,
            settings=settings,
            clock=clock,
        )
        stats.emails_sent, stats.emails_failed = await asyncio.to_thread(
            send_pending,
            session_factory,
            mailer=mailer,
            settings=settings,
            owner=owner,
            clock=clock,
        )
        await asyncio.to_thread(prune_old_rows, session_factory, now=clock())
        completed_at = clock()
    except Exception as exc:
        stats.duration_ms = int((time.monotonic() - started) * 1000)
        analytics.capture(
            "scheduled_check_error",
            {"error_type": type(exc).__name__, "duration_ms": stats.duration_ms},
        )
        raise
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        # Shielded: a cancelled run (service stopping) must still hand the lease back.
        # If the database is down this fails too, and the short lease runs out alone.
        await asyncio.shield(
            asyncio.to_thread(_release, session_factory, owner=owner, completed_at=completed_at)
        )
    stats.duration_ms = int((time.monotonic() - started) * 1000)
    analytics.capture(
        "scheduled_check_completed",
        {
            "subscriber_count": stats.subscribers,
            "domain_count": stats.domains,
            "reminders_queued": stats.reminders_queued,
            "emails_sent": stats.emails_sent,
            "emails_failed": stats.emails_failed,
            "duration_ms": stats.duration_ms,
        },
    )
    return stats
