"""Stored rows (SQLAlchemy 2 declarative). The API's shapes live in ``schemas``.

Nothing secret is stored in the clear: one-time codes and management tokens are
kept as HMAC/SHA-256 digests, client addresses as keyed hashes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Subscriber(Base):
    """One proven email address and its reminder preferences."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Random, never shown; the unsubscribe link is a MAC over it.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    threshold_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Subscription.id",
    )


class ManagementToken(Base):
    """A bearer token (stored as SHA-256) that manages one subscriber."""

    __tablename__ = "management_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Subscription(Base):
    """One watched domain of one subscriber, with what it was last reminded about.

    Reminder state per component (certificate, registration): ``*_key`` identifies
    the current certificate/registration (fingerprint and expiry); ``*_level`` is the
    most urgent milestone already mailed for that key (threshold, 7, 3, 1 days; 0 for
    "invalid"; -1 for "expired"). A new key resets the level.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("subscriber_id", "protocol", "host", "port"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: ``Target.protocol``: ``"tls"`` (bare names, ``host:port``, ``https://``), a
    #: STARTTLS/implicit-TLS scheme (``"smtp"``, ``"imaps"``...), or ``"mx"`` for an
    #: ``mx:domain`` entry, whose MX hosts are looked up at every run.
    protocol: Mapped[str] = mapped_column(String(20), default="tls", server_default="tls")
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    display: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: This domain's own threshold (issue 15); ``None``: the subscriber's.
    threshold_days: Mapped[int | None] = mapped_column(Integer, default=None)
    #: A registration expiry entered by hand (issue 14), used where the registry
    #: publishes none.
    registration_expires: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: The registry's last answer (JSON: registrar, statuses, name servers, expiry),
    #: to tell this subscriber what changed since (:mod:`backend.registrations`).
    last_registration: Mapped[str | None] = mapped_column(Text, default=None)

    tls_key: Mapped[str | None] = mapped_column(String(200), default=None)
    tls_level: Mapped[int | None] = mapped_column(Integer, default=None)
    registration_key: Mapped[str | None] = mapped_column(String(200), default=None)
    registration_level: Mapped[int | None] = mapped_column(Integer, default=None)
    last_status: Mapped[str | None] = mapped_column(String(20), default=None)
    last_days_left: Mapped[int | None] = mapped_column(Integer, default=None)
    last_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")


class OtpCode(Base):
    """A one-time code: only its HMAC is kept; dead once used, expired or out of tries."""

    __tablename__ = "otp_codes"
    __table_args__ = (
        Index("ix_otp_codes_email_created_at", "email", "created_at"),
        Index("ix_otp_codes_ip_hash_created_at", "ip_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    operation: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    ip_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Set when the code was used or superseded: it can never be used again.
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class RateEvent(Base):
    """One counted request for a sliding-window limit (key = purpose + hashed IP)."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_key_created_at", "key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Reminder(Base):
    """A reminder email waiting to be sent (the outbox): retried until ``sent_at``.

    The news it carries was taken off the subscription state in the same
    transaction that queued it, so it is neither lost (the row stays until sent)
    nor repeated (the next run sees the raised levels). ``lease_*`` lets exactly one
    replica send it at a time.
    """

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_sent_at", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: Stable per (subscriber, news): the same news can be queued only once, and a
    #: copy that does go out twice can be recognised by mail clients.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: The idempotency record: set (and committed) before a send is attempted,
    #: cleared only when the send failed for sure. Set without ``sent_at`` means
    #: the outcome is unknown (a crash, or no reply to the end of DATA): the
    #: relay may have the message, so it is never sent again.
    send_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class SchedulerLease(Base):
    """One row per periodic job: who runs it now, and when it last finished."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ReminderRun(Base):
    """One reminder run on the task queue (PostgreSQL): its batches say when it is done.

    The worker that plans a run stores it with all its batches in one transaction,
    then hands the batches to the queue and stamps ``queued_at``; a run without that
    stamp was planned by a worker that died, and the next tick queues it again.
    """

    __tablename__ = "reminder_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    subscribers: Mapped[int] = mapped_column(Integer, default=0)
    domains: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)


class ReminderBatch(Base):
    """A share of a run: some subscribers, about ``REMINDER_BATCH_NAMES`` watched names."""

    __tablename__ = "reminder_batches"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("reminder_runs.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    #: Comma-separated subscriber ids (a batch never splits one subscriber's names,
    #: so each subscriber still gets one mail per run).
    subscriber_ids: Mapped[str] = mapped_column(Text)
    names: Mapped[int] = mapped_column(Integer, default=0)
    reminders_queued: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
