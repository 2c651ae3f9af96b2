"""``POST /api/otp/generate``: mail a one-time code (same answer for any address).

The route is ``async``: the database work runs on the shared thread pool, but the
email goes out on the mail limiter's own threads (:mod:`backend.limits`), so a
slow relay never occupies the threads health checks and other routes need.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

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
from backend.limits import Limits
from backend.schemas import OtpGenerate, OtpGeneratePublic

router = APIRouter(prefix="/api/otp", tags=["otp"])


@router.post(
    "/generate",
    response_model=OtpGeneratePublic,
    responses=ERROR_RESPONSES,
)
async def generate_code(
    request: Request,
    body: OtpGenerate,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    analytics: AnalyticsDep,
    clock: ClockDep,
    ip_hash: ClientIpHashDep,
) -> OtpGeneratePublic:
    """Mail a 6-digit code valid for 10 minutes, at most one a minute per address and client."""
    limits: Limits = request.app.state.limits
    try:
        prepared = await run_in_threadpool(
            lambda: otp.prepare_code(
                session,
                email=body.email,
                operation=body.operation,
                force_new=body.force_new,
                ip_hash=ip_hash,
                settings=settings,
                analytics=analytics,
                now=clock(),
            )
        )
        if isinstance(prepared, otp.PendingCode):
            session.close()  # hold no connection while the relay takes its time
            outcome = await anyio.to_thread.run_sync(
                lambda: otp.send_code(
                    session,
                    prepared,
                    operation=body.operation,
                    mailer=mailer,
                    analytics=analytics,
                ),
                limiter=limits.mail,
            )
        else:
            outcome = prepared
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
