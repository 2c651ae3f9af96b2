"""The one-time-code flow: issuing codes (with the abuse limits) and checking them.

The limits restrict *sending*, per requesting client, never the owner's ability to
get a fresh code. A client is a keyed hash of its address, IPv6 counted per /64
(see ``backend.api.deps``). All limits live in the database, so they hold across
workers and replicas:

* one new code per address *and client* per minute (``already_sent``), five per
  address and client per hour, and ``RATE_LIMIT_IP_OTP_PER_HOUR`` per client (429);
* a new code supersedes only the codes the same client asked for, so strangers
  requesting codes and guessing wrong cannot kill the owner's code, and the owner
  asking from another address gets a fresh code at once;
* codes are bound to their purpose: a ``register`` code does not work for
  ``manage`` and the other way round;
* each code is compared at most five times however many requests race (one
  conditional UPDATE reserves each attempt first). A guess from the client that
  requested the code is compared with that code only; a guess from any other
  client with each live code of the address, but only while the code has used
  fewer than :data:`OTP_FOREIGN_ATTEMPTS` of its five: the last two tries are
  kept for the client that asked for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend import crud
from backend.analytics import Analytics
from backend.config import (
    OTP_MAX_ATTEMPTS,
    OTP_MAX_PER_HOUR,
    OTP_RESEND_SECONDS,
    OTP_TTL_SECONDS,
    BackendSettings,
)
from backend.email import Mailer, MailError, build_otp_email
from backend.security import generate_otp, hash_otp, otp_matches

HOUR = timedelta(hours=1)
#: Tries of a code open to clients other than the one that requested it.
OTP_FOREIGN_ATTEMPTS = 3
#: A guess from a client without its own code is compared with at most this many
#: of the address's live codes (each compared once more: see the module doc).
OTP_MAX_LIVE_COMPARED = 5


class RateLimited(Exception):
    """Too many requests; try again in ``retry_after_seconds``."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"rate limited for {retry_after_seconds} s")
        self.retry_after_seconds = max(1, retry_after_seconds)


class MailNotSent(Exception):
    """The code email could not be handed to the mail server."""


@dataclass(frozen=True, slots=True)
class CodeRequestOutcome:
    status: str  # "sent" | "already_sent"
    resend_after_seconds: int


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))


def lock_address(session: Session, email: str) -> None:
    """Serialise code requests for one address (SQLite transactions already are)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:e, 0))"), {"e": email})


def enforce_ip_limit(
    session: Session, *, purpose: str, ip_hash: str | None, limit: int, now: datetime
) -> None:
    """Count one request of ``purpose`` from this client; raise when over ``limit``/hour."""
    if ip_hash is None:
        return
    key = f"{purpose}:{ip_hash[:40]}"
    since = now - HOUR
    if crud.count_rate_events(session, key=key, since=since) >= limit:
        oldest = crud.oldest_rate_event(session, key=key, since=since) or now
        session.rollback()
        raise RateLimited(_seconds_until(oldest + HOUR, now))
    crud.add_rate_event(session, key=key, now=now)


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A stored code whose email still has to be sent (off the database thread)."""

    otp_id: int
    message: EmailMessage


def prepare_code(
    session: Session,
    *,
    email: str,
    operation: str,
    force_new: bool,
    ip_hash: str | None,
    settings: BackendSettings,
    analytics: Analytics,
    now: datetime,
) -> CodeRequestOutcome | PendingCode:
    """Store a new code and build its email, unless this client got one moments ago.

    The answer is the same for any address. The caller sends the email (see
    :func:`send_code`) so that a slow mail relay holds no database connection.
    """
    lock_address(session, email)
    since = now - HOUR
    if ip_hash is not None and (
        crud.count_otps_from(session, ip_hash=ip_hash, since=since)
        >= settings.rate_limit_ip_otp_per_hour
    ):
        oldest = crud.oldest_otp_from(session, ip_hash=ip_hash, since=since) or now
        session.rollback()
        raise RateLimited(_seconds_until(oldest + HOUR, now))
    latest = crud.latest_otp(session, email=email, ip_hash=ip_hash)
    if latest is not None:
        resend_at = latest.created_at + timedelta(seconds=OTP_RESEND_SECONDS)
        # A code out of tries is dead: "already sent" would leave the user stuck
        # with it until it expires.
        live = (
            latest.used_at is None
            and latest.expires_at > now
            and latest.attempts < OTP_MAX_ATTEMPTS
            and latest.operation == operation
        )
        if now < resend_at or (live and not force_new):
            session.rollback()
            analytics.capture("otp_generated", {"operation": operation, "status": "already_sent"})
            return CodeRequestOutcome("already_sent", _seconds_until(resend_at, now))
    if crud.count_otps(session, email=email, ip_hash=ip_hash, since=since) >= OTP_MAX_PER_HOUR:
        oldest = crud.oldest_otp_since(session, email=email, ip_hash=ip_hash, since=since) or now
        session.rollback()
        raise RateLimited(_seconds_until(oldest + HOUR, now))

    code = generate_otp()
    row = crud.create_otp(
        session,
        email=email,
        operation=operation,
        code_hash=hash_otp(settings.otp_secret_bytes, email, code),
        ip_hash=ip_hash,
        now=now,
        ttl=timedelta(seconds=OTP_TTL_SECONDS),
    )
    session.commit()
    analytics.capture("otp_generated", {"operation": operation, "status": "sent"})
    message = build_otp_email(to=email, code=code, operation=operation, settings=settings, now=now)
    return PendingCode(row.id, message)


def forget_code(session: Session, *, otp_id: int) -> None:
    """The code never reached anyone: delete it so the user can simply retry."""
    crud.delete_otp(session, otp_id=otp_id)
    session.commit()


def send_code(
    session: Session,
    pending: PendingCode,
    *,
    operation: str,
    mailer: Mailer,
    analytics: Analytics,
) -> CodeRequestOutcome:
    """Blocking: mail ``pending`` (forgetting the code if that fails)."""
    try:
        mailer.send(pending.message)
    except MailError as exc:
        forget_code(session, otp_id=pending.otp_id)
        analytics.capture(
            "otp_email_failed",
            {"operation": operation, "error_type": type(exc.__cause__ or exc).__name__},
        )
        raise MailNotSent(str(exc)) from exc
    analytics.capture("otp_email_sent", {"operation": operation})
    return CodeRequestOutcome("sent", OTP_RESEND_SECONDS)


def request_code(
    session: Session,
    *,
    email: str,
    operation: str,
    force_new: bool,
    ip_hash: str | None,
    settings: BackendSettings,
    mailer: Mailer,
    analytics: Analytics,
    now: datetime,
) -> CodeRequestOutcome:
    """:func:`prepare_code` and :func:`send_code` in one blocking call (scripts, tests)."""
    outcome = prepare_code(
        session,
        email=email,
        operation=operation,
        force_new=force_new,
        ip_hash=ip_hash,
        settings=settings,
        analytics=analytics,
        now=now,
    )
    if isinstance(outcome, CodeRequestOutcome):
        return outcome
    return send_code(session, outcome, operation=operation, mailer=mailer, analytics=analytics)


def verify_code(
    session: Session,
    *,
    email: str,
    code: str,
    operation: str,
    ip_hash: str | None,
    settings: BackendSettings,
    analytics: Analytics,
    now: datetime,
    evaluate: Callable[[bytes, str, str, str], bool] | None = None,
) -> bool:
    """``True`` when ``code`` is a live ``operation`` code of the address; it is then consumed.

    The consumption is left uncommitted so it lands together with whatever the
    caller writes next (a registration, a new token). A wrong guess is committed
    at once: it counts even if the request dies afterwards.
    """
    own = crud.live_otps(
        session, email=email, operation=operation, now=now, ip_hash=ip_hash, own_only=True
    )
    if own:
        candidates = [(own[0], OTP_MAX_ATTEMPTS)]
    else:
        others = crud.live_otps(session, email=email, operation=operation, now=now)
        candidates = [(row, OTP_FOREIGN_ATTEMPTS) for row in others[:OTP_MAX_LIVE_COMPARED]]
    reserved = [
        row
        for row, limit in candidates
        if crud.reserve_otp_attempt(session, otp_id=row.id, now=now, max_attempts=limit)
    ]
    session.commit()  # the attempts (and the caller's rate-limit event) count regardless
    evaluate = evaluate or otp_matches
    ok = False
    if code.isascii() and code.isdigit():
        for row in reserved:
            if evaluate(settings.otp_secret_bytes, email, code, row.code_hash):
                ok = crud.consume_otp(session, otp_id=row.id, now=now)
                break
    if not ok:
        session.rollback()
    analytics.capture("otp_verification_attempted", {"success": ok})
    return ok
