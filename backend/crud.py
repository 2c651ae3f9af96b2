"""Database reads and writes as plain keyword-only functions.

Everything that must hold under concurrent requests is a single conditional
``UPDATE`` (for example "count one more attempt if fewer than five were made"), so
it holds on SQLite and PostgreSQL alike without application-level locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
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
from backend.targets import Watched, stored_protocol

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


def _same_client(ip_hash: str | None) -> ColumnElement[bool]:
    """Codes requested by this client (``ip_hash`` ``None``: an unknown client)."""
    return OtpCode.ip_hash.is_(None) if ip_hash is None else OtpCode.ip_hash == ip_hash


def latest_otp(session: Session, *, email: str, ip_hash: str | None) -> OtpCode | None:
    """The newest code this client requested for ``email``."""
    query = (
        select(OtpCode)
        .where(OtpCode.email == email, _same_client(ip_hash))
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def count_otps(session: Session, *, email: str, ip_hash: str | None, since: datetime) -> int:
    """Codes this client had sent to ``email`` since ``since``."""
    query = select(func.count()).where(
        OtpCode.email == email, _same_client(ip_hash), OtpCode.created_at > since
    )
    return session.scalar(query) or 0


def oldest_otp_since(
    session: Session, *, email: str, ip_hash: str | None, since: datetime
) -> datetime | None:
    query = select(func.min(OtpCode.created_at)).where(
        OtpCode.email == email, _same_client(ip_hash), OtpCode.created_at > since
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
    """A new code for ``email``; older codes *this client* requested die with it.

    Codes other clients requested stay alive: a stranger asking for codes must not
    kill the one the owner is about to type.
    """
    session.execute(
        update(OtpCode)
        .where(OtpCode.email == email, _same_client(ip_hash), OtpCode.used_at.is_(None))
        .values(used_at=now)
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


def live_otps(
    session: Session,
    *,
    email: str,
    operation: str,
    now: datetime,
    ip_hash: str | None = None,
    own_only: bool = False,
) -> list[OtpCode]:
    """Unused, unexpired ``operation`` codes of the address, newest first.

    ``own_only``: only those the client ``ip_hash`` requested.
    """
    query = (
        select(OtpCode)
        .where(
            OtpCode.email == email,
            OtpCode.operation == operation,
            OtpCode.used_at.is_(None),
            OtpCode.expires_at > now,
        )
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
    )
    if own_only:
        query = query.where(_same_client(ip_hash))
    return list(session.scalars(query))


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
    session: Session, *, subscriber: Subscriber, watched: Iterable[Watched], now: datetime
) -> None:
    """Watch these too (already watched ones keep their reminder state).

    An explicit entry (an object in the request) sets the domain's own threshold and
    hand-entered date; a plain one leaves them as they are.
    """
    watched = list(watched)
    rows = [
        {
            "subscriber_id": subscriber.id,
            "protocol": stored_protocol(item.target),
            "host": item.target.host,
            "port": item.target.port,
            "display": item.target.display,
            "created_at": now,
        }
        for item in watched
    ]
    _insert_ignoring_conflicts(session, Subscription, rows)
    for item in watched:
        if item.explicit:
            session.execute(
                update(Subscription)
                .where(
                    Subscription.subscriber_id == subscriber.id,
                    Subscription.protocol == stored_protocol(item.target),
                    Subscription.host == item.target.host,
                    Subscription.port == item.target.port,
                )
                .values(
                    threshold_days=item.threshold_days,
                    registration_expires=item.registration_expires,
                )
                .execution_options(synchronize_session=False)
            )
    session.expire(subscriber, ["subscriptions"])


def count_subscriptions(session: Session, *, subscriber: Subscriber) -> int:
    query = select(func.count()).where(Subscription.subscriber_id == subscriber.id)
    return session.scalar(query) or 0


def replace_subscriptions(
    session: Session, *, subscriber: Subscriber, watched: Sequence[Watched], now: datetime
) -> None:
    wanted = {
        (stored_protocol(item.target), item.target.host, item.target.port) for item in watched
    }
    for subscription in list(subscriber.subscriptions):
        if (subscription.protocol, subscription.host, subscription.port) not in wanted:
            session.delete(subscription)
    session.flush()
    add_subscriptions(session, subscriber=subscriber, watched=watched, now=now)


def replace_tokens(
    session: Session, *, subscriber: Subscriber, token_hash: str, now: datetime
) -> None:
    """The subscriber's one management token from now on: older ones stop working."""
    session.execute(delete(ManagementToken).where(ManagementToken.subscriber_id == subscriber.id))
    session.add(ManagementToken(subscriber_id=subscriber.id, token_hash=token_hash, created_at=now))


def count_subscribers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Subscriber)) or 0


def count_all_subscriptions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Subscription)) or 0


def delete_subscriber(session: Session, *, subscriber: Subscriber) -> None:
    """Forget the subscriber: domains, tokens, queued mail and any codes sent to it."""
    session.execute(delete(OtpCode).where(OtpCode.email == subscriber.email))
    session.execute(delete(ManagementToken).where(ManagementToken.subscriber_id == subscriber.id))
    session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber.id))
    session.execute(delete(Reminder).where(Reminder.subscriber_id == subscriber.id))
    session.execute(delete(Subscriber).where(Subscriber.id == subscriber.id))
    session.expunge(subscriber)
