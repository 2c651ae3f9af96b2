"""``POST /api/check``: check up to 100 domains now, answered as the CLI's JSON.

At most ``MAX_CONCURRENT_CHECKS`` requests check at once in this process; one
more is answered 503 with ``Retry-After`` at once instead of queueing, so the
sockets and memory checks hold stay bounded whatever the load.

``mx:example.com`` entries are looked up first, as in the CLI: one result per MX
host, and what has no usable MX becomes an input error. The MX hosts count towards
the 100.

Registration lookups follow the reminders' rules (:mod:`backend.checking`): RDAP at
most ``RDAP_PER_SERVER_LIMIT`` at a time per server, WHOIS one query at a time per
server with a pace, shared with every other request, replica and worker. WHOIS
lookups of one request end by a deadline (:data:`CHECK_WHOIS_DEADLINE_SECONDS`,
or two ``--timeout``s if longer): a name whose WHOIS server is still busy then gets
a "timed out" registration error instead of the request waiting minutes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from backend import otp
from backend.api.deps import ClientIpHashDep, ClockDep, CoreSettingsDep, SessionDep, SettingsDep
from backend.api.errors import ERROR_RESPONSES, rate_limited
from backend.checking import rdap_client, whois_client
from backend.config import MAX_CHECK_DOMAINS, BackendSettings
from backend.limits import Busy, Limits
from backend.schemas import CheckRequest
from backend.targets import parse_domains
from core.checker import check_all
from core.config import Settings as CoreSettings
from core.dns import DnsResolver
from core.models import CheckResult, Target
from core.mx import expand, has_mx
from core.report import report_document

router = APIRouter(prefix="/api", tags=["check"])

#: One check takes seconds (its timeout bounds it); a retry then usually fits.
CHECKS_BUSY_RETRY_AFTER_SECONDS = 10
#: WHOIS servers are asked one query at a time with a pace (seconds apart), so 100
#: names under one WHOIS-only TLD would take minutes: the lookups of one request
#: share this deadline (or two ``--timeout``s if longer); later ones answer "timed out".
CHECK_WHOIS_DEADLINE_SECONDS = 20.0


def _count_request(session: Session, *, ip_hash: str | None, limit: int, now: datetime) -> None:
    """Blocking: count this request against the client's hourly limit, then let the
    connection go (no connection or SQLite lock is held while checking)."""
    try:
        otp.enforce_ip_limit(session, purpose="check", ip_hash=ip_hash, limit=limit, now=now)
        session.commit()
    finally:
        session.close()


@router.post("/check", responses=ERROR_RESPONSES)
async def check_domains(
    request: Request,
    body: CheckRequest,
    session: SessionDep,
    settings: SettingsDep,
    core_settings: CoreSettingsDep,
    clock: ClockDep,
    ip_hash: ClientIpHashDep,
) -> dict[str, Any]:
    """The ``domaincheck check --format json`` document for ``domains``.

    Registration data comes from RDAP, and from WHOIS where a TLD has no RDAP.
    WHOIS servers are asked one query at a time, seconds apart, by every request
    together, so the WHOIS lookups of one request have a deadline (20 seconds, or
    twice the check timeout if longer): names still waiting for their WHOIS server
    then get a registration error "the WHOIS lookup did not finish in the time this
    check allows" (``error_kind`` ``timeout``). Check them again later, or fewer at once.
    """
    now = clock()
    try:
        # Blocking database work runs in a thread: a slow or locked database must not
        # freeze the event loop (and with it /healthz and every other request).
        await run_in_threadpool(
            _count_request,
            session,
            ip_hash=ip_hash,
            limit=settings.rate_limit_ip_check_per_hour,
            now=now,
        )
    except otp.RateLimited as exc:
        raise rate_limited(exc.retry_after_seconds) from None
    parsed = parse_domains(body.domains, allow_private=settings.allow_private_targets)
    if not parsed.targets and not parsed.errors:
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"message": "no domains given"},
        )
    check_settings = dataclasses.replace(core_settings, threshold_days=body.threshold_days)
    if has_mx(parsed):
        parsed = await expand(parsed, DnsResolver.from_settings(check_settings))
        if len(parsed.targets) > MAX_CHECK_DOMAINS:
            raise HTTPException(
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail={
                    "message": f"with their mail servers these are {len(parsed.targets)}"
                    f" targets; at most {MAX_CHECK_DOMAINS} are checked at once"
                },
            )
    limits: Limits = request.app.state.limits
    try:
        with limits.checks.take():
            results = await _check(request, parsed.targets, check_settings, settings)
    except Busy:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={"message": "too many checks are running; try again in a few seconds"},
            headers={"Retry-After": str(CHECKS_BUSY_RETRY_AFTER_SECONDS)},
        ) from None
    return report_document(results, parsed.errors, body.threshold_days, now)


async def _check(
    request: Request,
    targets: Sequence[Target],
    check_settings: CoreSettings,
    settings: BackendSettings,
) -> list[CheckResult]:
    """The results in input order, through the pipeline the reminders use
    (:mod:`backend.checking`): the same RDAP limit, the same WHOIS etiquette (shared
    with the other replicas and the workers on PostgreSQL), and a deadline for the
    WHOIS lookups so that a request never holds its check slot for minutes."""
    if not targets:
        return []
    state = request.app.state
    rdap = rdap_client(
        check_settings,
        per_server_limit=settings.rdap_per_server_limit,
        server_gate=getattr(state, "rdap_gate", None),
    )
    whois = (
        whois_client(
            check_settings,
            server_gate=getattr(state, "whois_gate", None),
            deadline_seconds=whois_deadline_seconds(check_settings),
        )
        if rdap is not None
        else None
    )
    try:
        return await check_all(targets, check_settings, rdap=rdap, whois=whois)
    finally:
        if rdap is not None:
            await rdap.aclose()
        if whois is not None:
            await whois.aclose()


def whois_deadline_seconds(settings: CoreSettings) -> float:
    """How long all WHOIS lookups of one request may take together: two lookups'
    timeouts, and never less than :data:`CHECK_WHOIS_DEADLINE_SECONDS`."""
    return max(CHECK_WHOIS_DEADLINE_SECONDS, 2 * settings.timeout_seconds)
