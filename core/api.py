"""A typed client for the Domain Check backend (email reminders), over httpx.

Paths and shapes are the backend's (``backend/api/routes``, ``backend/schemas.py``)::

    POST   /api/otp/generate          request_code()      -> CodeSent
    POST   /api/notifications/register register()        -> Registered
    POST   /api/notifications/token   token_from_code()   -> str (a new token)
    GET    /api/notifications         get_subscription()  -> Subscription
    PUT    /api/notifications         update_subscription() -> Subscription
    DELETE /api/notifications         unsubscribe()       -> str (the backend's message)
    POST   /api/check                 check()             -> CheckReport

Every failure is one of the :class:`~core.errors.BackendError` subclasses below,
raised ``from`` the httpx error or built from the response; ``str(exc)`` is a
sentence for people (the backend's own ``message`` when it sent one)::

    BackendError
     ├── BackendUnreachable    no connection, DNS failure, timeout
     ├── RateLimited           429; ``retry_after_seconds`` from Retry-After
     ├── CodeRejected          403: the code is missing, wrong, used or expired
     ├── InvalidDomains        422 listing each bad entry (``entries``)
     ├── InvalidInput          other 4xx input errors (bad email, body too large, ...)
     ├── NotRegistered         404: no reminders for this address (token_from_code)
     ├── Unauthorized          401: the management token is missing or invalid
     └── ServerError           5xx, or an answer that is not what the API promises

Only idempotent calls (GET, PUT, DELETE) are retried, on connection failures and
5xx, a few times with a short bounded backoff: a retried POST could mail a second
code or spend a code twice.

When analytics is on, requests carry ``X-POSTHOG-DISTINCT-ID`` and
``X-POSTHOG-SESSION-ID`` so the backend's events join the app's (pass
``Analytics.correlation_ids()``, which is ``(None, None)`` while analytics is off).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

import httpx

from core import __version__
from core.buildinfo import baked
from core.errors import BackendError

#: Used when neither an argument, ``DOMAINCHECK_BACKEND_URL`` nor the build names one:
#: the address ``domaincheck-backend serve`` listens on by default.
FALLBACK_BACKEND_URL = "http://127.0.0.1:8000"
BACKEND_URL_ENV = "DOMAINCHECK_BACKEND_URL"
DEFAULT_TIMEOUT_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 5.0
#: ``/api/check`` checks up to 100 domains before answering.
CHECK_TIMEOUT_SECONDS = 120.0
#: Attempts for idempotent calls (the first one included).
MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = (0.25, 1.0)
MAX_RETRY_WAIT_SECONDS = 2.0
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
_TOKEN_PATH = "/api/notifications/token"

Operation = Literal["register", "manage"]


# --------------------------------------------------------------------------- errors


class BackendUnreachable(BackendError):
    """The backend could not be reached (offline, DNS, refused, timed out)."""

    reason: ClassVar[str] = "unreachable"


class RateLimited(BackendError):
    """Too many requests; try again after ``retry_after_seconds`` (``None``: unknown)."""

    reason: ClassVar[str] = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int | None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class CodeRejected(BackendError):
    """The one-time code is missing, wrong, used or expired: request a new one."""

    reason: ClassVar[str] = "code_rejected"


@dataclasses.dataclass(frozen=True, slots=True)
class InvalidEntry:
    """One domain entry the backend refused, with the core parser's reason."""

    text: str
    error: str
    #: 1-based position in the list that was sent (0 if the backend gave none).
    line: int = 0


class InvalidDomains(BackendError):
    """Some entries are not domains the backend can check (``entries`` says which)."""

    reason: ClassVar[str] = "invalid_domains"

    def __init__(self, message: str, entries: Sequence[InvalidEntry]) -> None:
        super().__init__(message)
        self.entries: tuple[InvalidEntry, ...] = tuple(entries)


class InvalidInput(BackendError):
    """The request was refused as invalid (e.g. not an email address)."""

    reason: ClassVar[str] = "invalid_input"


class NotRegistered(BackendError):
    """No reminders are registered for this address."""

    reason: ClassVar[str] = "not_registered"


class Unauthorized(BackendError):
    """The management token is missing or no longer valid (sign in again with a code)."""

    reason: ClassVar[str] = "unauthorized"


class ServerError(BackendError):
    """The backend failed (5xx) or answered something the API does not promise."""

    reason: ClassVar[str] = "server_error"

    def __init__(
        self, message: str, status_code: int | None = None, retry_after_seconds: int | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_seconds = retry_after_seconds


def reason_code(exc: BaseException) -> str:
    """A short, fixed code for an error (``rate_limited``, ...): safe for analytics."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else "other"


# --------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True, slots=True)
class CodeSent:
    """``POST /api/otp/generate``: a code is on its way (or one sent recently still is)."""

    #: ``sent``, or ``already_sent`` when a code went out less than a minute ago.
    status: Literal["sent", "already_sent"]
    expires_in_seconds: int
    #: Seconds before "Send again" may be offered (0: now).
    resend_after_seconds: int


@dataclasses.dataclass(frozen=True, slots=True)
class Registered:
    """``POST /api/notifications/register``: watching ``domains``; keep ``token``."""

    #: Normalised A-labels (``host`` or ``host:port``), as the backend stores them.
    domains: tuple[str, ...]
    #: The management token (store it with :mod:`core.secrets`).
    token: str


@dataclasses.dataclass(frozen=True, slots=True)
class DomainSettings:
    """A domain to watch with its own settings (``register``/``update_subscription``).

    Where a plain string is given instead, the backend keeps whatever settings the
    domain already has; a ``DomainSettings`` sets both (``None`` clears one).
    """

    #: Any form the CLI takes: ``example.com``, ``smtp://mx.example.com``, ``mx:example.com``.
    domain: str
    #: Days before expiry that count as expiring for this domain (``None``: the
    #: subscription's threshold).
    threshold_days: int | None = None
    #: A registration expiry entered by hand, for registries that publish none.
    registration_expires: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "threshold_days": self.threshold_days,
            "registration_expires": (
                None if self.registration_expires is None else self.registration_expires.isoformat()
            ),
        }


DomainEntry = str | DomainSettings


@dataclasses.dataclass(frozen=True, slots=True)
class WatchedDomain:
    domain: str
    display: str
    last_status: str | None
    last_days_left: int | None
    last_checked_at: datetime | None
    #: ``tls`` (bare names, ``host:port``), a URL scheme (``smtp``...) or ``mx``.
    protocol: str = "tls"
    #: The domain's own threshold; ``None``: the subscription's.
    threshold_days: int | None = None
    #: The registration expiry entered by hand, if any.
    registration_expires: date | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    """``GET|PUT /api/notifications``: what the backend watches for this address."""

    #: Masked for display, e.g. ``j***@example.com``.
    email: str
    domains: tuple[str, ...]
    threshold_days: int
    details: tuple[WatchedDomain, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class CheckReport:
    """``POST /api/check``: the ``domaincheck check --format json`` document."""

    checked_at: str
    threshold_days: int
    #: One dict per result, as in the CLI's JSON (``core.report.result_to_dict``).
    results: tuple[Mapping[str, Any], ...]
    input_errors: tuple[InvalidEntry, ...]
    document: Mapping[str, Any]


# --------------------------------------------------------------------------- helpers


def default_backend_url(env: Mapping[str, str] | None = None) -> str:
    """``DOMAINCHECK_BACKEND_URL``, else the build-time URL, else the local default."""
    env = os.environ if env is None else env
    return env.get(BACKEND_URL_ENV, "").strip() or baked("BACKEND_URL") or FALLBACK_BACKEND_URL


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "").strip()
    return int(value) if value.isdigit() else None


def _message(body: object, fallback: str) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return message.strip()
    return fallback


def _entries(items: object) -> list[InvalidEntry]:
    entries: list[InvalidEntry] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        line = item.get("line")
        entries.append(
            InvalidEntry(
                text=str(item.get("text", "")),
                error=str(item.get("error", "invalid")),
                line=line if isinstance(line, int) and not isinstance(line, bool) else 0,
            )
        )
    return entries


def _require(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ServerError(f"the backend's answer has no valid {key!r}")
    return value


def _strings(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = _require(body, key, list)
    if not all(isinstance(v, str) for v in values):
        raise ServerError(f"the backend's answer has no valid {key!r}")
    return tuple(values)


def _datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _entries_json(domains: Iterable[DomainEntry]) -> list[str | dict[str, Any]]:
    return [d if isinstance(d, str) else d.to_json() for d in domains]


def _subscription(body: Mapping[str, Any]) -> Subscription:
    details = []
    for item in _require(body, "details", list):
        if not isinstance(item, Mapping):
            raise ServerError("the backend's answer has no valid 'details'")
        details.append(
            WatchedDomain(
                domain=str(item.get("domain", "")),
                display=str(item.get("display") or item.get("domain", "")),
                last_status=item.get("last_status")
                if isinstance(item.get("last_status"), str)
                else None,
                last_days_left=_optional_int(item.get("last_days_left")),
                last_checked_at=_datetime(item.get("last_checked_at")),
                protocol=str(item.get("protocol") or "tls"),
                threshold_days=_optional_int(item.get("threshold_days")),
                registration_expires=_date(item.get("registration_expires")),
            )
        )
    return Subscription(
        email=_require(body, "email", str),
        domains=_strings(body, "domains"),
        threshold_days=_require(body, "threshold_days", int),
        details=tuple(details),
    )


# --------------------------------------------------------------------------- client


class BackendClient:
    """The backend API, one method per endpoint; thread-safe (use it off the GUI thread).

    ``transport`` replaces the network (``httpx.MockTransport`` in tests), ``sleep``
    the backoff's clock. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        distinct_id: str | None = None,
        session_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = (base_url or default_backend_url()).rstrip("/")
        headers = {"User-Agent": f"DomainCheck/{__version__}", "Accept": "application/json"}
        if distinct_id:
            headers["X-POSTHOG-DISTINCT-ID"] = distinct_id
        if session_id:
            headers["X-POSTHOG-SESSION-ID"] = session_id
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
            headers=headers,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- endpoints

    def request_code(
        self, email: str, operation: Operation = "register", *, force_new: bool = False
    ) -> CodeSent:
        """Mail a one-time code to ``email`` (``manage``: to recover a lost token)."""
        body = self._call(
            "POST",
            "/api/otp/generate",
            json={"email": email, "operation": operation, "force_new": force_new},
        )
        status = _require(body, "status", str)
        if status not in ("sent", "already_sent"):
            raise ServerError(f"unexpected status {status!r} from the backend")
        return CodeSent(
            status=status,
            expires_in_seconds=_require(body, "expires_in", int),
            resend_after_seconds=_require(body, "resend_after", int),
        )

    def register(
        self, email: str, domains: Iterable[DomainEntry], otp: str, threshold_days: int = 30
    ) -> Registered:
        """Prove ``email`` with its code and watch ``domains`` (added to any already watched).

        An entry may be a :class:`DomainSettings` to give the domain its own threshold
        or a registration date typed by hand.
        """
        body = self._call(
            "POST",
            "/api/notifications/register",
            json={
                "email": email,
                "domains": _entries_json(domains),
                "otp": otp.strip(),
                "threshold_days": threshold_days,
            },
        )
        return Registered(domains=_strings(body, "domains"), token=_require(body, "token", str))

    def token_from_code(self, email: str, otp: str) -> str:
        """A new management token for ``email``, proven with a ``manage`` code."""
        body = self._call("POST", _TOKEN_PATH, json={"email": email, "otp": otp.strip()})
        token: str = _require(body, "token", str)
        return token

    def get_subscription(self, token: str) -> Subscription:
        return _subscription(self._call("GET", "/api/notifications", token=token))

    def update_subscription(
        self,
        token: str,
        domains: Iterable[DomainEntry] | None = None,
        threshold_days: int | None = None,
    ) -> Subscription:
        """Replace the watched domains and/or the threshold (``None``: leave as is).

        A plain string keeps the domain's own settings; a :class:`DomainSettings`
        sets them.
        """
        payload: dict[str, Any] = {}
        if domains is not None:
            payload["domains"] = _entries_json(domains)
        if threshold_days is not None:
            payload["threshold_days"] = threshold_days
        return _subscription(self._call("PUT", "/api/notifications", token=token, json=payload))

    def unsubscribe(self, token: str) -> str:
        """Delete the subscriber and all its data; returns the backend's confirmation."""
        body = self._call("DELETE", "/api/notifications", token=token)
        return _message(body, "unsubscribed")

    def check(self, domains: Iterable[str], threshold_days: int = 30) -> CheckReport:
        """Check up to 100 domains on the backend (the CLI's JSON document)."""
        body = self._call(
            "POST",
            "/api/check",
            json={"domains": list(domains), "threshold_days": threshold_days},
            timeout=CHECK_TIMEOUT_SECONDS,
        )
        results = _require(body, "results", list)
        return CheckReport(
            checked_at=_require(body, "checked_at", str),
            threshold_days=_require(body, "threshold_days", int),
            results=tuple(r for r in results if isinstance(r, Mapping)),
            input_errors=tuple(_entries(body.get("input_errors"))),
            document=body,
        )

    # ----------------------------------------------------------------- transport

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        attempts = MAX_ATTEMPTS if method in _IDEMPOTENT else 1
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._client.request(method, path, json=json, headers=headers, **extra)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise BackendUnreachable(
                        f"cannot reach the Domain Check service at {self.base_url}; "
                        "check your internet connection and try again"
                    ) from exc
                self._backoff(attempt, None)
                continue
            except httpx.TimeoutException as exc:
                raise BackendUnreachable(
                    "the Domain Check service did not answer in time; try again later"
                ) from exc
            except httpx.HTTPError as exc:
                raise BackendUnreachable(
                    f"the connection to the Domain Check service failed ({type(exc).__name__})"
                ) from exc
            if response.status_code in _RETRY_STATUSES and not last:
                self._backoff(attempt, _retry_after(response))
                continue
            return self._result(response, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: int | None) -> None:
        delay = RETRY_BACKOFF_SECONDS[min(attempt, len(RETRY_BACKOFF_SECONDS) - 1)]
        if retry_after is not None:
            delay = max(delay, retry_after)
        self._sleep(min(delay, MAX_RETRY_WAIT_SECONDS))

    def _result(self, response: httpx.Response, path: str) -> dict[str, Any]:
        """The JSON body of a 2xx answer, or the mapped error."""
        try:
            body: object = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(body, dict):
                raise ServerError("the Domain Check service sent an answer that is not JSON")
            return body
        if status == 429:
            retry = _retry_after(response)
            fallback = "too many requests" + (f"; try again in {retry} seconds" if retry else "")
            raise RateLimited(_message(body, fallback), retry)
        if status == 401:
            raise Unauthorized(_message(body, "the management token is missing or invalid"))
        if status == 403:
            raise CodeRejected(_message(body, "the code is wrong, used or expired"))
        if status == 404 and path == _TOKEN_PATH:
            raise NotRegistered(_message(body, "no reminders are registered for this address"))
        if status in (404, 405):  # not our API at that address
            raise ServerError(
                f"{self.base_url} does not look like a Domain Check service (HTTP {status})",
                status_code=status,
            )
        if status == 422 and isinstance(body, Mapping) and "errors" in body:
            entries = _entries(body.get("errors"))
            if entries:
                raise InvalidDomains(_message(body, "some entries are not domains"), entries)
        if 400 <= status < 500:
            raise InvalidInput(_message(body, f"the request was refused (HTTP {status})"))
        raise ServerError(
            _message(body, f"the Domain Check service failed (HTTP {status}); try again later"),
            status_code=status,
            retry_after_seconds=_retry_after(response),
        )
