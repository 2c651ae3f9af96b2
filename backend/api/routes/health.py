"""Liveness and readiness probes.

Both are ``async`` and never use the shared thread pool: ``/healthz`` touches
nothing, ``/readyz`` pings the database on its own small limiter (see
:mod:`backend.limits`), so neither waits behind mail or checks. ``/readyz`` is
also red while the in-process reminder timer is failing or has stopped: a
service whose reminders silently stopped is not ready.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.exc import SQLAlchemyError

from backend.db import ping
from backend.scheduler import SchedulerHealth
from backend.schemas import HealthPublic

router = APIRouter(tags=["health"])

#: What a load balancer waits before trying a replica whose probe failed.
READY_RETRY_AFTER_SECONDS = 5


@router.get("/healthz", response_model=HealthPublic)
async def healthz() -> HealthPublic:
    """The process is up."""
    return HealthPublic()


def _not_ready(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        detail={"message": message},
        headers={"Retry-After": str(READY_RETRY_AFTER_SECONDS)},
    )


@router.get("/readyz", response_model=HealthPublic, responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> HealthPublic:
    """The database answers and the reminder timer (if this process runs one) works."""
    try:
        await anyio.to_thread.run_sync(
            ping, request.app.state.engine, limiter=request.app.state.limits.health
        )
    except SQLAlchemyError:
        raise _not_ready("database unreachable") from None
    health: SchedulerHealth | None = request.app.state.scheduler_health
    if health is not None and not health.healthy:
        what = "has stopped" if health.stopped else f"is failing ({health.failures} in a row)"
        raise _not_ready(f"the reminder scheduler {what}: {health.last_error}")
    return HealthPublic()
