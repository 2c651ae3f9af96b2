"""Sending queued reminders: exactly once when the mail server tells us, else at most once.

Each reminder row is its own idempotency record. Before a send is attempted, one
committed UPDATE claims the row (a lease, so one replica sends it) *and* stamps
``send_started_at``. Then:

* the relay accepted it (250 after the end of DATA): ``sent_at`` is set;
* it failed for sure (no connection, a refusal, any error reply, a failure before
  the message was fully sent): the stamp is cleared and the next run retries;
* the outcome is unknown (the message was sent but no reply came within RFC
  5321's 10 minutes, or the process died mid-send): the stamp stays, and the
  row is never picked again. The relay may have the message; a second copy is
  what the subscriber must not get.

The remaining window, honestly: a reminder in the unknown state may not have
been delivered, and is then lost (not duplicated). Its Message-ID is stable per
subscriber and news, so if an operator re-sends it by hand, mail clients can
still tell the copies apart.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.config import BackendSettings
from backend.email import (
    Mailer,
    MailError,
    MailOutcomeUnknown,
    build_reminder_email,
    unsubscribe_url,
)
from backend.models import Reminder, Subscriber
from backend.security import unsubscribe_token
from core.models import utcnow

log = logging.getLogger(__name__)

#: A claimed reminder is another replica's for this long: longer than the
#: slowest send (connect and commands, plus RFC 5321's 10 minutes for the end).
SEND_LEASE = timedelta(minutes=15)


def _next_candidate(session: Session, *, now: datetime, exclude: set[int]) -> int | None:
    query = (
        select(Reminder.id)
        .where(
            Reminder.sent_at.is_(None),
            Reminder.send_started_at.is_(None),
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
    """Lease one queued reminder to ``owner`` and record the attempt; ``False`` if taken."""
    claimed = session.execute(
        update(Reminder)
        .where(
            Reminder.id == reminder_id,
            Reminder.sent_at.is_(None),
            Reminder.send_started_at.is_(None),
            or_(Reminder.lease_until.is_(None), Reminder.lease_until < now),
        )
        .values(
            lease_owner=owner,
            lease_until=now + SEND_LEASE,
            attempts=Reminder.attempts + 1,
            send_started_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(claimed, "rowcount", 0)) == 1


class SendOutcome(enum.Enum):
    """What became of one attempt to send one queued reminder."""

    #: The relay accepted it (250 after the end of DATA).
    SENT = enum.auto()
    #: It failed for sure; the record was cleared and a later attempt may send it.
    FAILED = enum.auto()
    #: Maybe delivered: the record stays and it is never sent again.
    UNKNOWN = enum.auto()
    #: Nothing to do: already sent, being sent, attempted before, or gone.
    SKIPPED = enum.auto()


def send_one(
    session: Session,
    *,
    reminder_id: int,
    mailer: Mailer,
    settings: BackendSettings,
    owner: str,
    clock: Callable[[], datetime] = utcnow,
) -> SendOutcome:
    """Blocking: claim one queued reminder and send it, at most once (see the module)."""
    now = clock()
    if not _claim(session, reminder_id=reminder_id, owner=owner, now=now):
        return SendOutcome.SKIPPED
    reminder = session.get(Reminder, reminder_id, populate_existing=True)
    subscriber = session.get(Subscriber, reminder.subscriber_id) if reminder else None
    if reminder is None or subscriber is None:
        session.rollback()
        return SendOutcome.SKIPPED  # unsubscribed meanwhile (the reminder went with it)
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
    values: dict[str, object] = {"lease_owner": None, "lease_until": None}
    try:
        mailer.send(message)
    except MailOutcomeUnknown as exc:
        outcome = SendOutcome.UNKNOWN
        log.error(
            "reminder %s may or may not have been delivered; not resent: %s", reminder.id, exc
        )
        values["last_error"] = str(exc)[:300]  # send_started_at stays: never again
    except MailError as exc:
        outcome = SendOutcome.FAILED
        log.warning("reminder %s not sent (will be retried): %s", reminder.id, exc)
        values.update(last_error=str(exc)[:300], send_started_at=None)
    else:
        outcome = SendOutcome.SENT
        values["sent_at"] = clock()
    session.execute(
        update(Reminder)
        .where(Reminder.id == reminder.id, Reminder.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return outcome


def send_pending(
    session_factory: sessionmaker[Session],
    *,
    mailer: Mailer,
    settings: BackendSettings,
    owner: str,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[int, int]:
    """Blocking (run in a thread): send every queued reminder once; (sent, failed)."""
    sent = failed = 0
    tried: set[int] = set()
    with session_factory() as session:
        while True:
            reminder_id = _next_candidate(session, now=clock(), exclude=tried)
            if reminder_id is None:
                session.rollback()
                break
            tried.add(reminder_id)
            outcome = send_one(
                session,
                reminder_id=reminder_id,
                mailer=mailer,
                settings=settings,
                owner=owner,
                clock=clock,
            )
            if outcome is SendOutcome.SENT:
                sent += 1
            elif outcome is not SendOutcome.SKIPPED:
                failed += 1
    return sent, failed
