"""Subscriptions: register with a code, then read/replace/delete with the token.

``register`` takes a ``register`` code, ``token`` a ``manage`` code (codes are
bound to their purpose), and each hands out the subscriber's one management
token: issuing a new one revokes the older ones. The global caps
``MAX_SUBSCRIBERS`` and ``MAX_WATCHED_NAMES`` answer 503 when reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status

from backend import crud, otp
from backend.analytics import Analytics
from backend.api.deps import (
    AnalyticsDep,
    ClientIpHashDep,
    ClockDep,
    CurrentSubscriber,
    SessionDep,
    SettingsDep,
)
from backend.api.errors import ERROR_RESPONSES, rate_limited
from backend.config import MAX_DOMAINS, BackendSettings
from backend.models import Subscriber
from backend.schemas import (
    DomainOptions,
    DomainStatePublic,
    RegisterPublic,
    RegisterRequest,
    StatusPublic,
    SubscriptionPublic,
    SubscriptionUpdate,
    TokenPublic,
    TokenRequest,
    mask_email,
)
from backend.security import generate_token, hash_token
from backend.targets import Watched, parse_watch_entries, subscription_target, target_label
from core.report import input_error_to_dict

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

#: Global caps (``MAX_SUBSCRIBERS``, ``MAX_WATCHED_NAMES``) lift only when an
#: operator raises them or people leave: retrying soon is pointless.
CAPACITY_RETRY_AFTER_SECONDS = 3_600

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"description": "Missing or invalid management token"},
}
_OTP_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {"description": "Missing, wrong, used or expired code (require_otp: true)"},
}


def _valid_targets(
    entries: Sequence[str | DomainOptions],
    settings: BackendSettings,
    analytics: Analytics | None = None,
) -> list[Watched]:
    watched, errors = parse_watch_entries(entries, allow_private=settings.allow_private_targets)
    if errors:
        if analytics is not None:
            analytics.capture(
                "domain_registration_error",
                {"error_type": "invalid_domains", "domain_count": len(entries)},
            )
        count = len(errors)
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "message": f"{count} {'entry is' if count == 1 else 'entries are'} "
                "not a domain we can check",
                "errors": [input_error_to_dict(error) for error in errors],
            },
        )
    return watched


def _service_full(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        detail={"message": f"{message}; the service is at its configured capacity"},
        headers={"Retry-After": str(CAPACITY_RETRY_AFTER_SECONDS)},
    )


def _enforce_watched_cap(session: SessionDep, settings: BackendSettings) -> None:
    """``MAX_WATCHED_NAMES`` over all subscribers (checked after the change, rolled back)."""
    if crud.count_all_subscriptions(session) > settings.max_watched_names:
        session.rollback()
        raise _service_full("no more domains can be watched right now")


def _otp_refused(analytics: Analytics, domain_count: int | None = None) -> HTTPException:
    if domain_count is not None:
        analytics.capture(
            "domain_registration_error", {"error_type": "otp", "domain_count": domain_count}
        )
    return HTTPException(
        status_code=status.HTTP_403_FORBIDDEN,
        detail={
            "message": "the code is wrong, used or expired; request a new one",
            "require_otp": True,
        },
    )


def _check_code(
    *,
    session: SessionDep,
    settings: BackendSettings,
    analytics: Analytics,
    email: str,
    code: str,
    operation: str,
    ip_hash: str | None,
    now: datetime,
) -> bool:
    try:
        otp.enforce_ip_limit(
            session,
            purpose="verify",
            ip_hash=ip_hash,
            limit=settings.rate_limit_ip_verify_per_hour,
            now=now,
        )
    except otp.RateLimited as exc:
        raise rate_limited(exc.retry_after_seconds) from None
    return otp.verify_code(
        session,
        email=email,
        code=code.strip(),
        operation=operation,
        ip_hash=ip_hash,
        settings=settings,
        analytics=analytics,
        now=now,
    )


@router.post("/register", response_model=RegisterPublic, responses=_OTP_RESPONSES)
def register(
    body: RegisterRequest,
    session: SessionDep,
    settings: SettingsDep,
    analytics: AnalyticsDep,
    clock: ClockDep,
    ip_hash: ClientIpHashDep,
) -> RegisterPublic:
    """Prove the address with its code and watch ``domains`` (added to any already watched)."""
    targets = _valid_targets(body.domains, settings, analytics)
    if not targets:
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"message": "no domains given", "errors": []},
        )
    now = clock()
    if not _check_code(
        session=session,
        settings=settings,
        analytics=analytics,
        email=body.email,
        code=body.otp,
        operation="register",
        ip_hash=ip_hash,
        now=now,
    ):
        raise _otp_refused(analytics, len(targets))
    if (
        crud.get_subscriber_by_email(session, email=body.email) is None
        and crud.count_subscribers(session) >= settings.max_subscribers
    ):
        session.rollback()  # the code stays unspent
        raise _service_full("no more addresses can sign up right now")
    subscriber = crud.upsert_subscriber(
        session, email=body.email, threshold_days=body.threshold_days, now=now
    )
    crud.add_subscriptions(session, subscriber=subscriber, watched=targets, now=now)
    _enforce_watched_cap(session, settings)
    watched = crud.count_subscriptions(session, subscriber=subscriber)
    if watched > MAX_DOMAINS:
        # Each request is capped, but registering again adds to the list: cap the sum
        # too. Rolling back also leaves the code unspent, so a smaller retry works.
        session.rollback()
        analytics.capture(
            "domain_registration_error",
            {"error_type": "too_many_domains", "domain_count": len(targets)},
        )
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "message": f"an address can watch at most {MAX_DOMAINS} domains "
                f"({watched} with these); remove some first",
                "errors": [],
            },
        )
    token = generate_token()
    crud.replace_tokens(session, subscriber=subscriber, token_hash=hash_token(token), now=now)
    session.commit()
    analytics.capture("domain_registration_completed", {"domain_count": len(targets)})
    return RegisterPublic(domains=[target_label(w.target) for w in targets], token=token)


@router.post("/token", response_model=TokenPublic, responses=_OTP_RESPONSES)
def new_token(
    body: TokenRequest,
    session: SessionDep,
    settings: SettingsDep,
    analytics: AnalyticsDep,
    clock: ClockDep,
    ip_hash: ClientIpHashDep,
) -> TokenPublic:
    """A new management token for an address proven with a ``manage`` code."""
    now = clock()
    if not _check_code(
        session=session,
        settings=settings,
        analytics=analytics,
        email=body.email,
        code=body.otp,
        operation="manage",
        ip_hash=ip_hash,
        now=now,
    ):
        raise _otp_refused(analytics)
    subscriber = crud.get_subscriber_by_email(session, email=body.email)
    if subscriber is None:
        session.commit()  # the code is spent either way
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail={"message": "no reminders are registered for this address"},
        )
    token = generate_token()
    crud.replace_tokens(session, subscriber=subscriber, token_hash=hash_token(token), now=now)
    session.commit()
    return TokenPublic(token=token)


def _public(subscriber: Subscriber) -> SubscriptionPublic:
    details = [
        DomainStatePublic(
            domain=target_label(
                subscription_target(
                    protocol=s.protocol, host=s.host, port=s.port, display=s.display
                )
            ),
            display=s.display,
            protocol=s.protocol,
            threshold_days=s.threshold_days,
            registration_expires=(
                None if s.registration_expires is None else s.registration_expires.date()
            ),
            last_status=s.last_status,
            last_days_left=s.last_days_left,
            last_checked_at=s.last_checked_at,
        )
        for s in subscriber.subscriptions
    ]
    return SubscriptionPublic(
        email=mask_email(subscriber.email),
        domains=[d.domain for d in details],
        threshold_days=subscriber.threshold_days,
        details=details,
    )


@router.get("", response_model=SubscriptionPublic, responses=_AUTH_RESPONSES)
def read_subscription(subscriber: CurrentSubscriber) -> SubscriptionPublic:
    return _public(subscriber)


@router.put("", response_model=SubscriptionPublic, responses=_AUTH_RESPONSES)
def update_subscription(
    body: SubscriptionUpdate,
    subscriber: CurrentSubscriber,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> SubscriptionPublic:
    """Replace the watched domains and/or the threshold (reminder state is kept).

    An entry of ``domains`` may be a string or an object with the domain's own
    ``threshold_days`` and ``registration_expires``; a string keeps what the domain
    had.
    """
    now = clock()
    if body.domains is not None:
        targets = _valid_targets(body.domains, settings)
        crud.replace_subscriptions(session, subscriber=subscriber, watched=targets, now=now)
        _enforce_watched_cap(session, settings)
    if body.threshold_days is not None:
        subscriber.threshold_days = body.threshold_days
    subscriber.updated_at = now
    session.commit()
    session.refresh(subscriber)
    return _public(subscriber)


@router.delete("", response_model=StatusPublic, responses=_AUTH_RESPONSES)
def delete_subscription(subscriber: CurrentSubscriber, session: SessionDep) -> StatusPublic:
    """Unsubscribe: forget the address, its domains and tokens."""
    crud.delete_subscriber(session, subscriber=subscriber)
    session.commit()
    return StatusPublic(message="unsubscribed; your data has been deleted")
