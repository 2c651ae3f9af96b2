"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.exc import SQLAlchemyError

from backend.db import ping
from backend.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
def healthz() -> HealthPublic:
    """The process is up."""
    return HealthPublic()


@router.get("/readyz", response_model=HealthPublic, responses={503: {"description": "Not ready"}})
def readyz(request: Request) -> HealthPublic:
    """The database answers."""
    try:
        ping(request.app.state.engine)
    except SQLAlchemyError:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={"message": "database unreachable"},
        ) from None
    return HealthPublic()
