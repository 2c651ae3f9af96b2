"""Database reads and writes as plain keyword-only functions.

Everything that must hold under concurrent requests is a single conditional
``UPDATE`` (for example "count one more attempt if fewer than five were made"), so
it holds on SQLite and PostgreSQL alike without application-level locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import (
    ManagementToken,
    OtpCode,
    RateEvent,
    Reminder,
    Subscriber,
    Subscription,
)
from backend.security import generate_public_id
from core.models import Target

# --- rate limits -----------------------------------------------------------------


def count_rate_events(session: Session, *, key: str, since: datetime) -> int:
    query = select(func.count()).where(RateEvent.key == key, RateEvent.created_at > since)
    return session.scalar(query) or 0


def oldest_rate_event(session: Session, *, key: str, since: datetime) -> datetime | None:
    query = select(func.min(RateEvent.created_at)).where(
        RateEvent.key == key, RateEvent.created_at > since
    )
    return session.scalar(query)


def add_rate_event(session: Session, *, key: str, now: datetime) -> None:
    session.add(RateEvent(key=key, created_at=now))


def prune(session: Session, *, before: datetime) -> None:
    """Forget rate-limit events and dead codes older than ``before``."""
    session.execute(delete(RateEvent).where(RateEvent.created_at < before))
    session.execute(delete(OtpCode).where(OtpCode.expires_at < before))


# --- one-time codes --------------------------------------------------------------


def latest_otp(session: Session, *, email: str) -> OtpCode | None:
    query = (
        select(OtpCode)
        .where(OtpCode.email == email)
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def count_otps(session: Session, *, email: str, since: datetime) -> int:
    query = select(func.count()).where(OtpCode.email == email, OtpCode.created_at > since)
    return session.scalar(query) or 0


def oldest_otp_since(session: Session, *, email: str, since: datetime) -> datetime | None:
    query = select(func.min(OtpCode.created_at)).where(
        OtpCode.email == email, OtpCode.created_at > since
    )
    return session.scalar(query)


def count_otps_from(session: Session, *, ip_hash: str, since: datetime) -> int:
    query = select(func.count()).where(OtpCode.ip_hash == ip_hash, OtpCode.created_at > since)
    return session.scalar(query) or 0


def oldest_otp_from(session: Session, *, ip_hash: str, since: datetime) -> datetime | None:
    query = select(func.min(OtpCode.created_at)).where(
        OtpCode.ip_hash == ip_hash, OtpCode.created_at > since
    )
    return session.scalar(query)


def create_otp(
    session: Session,
    *,
    email: str,
    operation: str,
    code_hash: str,
    ip_hash: str | None,
    now: datetime,
    ttl: timedelta,
) -> OtpCode:
    """A new code for ``email``; every older code of that address dies with it."""
    session.execute(
        update(OtpCode).where(OtpCode.email == email, OtpCode.used_at.is_(None)).values(used_at=now)
    )
    code = OtpCode(
        email=email,
        operation=operation,
        code_hash=code_hash,
        ip_hash=ip_hash,
        created_at=now,
        expires_at=now + ttl,
        attempts=0,
    )
    session.add(code)
    session.flush()
    return code


def live_otp(session: Session, *, email: str, now: datetime) -> OtpCode | None:
    """The address's current code, if it is unused and unexpired."""
    query = (
        select(OtpCode)
        .where(OtpCode.email == email, OtpCode.used_at.is_(None), OtpCode.expires_at > now)
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def reserve_otp_attempt(session: Session, *, otp_id: int, now: datetime, max_attempts: int) -> bool:
    """Count one attempt if the code may still be tried; ``False`` = do not evaluate.

    One conditional UPDATE: however many requests race, at most ``max_attempts``
    of them get ``True``.
    """
    result = session.execute(
        update(OtpCode)
        .where(
            OtpCode.id == otp_id,
            OtpCode.used_at.is_(None),
            OtpCode.expires_at > now,
            OtpCode.attempts < max_attempts,
        )
        .values(attempts=OtpCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def consume_otp(session: Session, *, otp_id: int, now: datetime) -> bool:
    """Mark the code used; ``False`` if another request used it first."""
    result = session.execute(
        update(OtpCode)
        .where(OtpCode.id == otp_id, OtpCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def delete_otp(session: Session, *, otp_id: int) -> None:
    session.execute(delete(OtpCode).where(OtpCode.id == otp_id))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


# --- subscribers -----------------------------------------------------------------


def get_subscriber_by_email(session: Session, *, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def get_subscriber_by_public_id(session: Session, *, public_id: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.public_id == public_id))


def get_subscriber_by_token(session: Session, *, token_hash: str) -> Subscriber | None:
    query = (
        select(Subscriber)
        .join(ManagementToken, ManagementToken.subscriber_id == Subscriber.id)
        .where(ManagementToken.token_hash == token_hash)
    )
    return session.scalar(query)


def _insert_ignoring_conflicts(
    session: Session, table: type, rows: Sequence[dict[str, object]]
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).on_conflict_do_nothing(), list(rows))


def upsert_subscriber(
    session: Session, *, email: str, threshold_days: int, now: datetime
) -> Subscriber:
    """The subscriber for ``email`` (created if new), with ``threshold_days`` set.

    ``INSERT .. ON CONFLICT DO NOTHING`` first, so two registrations of the same
    address racing each other both end up on the one row.
    """
    _insert_ignoring_conflicts(
        session,
        Subscriber,
        [
            {
                "public_id": generate_public_id(),
                "email": email,
                "threshold_days": threshold_days,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.email == email).with_for_update()
    ).one()
    subscriber.threshold_days = threshold_days
    subscriber.updated_at = now
    return subscriber


def add_subscriptions(
    session: Session, *, subscriber: Subscriber, targets: Iterable[Target], now: datetime
) -> None:
    """Watch ``targets`` too (already watched ones keep their reminder state)."""
    rows = [
        {
            "subscriber_id": subscriber.id,
            "host": target.host,
            "port": target.port,
            "display": target.display,
            "created_at": now,
        }
        for target in targets
    ]
    _insert_ignoring_conflicts(session, Subscription, rows)
    session.expire(subscriber, ["subscriptions"])


def count_subscriptions(session: Session, *, subscriber: Subscriber) -> int:
    query = select(func.count()).where(Subscription.subscriber_id == subscriber.id)
    return session.scalar(query) or 0


def replace_subscriptions(
    session: Session, *, subscriber: Subscriber, targets: Sequence[Target], now: datetime
) -> None:
    wanted = {target.key for target in targets}
    for subscription in list(subscriber.subscriptions):
        if (subscription.host, subscription.port) not in wanted:
            session.delete(subscription)
    session.flush()
    add_subscriptions(session, subscriber=subscriber, targets=targets, now=now)


def add_token(session: Session, *, subscriber: Subscriber, token_hash: str, now: datetime) -> None:
    session.add(ManagementToken(subscriber_id=subscriber.id, token_hash=token_hash, created_at=now))


def delete_subscriber(session: Session, *, subscriber: Subscriber) -> None:
    """Forget the subscriber: domains, tokens, queued mail and any codes sent to it."""
    session.execute(delete(OtpCode).where(OtpCode.email == subscriber.email))
    session.execute(delete(ManagementToken).where(ManagementToken.subscriber_id == subscriber.id))
    session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber.id))
    session.execute(delete(Reminder).where(Reminder.subscriber_id == subscriber.id))
    session.execute(delete(Subscriber).where(Subscriber.id == subscriber.id))
    session.expunge(subscriber)
