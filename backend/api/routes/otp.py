"""``POST /api/otp/generate``: mail a one-time code (same answer for any address)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from backend import otp
from backend.api.deps import (
    AnalyticsDep,
    ClientIpHashDep,
    ClockDep,
    MailerDep,
    SessionDep,
    SettingsDep,
)
from backend.api.errors import ERROR_RESPONSES, rate_limited
from backend.config import OTP_TTL_SECONDS
from backend.schemas import OtpGenerate, OtpGeneratePublic

router = APIRouter(prefix="/api/otp", tags=["otp"])


@router.post(
    "/generate",
    response_model=OtpGeneratePublic,
    responses=ERROR_RESPONSES,
)
def generate_code(
    body: OtpGenerate,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    analytics: AnalyticsDep,
    clock: ClockDep,
    ip_hash: ClientIpHashDep,
) -> OtpGeneratePublic:
    """Mail a 6-digit code valid for 10 minutes, at most one a minute per address."""
    try:
        outcome = otp.request_code(
            session,
            email=body.email,
            operation=body.operation,
            force_new=body.force_new,
            ip_hash=ip_hash,
            settings=settings,
            mailer=mailer,
            analytics=analytics,
            now=clock(),
        )
    except otp.RateLimited as exc:
        raise rate_limited(exc.retry_after_seconds) from None
    except otp.MailNotSent:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={"message": "the code could not be emailed right now; try again in a minute"},
            headers={"Retry-After": "60"},
        ) from None
    return OtpGeneratePublic(
        status="sent" if outcome.status == "sent" else "already_sent",
        expires_in=OTP_TTL_SECONDS,
        resend_after=outcome.resend_after_seconds,
    )
