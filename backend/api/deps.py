"""Dependencies shared by the routes, as ``Annotated`` aliases.

Everything a route needs comes through here (settings, a database session, the
mailer, analytics, the clock, the core checker's settings), so tests swap any of
them with ``app.dependency_overrides``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend import crud
from backend.analytics import Analytics
from backend.config import BackendSettings, core_settings_for, get_settings
from backend.email import Mailer
from backend.models import Subscriber
from backend.security import hash_client_address, hash_token
from core.addresses import parse_address
from core.config import Settings as CoreSettings
from core.models import utcnow

SettingsDep = Annotated[BackendSettings, Depends(get_settings)]


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]


def get_analytics(request: Request) -> Analytics:
    analytics: Analytics = request.app.state.analytics
    return analytics


AnalyticsDep = Annotated[Analytics, Depends(get_analytics)]


def get_clock() -> Callable[[], datetime]:
    return utcnow


ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


@lru_cache
def get_core_settings() -> CoreSettings:
    """How ``/api/check`` and the reminders check (see ``core_settings_for``)."""
    return core_settings_for(get_settings())


CoreSettingsDep = Annotated[CoreSettings, Depends(get_core_settings)]


def get_client_ip_hash(request: Request, settings: SettingsDep) -> str | None:
    """A keyed hash of the client address (for per-IP limits; the IP is not kept).

    Behind the one trusted proxy, the client is the *last* ``X-Forwarded-For`` entry:
    the proxy appends the address it saw, while everything before it is whatever the
    client chose to send (taking the first would let anyone pick a fresh "IP" per
    request and walk past every per-IP limit).
    """
    address = request.client.host if request.client else None
    if settings.trust_forwarded_for:
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        last = forwarded.rsplit(",", 1)[-1].strip()
        address = last or address
    if not address:
        return None
    return hash_client_address(settings.otp_secret_bytes, client_bucket(address))


def client_bucket(address: str) -> str:
    """What per-client limits count: an IPv4 address, or an IPv6 /64.

    One IPv6 customer usually gets a /64 (or more) and can use any of its 2**64
    addresses; counting exact addresses would make per-client limits meaningless.
    IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
    """
    parsed = parse_address(address)
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


ClientIpHashDep = Annotated[str | None, Depends(get_client_ip_hash)]

_bearer = HTTPBearer(auto_error=False, description="The management token from register.")


def get_current_subscriber(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Subscriber:
    subscriber = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        subscriber = crud.get_subscriber_by_token(
            session, token_hash=hash_token(credentials.credentials)
        )
    if subscriber is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail={"message": "missing or invalid management token"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return subscriber


CurrentSubscriber = Annotated[Subscriber, Depends(get_current_subscriber)]
