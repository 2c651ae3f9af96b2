"""``POST /api/check``: check up to 100 domains now, answered as the CLI's JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException, status

from backend import otp
from backend.api.deps import ClientIpHashDep, ClockDep, CoreSettingsDep, SessionDep, SettingsDep
from backend.api.errors import ERROR_RESPONSES, rate_limited
from backend.schemas import CheckRequest
from backend.targets import parse_domains
from core.checker import check_all
from core.report import report_document

router = APIRouter(prefix="/api", tags=["check"])


@router.post("/check", responses=ERROR_RESPONSES)
async def check_domains(
    body: CheckRequest,
    session: SessionDep,
    settings: SettingsDep,
    core_settings: CoreSettingsDep,
    clock: ClockDep,
    ip_hash: ClientIpHashDep,
) -> dict[str, Any]:
    """The ``domaincheck check --format json`` document for ``domains``."""
    now = clock()
    try:
        otp.enforce_ip_limit(
            session,
            purpose="check",
            ip_hash=ip_hash,
            limit=settings.rate_limit_ip_check_per_hour,
            now=now,
        )
    except otp.RateLimited as exc:
        raise rate_limited(exc.retry_after_seconds) from None
    session.commit()
    session.close()  # do not hold a connection (or SQLite's lock) while checking
    parsed = parse_domains(body.domains, allow_private=settings.allow_private_targets)
    if not parsed.targets and not parsed.errors:
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"message": "no domains given"},
        )
    check_settings = dataclasses.replace(core_settings, threshold_days=body.threshold_days)
    results = await check_all(parsed.targets, check_settings) if parsed.targets else []
    return report_document(results, parsed.errors, body.threshold_days, now)
