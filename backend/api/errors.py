"""How errors look on the wire: ``{"status": "error", "message": ..., ...}``.

Routes raise ``HTTPException`` with a dict ``detail`` (``message`` plus extra keys
such as ``require_otp``); the handlers here flatten it into the body, and turn
FastAPI's request-validation errors into the same shape (422) with the details.
A database that is down or unreachable is a 503 with ``Retry-After`` (clients and
load balancers retry), never a plain-text 500; anything else unexpected is a JSON
500 whose traceback goes to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.schemas import ErrorPublic

log = logging.getLogger(__name__)

#: What clients are told to wait while the database is unreachable.
DATABASE_RETRY_AFTER_SECONDS = 30

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorPublic, "description": "Invalid input"},
    429: {"model": ErrorPublic, "description": "Too many requests (see Retry-After)"},
}


def rate_limited(retry_after_seconds: int) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail={"message": f"too many requests; try again in {retry_after_seconds} seconds"},
        headers={"Retry-After": str(retry_after_seconds)},
    )


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "message": message, **extra}


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
    body = error_body(**detail)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": error.get("loc", ()),
            "msg": str(error.get("msg", "invalid")).removeprefix("Value error, "),
            "type": error.get("type", "value_error"),
        }
        for error in exc.errors()
    ]
    message = "; ".join(_describe(error) for error in errors[:5]) or "invalid request"
    body = error_body(message, detail=jsonable_encoder(errors))
    return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def database_unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the database being down or unreachable (not a bug in a query)?"""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        log.warning("database unavailable: %s", type(getattr(exc, "orig", exc)).__name__)
        return JSONResponse(
            error_body("the service is temporarily unavailable; try again shortly"),
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    return await _internal_error(request, exc)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: logged with its traceback, answered without it."""
    log.error("unhandled error in %s %s", request.method, request.scope.get("route"), exc_info=exc)
    return JSONResponse(
        error_body("internal error"), status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _internal_error)
