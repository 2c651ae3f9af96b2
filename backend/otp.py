"""The one-time-code flow: issuing codes (with the abuse limits) and checking them.

Limits, all enforced in the database so they hold across workers and replicas:
one new code per address per minute (``already_sent``), five per address per
hour (429), a configurable number per client address per hour (429), and five
evaluated attempts per code however many requests race (one conditional UPDATE
reserves each attempt before the code is compared).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    """Issue and mail a code unless one was sent moments ago (same answer for any address)."""
    lock_address(session, email)
    since = now - HOUR
    if ip_hash is not None and (
        crud.count_otps_from(session, ip_hash=ip_hash, since=since)
        >= settings.rate_limit_ip_otp_per_hour
    ):
        oldest = crud.oldest_otp_from(session, ip_hash=ip_hash, since=since) or now
        session.rollback()
        raise RateLimited(_seconds_until(oldest + HOUR, now))
    latest = crud.latest_otp(session, email=email)
    if latest is not None:
        resend_at = latest.created_at + timedelta(seconds=OTP_RESEND_SECONDS)
        # A code out of tries is dead: "already sent" would leave the user stuck
        # with it until it expires.
        live = (
            latest.used_at is None
            and latest.expires_at > now
            and latest.attempts < OTP_MAX_ATTEMPTS
        )
        if now < resend_at or (live and not force_new):
            session.rollback()
            analytics.capture("otp_generated", {"operation": operation, "status": "already_sent"})
            return CodeRequestOutcome("already_sent", _seconds_until(resend_at, now))
    if crud.count_otps(session, email=email, since=since) >= OTP_MAX_PER_HOUR:
        oldest = crud.oldest_otp_since(session, email=email, since=since) or now
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
    try:
        mailer.send(message)
    except MailError as exc:
        # The code never reached anyone: forget it so the user can simply retry.
        crud.delete_otp(session, otp_id=row.id)
        session.commit()
        analytics.capture(
            "otp_email_failed",
            {"operation": operation, "error_type": type(exc.__cause__ or exc).__name__},
        )
        raise MailNotSent(str(exc)) from exc
    analytics.capture("otp_email_sent", {"operation": operation})
    return CodeRequestOutcome("sent", OTP_RESEND_SECONDS)


def verify_code(
    session: Session,
    *,
    email: str,
    code: str,
    settings: BackendSettings,
    analytics: Analytics,
    now: datetime,
    evaluate: Callable[[bytes, str, str, str], bool] | None = None,
) -> bool:
    """``True`` when ``code`` is the address's live code; it is then consumed.

    The consumption is left uncommitted so it lands together with whatever the
    caller writes next (a registration, a new token). A wrong guess is committed
    at once: it counts even if the request dies afterwards.
    """
    live = crud.live_otp(session, email=email, now=now)
    if live is None:
        session.commit()  # keep the rate-limit event
        analytics.capture("otp_verification_attempted", {"success": False})
        return False
    reserved = crud.reserve_otp_attempt(
        session, otp_id=live.id, now=now, max_attempts=OTP_MAX_ATTEMPTS
    )
    session.commit()
    evaluate = evaluate or otp_matches
    ok = (
        reserved
        and code.isascii()
        and code.isdigit()
        and evaluate(settings.otp_secret_bytes, email, code, live.code_hash)
        and crud.consume_otp(session, otp_id=live.id, now=now)
    )
    if not ok:
        session.rollback()
    analytics.capture("otp_verification_attempted", {"success": ok})
    return ok
