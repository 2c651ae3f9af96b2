"""Scheduled reminders: check every watched domain, mail each subscriber their news.

A run (``run_checks``) has three steps:

1. Check every distinct watched target once with the core engine.
2. Per subscriber, in one transaction: compare each result with the stored
   reminder state, raise the state, and queue one ``Reminder`` row (the outbox)
   with everything new. State and outbox change together, so news is neither
   lost nor repeated.
3. Send queued reminders. Each is claimed with a lease first, so only one
   replica sends it; a failed send stays queued and is retried next run.

When to remind (per component, certificate or registration): on crossing the
subscriber's threshold, again at 7, 3 and 1 days, once when expired, and once
when a certificate turns invalid. A new certificate (fingerprint) or a new expiry
date resets this. Checks that fail (timeouts, DNS) change nothing: no mail, no
reset. A whole run holds the ``reminders`` lease row, so replicas on one database
take turns instead of checking and mailing twice.
"""

from __future__ import annotations

import asyncio
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
from backend.config import BackendSettings, core_settings_for
from backend.email import (
    Mailer,
    MailError,
    build_reminder_email,
    new_message_id,
    render_template,
    unsubscribe_url,
)
from backend.models import Reminder, SchedulerLease, Subscriber, Subscription
from backend.security import unsubscribe_token
from core.checker import Checker
from core.config import Settings as CoreSettings
from core.models import CheckResult, Status, Target, utcnow
from core.report import iso

log = logging.getLogger(__name__)

LEASE_NAME = "reminders"
MILESTONE_DAYS = (7, 3, 1)
#: A claimed reminder is another replica's for this long (a send never takes longer).
SEND_LEASE = timedelta(minutes=10)
#: Sent reminders and stale rate-limit rows are kept this long, then pruned.
RETENTION = timedelta(days=30)
LEVEL_EXPIRED = -1
LEVEL_INVALID = 0

CheckFunction = Callable[[Sequence[Target]], Awaitable[dict[tuple[str, int], CheckResult]]]


@dataclasses.dataclass(frozen=True, slots=True)
class News:
    """One thing to tell a subscriber about one domain."""

    domain: str
    component: str  # "certificate" | "registration"
    status: Status
    text: str


@dataclasses.dataclass(slots=True)
class RunStats:
    skipped: bool = False
    subscribers: int = 0
    domains: int = 0
    reminders_queued: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    duration_ms: int = 0


# --------------------------------------------------------------------------- policy


def milestones(threshold_days: int) -> list[int]:
    """``[30, 7, 3, 1]`` for a 30-day threshold; ``[5, 3, 1]`` for 5; ``[0]`` for 0."""
    points = {threshold_days, *(d for d in MILESTONE_DAYS if d <= threshold_days)}
    return sorted(points, reverse=True)


def expiry_level(days_left: int, threshold_days: int) -> int | None:
    """The most urgent milestone ``days_left`` has reached (smaller = more urgent)."""
    if days_left < 0:
        return LEVEL_EXPIRED
    reached = [m for m in milestones(threshold_days) if days_left <= m]
    return min(reached) if reached else None


def _in_days(days: int) -> str:
    return "today" if days == 0 else "in 1 day" if days == 1 else f"in {days} days"


def _ago(days: int) -> str:
    return "1 day ago" if days == 1 else f"{days} days ago"


def assess(subscription: Subscription, result: CheckResult, threshold_days: int) -> list[News]:
    """What is news in ``result`` for this subscription; updates its reminder state."""
    result = dataclasses.replace(result, threshold_days=threshold_days)
    label = result.target.display if result.target.port == 443 else str(result.target)
    news: list[News] = []

    tls = result.tls
    tls_days = result.tls_days_left
    if tls is not None and tls.error is None and tls.fingerprint_sha256 and tls_days is not None:
        key = f"{tls.fingerprint_sha256}|{iso(result.tls_expiry)}"
        if key != subscription.tls_key:
            subscription.tls_key, subscription.tls_level = key, None
        status = result.tls_status
        level: int | None = None
        text = ""
        when = (iso(result.tls_expiry) or "")[:10]
        if status is Status.EXPIRED:
            level, text = LEVEL_EXPIRED, f"certificate expired {_ago(-tls_days)} ({when})"
        elif status is Status.INVALID:
            level, text = LEVEL_INVALID, f"certificate is not valid: {result.problem}"
        elif status is Status.EXPIRING:
            level = expiry_level(tls_days, threshold_days)
            text = f"certificate expires {_in_days(tls_days)} ({when})"
        if level is not None and (subscription.tls_level is None or level < subscription.tls_level):
            subscription.tls_level = level
            assert status is not None
            news.append(News(label, "certificate", status, text))

    registration = result.registration
    reg_days = result.registration_days_left
    if registration is not None and registration.expires is not None and reg_days is not None:
        key = iso(registration.expires) or ""
        if key != subscription.registration_key:
            subscription.registration_key, subscription.registration_level = key, None
        level = expiry_level(reg_days, threshold_days)
        when = key[:10]
        if level is not None and (
            subscription.registration_level is None or level < subscription.registration_level
        ):
            subscription.registration_level = level
            if level == LEVEL_EXPIRED:
                text, status = (
                    f"domain registration expired {_ago(-reg_days)} ({when})",
                    Status.EXPIRED,
                )
            else:
                text = f"domain registration expires {_in_days(reg_days)} ({when})"
                status = Status.EXPIRING
            news.append(News(label, "registration", status, text))

    subscription.last_status = result.status.value
    subscription.last_days_left = result.days_left
    subscription.last_checked_at = result.checked_at
    return news


def compose(news: Sequence[News], unsubscribe_link: str) -> tuple[str, str]:
    """Subject and plain-text body of one reminder."""
    domains = list(dict.fromkeys(item.domain for item in news))
    if len(news) == 1:
        subject = f"Domain Check: {news[0].domain} {news[0].text.split(' (')[0]}"
    else:
        subject = (
            f"Domain Check: {len(domains)} domain{'s' if len(domains) != 1 else ''} need attention"
        )
    lines = []
    for domain in domains:
        lines.append(f"* {domain}")
        for item in news:
            if item.domain == domain:
                lines.append(f"    {item.status.label}: {item.text}")
    body = render_template(
        "reminder_email.txt",
        count=len(domains),
        what="domain" if len(domains) == 1 else "domains",
        s="s" if len(domains) == 1 else "",
        items="\n".join(lines),
        unsubscribe_url=unsubscribe_link,
    )
    return subject[:300], body


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
    targets: Sequence[Target], core_settings: CoreSettings
) -> dict[tuple[str, int], CheckResult]:
    results: dict[tuple[str, int], CheckResult] = {}
    async with Checker(core_settings) as checker:
        async for result in checker.stream(targets):
            results[result.target.key] = result
    return results


def _watched_targets(session: Session) -> list[Target]:
    rows = session.execute(
        select(Subscription.host, Subscription.port, Subscription.display).order_by(Subscription.id)
    ).all()
    targets: dict[tuple[str, int], Target] = {}
    for host, port, display in rows:
        if (host, port) not in targets:
            is_ip = ":" in host or host.replace(".", "").isdigit()
            targets[host, port] = Target(host=host, port=port, display=display, is_ip=is_ip)
    return list(targets.values())


def queue_reminders(
    session: Session,
    *,
    results: dict[tuple[str, int], CheckResult],
    settings: BackendSettings,
    now: datetime,
) -> int:
    """Step 2: one transaction per subscriber; returns how many reminders were queued."""
    queued = 0
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
            result = results.get((subscription.host, subscription.port))
            if result is not None:
                news.extend(assess(subscription, result, subscriber.threshold_days))
        if news:
            link = unsubscribe_url(
                settings, unsubscribe_token(settings.otp_secret_bytes, subscriber.public_id)
            )
            subject, body = compose(news, link)
            session.add(
                Reminder(
                    subscriber_id=subscriber_id,
                    message_id=new_message_id(settings),
                    subject=subject,
                    body=body,
                    created_at=now,
                    attempts=0,
                )
            )
            queued += 1
        session.commit()
    return queued


def _next_candidate(session: Session, *, now: datetime, exclude: set[int]) -> int | None:
    query = (
        select(Reminder.id)
        .where(
            Reminder.sent_at.is_(None),
            or_(Reminder.lease_until.is_(None), Reminder.lease_until < now),
        )
        .order_by(Reminder.id)
        .limit(1)
    )
    if exclude:
        query = query.where(Reminder.id.not_in(exclude))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _claim(session: Session, *, reminder_id: int, owner: str, now: datetime) -> bool:
    """Lease one queued reminder to ``owner``; ``False`` if another sender has it."""
    claimed = session.execute(
        update(Reminder)
        .where(
            Reminder.id == reminder_id,
            Reminder.sent_at.is_(None),
            or_(Reminder.lease_until.is_(None), Reminder.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=now + SEND_LEASE, attempts=Reminder.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(claimed, "rowcount", 0)) == 1


def send_pending(
    session_factory: sessionmaker[Session],
    *,
    mailer: Mailer,
    settings: BackendSettings,
    owner: str,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[int, int]:
    """Step 3 (blocking; run in a thread): send every queued reminder once."""
    sent = failed = 0
    tried: set[int] = set()
    with session_factory() as session:
        while True:
            now = clock()
            reminder_id = _next_candidate(session, now=now, exclude=tried)
            if reminder_id is None:
                session.rollback()
                break
            tried.add(reminder_id)
            if not _claim(session, reminder_id=reminder_id, owner=owner, now=now):
                continue
            reminder = session.get(Reminder, reminder_id, populate_existing=True)
            subscriber = session.get(Subscriber, reminder.subscriber_id) if reminder else None
            if reminder is None or subscriber is None:
                session.rollback()
                continue  # unsubscribed meanwhile (the reminder went with it)
            link = unsubscribe_url(
                settings, unsubscribe_token(settings.otp_secret_bytes, subscriber.public_id)
            )
            message = build_reminder_email(
                to=subscriber.email,
                subject=reminder.subject,
                body=reminder.body,
                message_id=reminder.message_id,
                unsubscribe_link=link,
                settings=settings,
                now=now,
            )
            try:
                mailer.send(message)
            except MailError as exc:
                failed += 1
                log.warning("reminder %s not sent (will retry next run): %s", reminder.id, exc)
                values: dict[str, object] = {
                    "lease_owner": None,
                    "lease_until": None,
                    "last_error": str(exc)[:300],
                }
            else:
                sent += 1
                values = {"lease_owner": None, "lease_until": None, "sent_at": clock()}
            session.execute(
                update(Reminder)
                .where(Reminder.id == reminder.id, Reminder.lease_owner == owner)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.commit()
    return sent, failed


def _take_lease(
    session_factory: sessionmaker[Session], *, owner: str, now: datetime, duration: timedelta
) -> bool:
    with session_factory() as session:
        return acquire_lease(session, owner=owner, now=now, duration=duration)


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
        acquire_lease(session, owner=owner, now=clock(), duration=lease)  # renew
        return queue_reminders(session, results=results, settings=settings, now=clock())


def _prune(session_factory: sessionmaker[Session], *, now: datetime) -> None:
    with session_factory() as session:
        crud.prune(session, before=now - timedelta(days=1))
        session.execute(delete(Reminder).where(Reminder.sent_at < now - RETENTION))
        session.commit()


def _release(
    session_factory: sessionmaker[Session], *, owner: str, completed_at: datetime | None
) -> None:
    with session_factory() as session:
        release_lease(session, owner=owner, completed_at=completed_at)


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
                return await check_with_core(targets, check_settings)

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
        await asyncio.to_thread(_prune, session_factory, now=clock())
        completed_at = clock()
    except Exception as exc:
        stats.duration_ms = int((time.monotonic() - started) * 1000)
        analytics.capture(
            "scheduled_check_error",
            {"error_type": type(exc).__name__, "duration_ms": stats.duration_ms},
        )
        raise
    finally:
        # Shielded: a cancelled run (service stopping) must still hand the lease back.
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
    max_sleep_seconds: float = 300.0,
) -> None:
    """Run reminders every ``CHECK_INTERVAL_SECONDS`` (whichever replica gets there first)."""
    interval = timedelta(seconds=settings.check_interval_seconds)
    while True:
        last = await asyncio.to_thread(_last_completed, session_factory)
        now = clock()
        due_at = now if last is None else last + interval
        if due_at <= now:
            try:
                await run_checks(
                    session_factory,
                    settings=settings,
                    mailer=mailer,
                    analytics=analytics,
                    core_settings=core_settings,
                    clock=clock,
                )
            except Exception:
                log.exception("reminder run failed; retrying in a few minutes")
            due_at = clock() + interval
        wait = min(max((due_at - clock()).total_seconds(), 1.0), max_sleep_seconds)
        await asyncio.sleep(wait)
