"""When a domain's registration expires, and who the registrar is, from RDAP.

One lookup goes through these steps:

1. The host becomes its registrable domain via the Public Suffix List
   (``www.example.co.uk`` → ``example.co.uk``; :mod:`core.psl`).
2. Answers already known are reused: first from memory, then from the disk cache
   (one JSON file per domain under ``cache_dir()/rdap/``, kept for
   :data:`CACHE_TTL_SECONDS`). Lookups of the same domain that are already running
   share one request, so 500 subdomains of one domain cost one query.
3. The IANA bootstrap file (RFC 9224) maps the domain's TLD to the registry's RDAP
   base URL. Without an explicit bootstrap we use a copy in the cache folder that is
   refreshed from :data:`BOOTSTRAP_URL` at most once per day, or the copy shipped in
   ``resources/``. A failed refresh never fails a check.
4. ``GET {base}domain/{name}``, at most ``per_server_limit`` at a time per registry,
   honouring ``429 Retry-After`` a bounded number of times. Redirects are followed
   (at most :data:`MAX_REDIRECTS`); with ``public_addresses_only`` every connection,
   the first and each redirect's, must reach a public address
   (:mod:`core.public_http` checks the address actually connected to).

:meth:`RdapClient.lookup` never raises for network or registry trouble. It returns a
:class:`~core.models.Registration` whose ``error`` says what went wrong, and whose
``unknown`` is set when the registry simply has no data. Internally httpx errors are
mapped once into :class:`~core.errors.RdapError` subclasses (:func:`_map_httpx_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from core import paths
from core.cache_files import cache_path, write_cache_file
from core.config import Settings
from core.dns import settings_resolver
from core.errors import (
    ErrorKind,
    RdapError,
    RdapRateLimited,
    RdapServerError,
    RegistrationUnknown,
    network_cause,
)
from core.models import Registration, Target, utcnow
from core.psl import is_public_suffix, registrable_domain
from core.public_http import Resolver, origin_of, transport_for
from core.registration_json import registration_from_json, registration_to_json
from core.shared_lookups import SharedLookups
from core.whois_parse import EPP_STATUSES

__all__ = [
    "BOOTSTRAP_URL",
    "CACHE_TTL_SECONDS",
    "Bootstrap",
    "RdapClient",
    "registrable_domain",
]

_log = logging.getLogger(__name__)

#: Where IANA publishes the current DNS bootstrap file.
BOOTSTRAP_URL = "https://data.iana.org/rdap/dns.json"
#: Name of the shipped copy (``resources/``) and of the refreshed copy (cache folder).
BOOTSTRAP_FILE_NAME = "iana-rdap-dns.json"
#: Records when the cached bootstrap copy was last refreshed (or tried to be).
BOOTSTRAP_STAMP_FILE_NAME = "iana-rdap-dns.refresh.json"
#: Try to refresh the cached bootstrap copy at most this often, success or not.
BOOTSTRAP_MAX_AGE_SECONDS = 86_400
#: How long an RDAP answer (found or "unknown") is reused, on disk and in memory.
CACHE_TTL_SECONDS = 86_400
#: How long a failed lookup is reused within one client, so that the subdomains of a
#: failing registry do not each hammer it again.
ERROR_MEMO_SECONDS = 60
#: Retries after ``429 Too Many Requests``.
MAX_RETRIES = 3
#: A registry that asks us to wait longer than this (per retry) is given up on.
MAX_RETRY_WAIT_SECONDS = 30.0
#: Wait used when a 429 carries no usable ``Retry-After``.
DEFAULT_RETRY_WAIT_SECONDS = 1.0
#: Longest wait named in a "rate-limited" message: a registry's ``Retry-After`` of
#: 400 digits is infinity as a float, which ``math.ceil`` cannot take.
LONGEST_WAIT_SHOWN_SECONDS = 365 * 86_400
#: Budget for all attempts and waits of one lookup, once it has a server slot.
LOOKUP_DEADLINE_SECONDS = 60.0
MAX_REDIRECTS = 5
#: Real RDAP answers are a few kB; the bootstrap file about 100 kB.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
RDAP_MEDIA_TYPE = "application/rdap+json"
USER_AGENT = "domaincheck (RDAP expiry monitor)"
#: Bumped when the layout of the disk cache entries changes.
CACHE_FORMAT_VERSION = 1

_CACHE_SUBDIR = "rdap"


# --------------------------------------------------------------------------- bootstrap


@dataclasses.dataclass(frozen=True, slots=True)
class Bootstrap:
    """A parsed IANA RDAP bootstrap file (RFC 9224)."""

    #: Lower-case domain suffix (``"com"``, ``"co.uk"``) → base URLs, https first.
    services: Mapping[str, tuple[str, ...]]
    #: The file's ``publication`` time, used to pick the newer of two copies.
    publication: datetime | None = None

    @classmethod
    def parse(cls, data: bytes) -> Bootstrap:
        """Parse the JSON of a bootstrap file; ``ValueError`` when it is not one."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(document, dict) or not isinstance(document.get("services"), list):
            raise ValueError('no "services" list')
        services: dict[str, tuple[str, ...]] = {}
        for entry in document["services"]:
            if not (isinstance(entry, list) and len(entry) >= 2):
                continue
            suffixes, urls = entry[0], entry[1]
            if not (isinstance(suffixes, list) and isinstance(urls, list)):
                continue
            usable = [
                url
                for url in urls
                if isinstance(url, str) and urlsplit(url).scheme.lower() in ("http", "https")
            ]
            # Prefer https when a registry lists several; otherwise keep IANA's order.
            usable.sort(key=lambda url: urlsplit(url).scheme.lower() != "https")
            if not usable:
                continue
            for suffix in suffixes:
                if isinstance(suffix, str) and suffix.strip("."):
                    services.setdefault(suffix.strip(".").lower(), tuple(usable))
        if not services:
            raise ValueError("no usable services")
        publication = document.get("publication")
        return cls(
            services=services,
            publication=_parse_rdap_datetime(publication) if isinstance(publication, str) else None,
        )

    def base_urls(self, domain: str) -> tuple[str, ...]:
        """Base URLs for ``domain``: the longest matching suffix wins (RFC 9224 §4)."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            urls = self.services.get(".".join(labels[start:]))
            if urls:
                return urls
        return ()


def _newest(candidates: list[Bootstrap]) -> Bootstrap | None:
    """The copy published last; an undated copy only wins when it is alone."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return max(candidates, key=lambda b: b.publication or oldest, default=None)


# --------------------------------------------------------------------------- disk cache


class _ResultCache:
    """One small JSON file per registrable domain; unreadable entries are ignored.

    File names are a hash of the domain (the domain is stored inside): this keeps
    names such as ``con.com`` away from Windows' reserved device names.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, domain: str) -> Path:
        return cache_path(self.directory, domain)

    def get(self, domain: str, now: datetime) -> tuple[datetime, Registration] | None:
        """The cached answer and when it was fetched, or ``None`` if absent or stale."""
        try:
            entry = json.loads(self.path_for(domain).read_bytes())
            if entry["version"] != CACHE_FORMAT_VERSION or entry["domain"] != domain:
                return None
            fetched_at = _parse_rdap_datetime(entry["fetched_at"])
            if fetched_at is None or not _is_fresh(fetched_at, now, CACHE_TTL_SECONDS):
                return None
            return fetched_at, _registration_from_json(entry["registration"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _log.debug("ignoring unreadable RDAP cache entry for %s: %s", domain, exc)
            return None

    def put(self, domain: str, registration: Registration, fetched_at: datetime) -> None:
        entry = {
            "version": CACHE_FORMAT_VERSION,
            "domain": domain,
            "fetched_at": fetched_at.isoformat(),
            "registration": _registration_to_json(registration),
        }
        write_cache_file(self.path_for(domain), json.dumps(entry, indent=1).encode())


def _registration_to_json(registration: Registration) -> dict[str, Any]:
    return registration_to_json(registration)


def _registration_from_json(data: Mapping[str, Any]) -> Registration:
    """The inverse of :func:`_registration_to_json`; ``ValueError`` on anything odd."""
    return registration_from_json(data)


def _is_fresh(stamp: datetime, now: datetime, max_age_seconds: float) -> bool:
    """True when ``stamp`` is at most ``max_age_seconds`` old (and not in the future)."""
    age = (now - stamp).total_seconds()
    return 0 <= age < max_age_seconds


# --------------------------------------------------------------------------- parsing


def _parse_rdap_datetime(text: str) -> datetime | None:
    """RFC 3339 / ISO 8601 (``Z``, offsets, fractional seconds) → aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return None
    if value.tzinfo is None:  # Not RFC 3339, but some registries omit the offset.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _entities(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every entity of an RDAP object, top level first, nested ones after."""
    found: list[Mapping[str, Any]] = []
    queue: list[Any] = [data]
    while queue:
        current = queue.pop(0)
        children = current.get("entities") if isinstance(current, Mapping) else None
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Mapping):
                    found.append(child)
                    queue.append(child)
    return found


def _vcard_fn(entity: Mapping[str, Any]) -> str | None:
    """The formatted name (``fn``) of an entity's jCard (RFC 7095), else its ``org``."""
    return _vcard_value(entity, "fn") or _vcard_value(entity, "org")


def _vcard_value(entity: Mapping[str, Any], name: str) -> str | None:
    vcard = entity.get("vcardArray")
    if not (isinstance(vcard, list) and len(vcard) >= 2 and isinstance(vcard[1], list)):
        return None
    for prop in vcard[1]:
        if isinstance(prop, list) and len(prop) >= 4 and str(prop[0]).lower() == name:
            value = prop[3]
            if isinstance(value, list):
                value = " ".join(str(part) for part in value if part)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _registrar_name(data: Mapping[str, Any]) -> str | None:
    """The registrar's name; its IANA ID or handle when it publishes no name.

    Of several registrar entities, one also marked ``sponsor`` wins.
    """

    def roles_of(entity: Mapping[str, Any]) -> set[str]:
        roles = entity.get("roles")
        return {str(r).lower() for r in roles} if isinstance(roles, list) else set()

    registrars = [e for e in _entities(data) if "registrar" in roles_of(e)]
    registrars.sort(key=lambda e: "sponsor" not in roles_of(e))  # stable: order kept
    for entity in registrars:
        if name := _vcard_fn(entity):
            return name
        public_ids = entity.get("publicIds")
        if isinstance(public_ids, list):
            for public_id in public_ids:
                if isinstance(public_id, Mapping) and public_id.get("identifier"):
                    kind = public_id.get("type")
                    identifier = str(public_id["identifier"])
                    return f"{kind} {identifier}" if kind else identifier
        handle = entity.get("handle")
        if isinstance(handle, str) and handle.strip():
            return handle.strip()
    return None


def _registration_from_answer(domain: str, body: bytes, source: str) -> Registration:
    """Read expiry and registrar from an RDAP domain object (RFC 9083 §5.3)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RdapServerError("RDAP server sent invalid JSON") from None
    if not isinstance(data, dict):
        raise RdapServerError("RDAP server sent JSON that is not a domain object")
    registrar = _registrar_name(data)
    events = data.get("events")
    expiries: list[datetime] = []
    unreadable: list[str] = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, Mapping):
            continue
        if str(event.get("eventAction", "")).lower() != "expiration":
            continue
        raw = event.get("eventDate")
        parsed = _parse_rdap_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            unreadable.append(str(raw))
        else:
            expiries.append(parsed)
    if not expiries:
        if unreadable:
            raise RdapServerError(f"registry sent an unreadable expiry date: {unreadable[0]!r}")
        return Registration(
            registrable_domain=domain,
            registrar=registrar,
            source=source,
            error="registry publishes no expiry date",
            unknown=True,
            method="rdap",
            statuses=_epp_statuses(data),
            nameservers=_nameservers(data),
        )
    return Registration(
        registrable_domain=domain,
        expires=min(expiries),
        registrar=registrar,
        source=source,
        method="rdap",
        statuses=_epp_statuses(data),
        nameservers=_nameservers(data),
    )


def _epp_statuses(data: Mapping[str, Any]) -> tuple[str, ...]:
    """RDAP statuses (RFC 8056: ``client transfer prohibited``) as EPP codes."""
    found: list[str] = []
    for value in data.get("status") or []:
        code = EPP_STATUSES.get(str(value).replace(" ", "").lower())
        if code is not None and code not in found:
            found.append(code)
    return tuple(found)


def _nameservers(data: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for server in data.get("nameservers") or []:
        name = server.get("ldhName") if isinstance(server, Mapping) else None
        if isinstance(name, str) and name.strip():
            name = name.strip().rstrip(".").lower()
            if name not in found:
                found.append(name)
    return tuple(found)


def _retry_after_seconds(value: str | None, now: datetime) -> float:
    """``Retry-After`` as seconds: either delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return DEFAULT_RETRY_WAIT_SECONDS
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_WAIT_SECONDS
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _rate_limited(wait_seconds: float) -> RdapRateLimited:
    seconds = max(1, math.ceil(min(wait_seconds, LONGEST_WAIT_SHOWN_SECONDS)))
    return RdapRateLimited(f"rate-limited by the registry; try again in {seconds} s")


def _domain_url(base: str, domain: str) -> str:
    return f"{base if base.endswith('/') else base + '/'}domain/{domain}"


def _server_key(url: str) -> str:
    """The RDAP server (``host[:port]``) that requests to ``url`` count against."""
    return urlsplit(url).netloc.lower()


def _map_httpx_error(exc: Exception, server: str) -> RdapServerError:
    """The one place where httpx's errors become ours."""
    if isinstance(exc, httpx.TimeoutException):
        return RdapServerError(f"{server} did not answer in time")
    if isinstance(exc, httpx.TooManyRedirects):
        return RdapServerError(f"too many redirects from {server}")
    if isinstance(exc, httpx.ConnectError):
        kind, reason = network_cause(exc) or (ErrorKind.OTHER, "")  # words, not "[Errno -2]"
        return RdapServerError(
            f"cannot connect to {server}" + (f": {reason}" if reason else ""), kind=kind
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return RdapServerError(f"{server} broke off the connection")
    cause = network_cause(exc)
    if cause is not None:
        return RdapServerError(f"network error talking to {server}: {cause[1]}", kind=cause[0])
    detail = str(exc).strip() or type(exc).__name__
    return RdapServerError(f"network error talking to {server}: {detail}")


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    status_code: int
    headers: httpx.Headers
    body: bytes
    #: Where the answer finally came from, after redirects.
    url: str


# --------------------------------------------------------------------------- client


#: Takes one request slot of an RDAP server (by server key) for as long as it is held.
ServerGate = Callable[[str], contextlib.AbstractAsyncContextManager[None]]


class RdapClient:
    """Looks up registrations, sharing requests, caches and per-registry limits.

    Use one client per run (and per event loop): its in-flight table, memory cache,
    per-server semaphores and connection pool are what make lookups cheap. Close it
    with :meth:`aclose` or ``async with``.

    Args:
        bootstrap: Path or http(s) URL of an IANA bootstrap file to use instead of the
            cached/shipped one. If it cannot be read, lookups report that as their error.
        cache_dir: Folder for the bootstrap copy and the ``rdap/`` answers
            (default :func:`core.paths.cache_dir`).
        transport: httpx transport for every request (tests pass a ``MockTransport``).
        timeout_seconds: Timeout of each HTTP operation (connect, read, ...).
        per_server_limit: Requests in flight at once to one RDAP server.
        clock: Aware-UTC "now", for cache ages and HTTP-date ``Retry-After``.
        refresh_bootstrap: Fetch :data:`BOOTSTRAP_URL` when the cached copy is a day
            old; ``False`` keeps the client offline apart from RDAP queries.
        public_addresses_only: Connect only to public addresses, on the first request
            and on every redirect (:mod:`core.public_http`); the servers named by an
            explicit ``bootstrap`` are the operator's and stay reachable.
        server_gate: Also taken around each query, per server key (``host:port``):
            a limit shared beyond this client (the backend's workers share one
            through PostgreSQL). ``None``: this client's ``per_server_limit`` only.
        resolve: How server names become addresses (``DOMAINCHECK_DNS_SERVER``:
            :func:`core.dns.settings_resolver`); ``None``: the system resolver.
    """

    def __init__(
        self,
        *,
        bootstrap: str | None = None,
        cache_dir: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 10.0,
        per_server_limit: int = 4,
        clock: Callable[[], datetime] = utcnow,
        refresh_bootstrap: bool = True,
        public_addresses_only: bool = False,
        server_gate: ServerGate | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        if per_server_limit < 1:
            raise ValueError("per_server_limit must be at least 1")
        if not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be more than 0")
        self._bootstrap_setting = bootstrap
        self._cache_root = cache_dir if cache_dir is not None else paths.cache_dir()
        self._results = _ResultCache(self._cache_root / _CACHE_SUBDIR)
        self._per_server_limit = per_server_limit
        self._server_gate = server_gate
        self._clock = clock
        self._refresh_bootstrap = refresh_bootstrap
        self._deadline_seconds = max(LOOKUP_DEADLINE_SECONDS, timeout_seconds)
        #: ``(host, port)`` of the servers an explicit bootstrap names (the operator's).
        self._trusted_origins: set[tuple[str, int]] = set()
        if transport is None:
            transport = transport_for(
                public_addresses_only=public_addresses_only,
                trusted=self._is_trusted,
                resolve=resolve,
            )
        self._http = httpx.AsyncClient(
            transport=transport,
            trust_env=not public_addresses_only,
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"Accept": RDAP_MEDIA_TYPE, "User-Agent": USER_AGENT},
        )
        self._bootstrap_lock = asyncio.Lock()
        self._bootstrap: Bootstrap | RdapError | None = None
        self._bootstrap_loaded_at: datetime | None = None
        self._server_slots: dict[str, asyncio.Semaphore] = {}
        #: Event-loop time before which a server asked us (Retry-After) not to call.
        self._server_not_before: dict[str, float] = {}
        #: domain → (reuse until, answer).
        self._lookups = SharedLookups(self._clock)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> RdapClient:
        """A client for ``settings`` (bootstrap, timeout); ``kwargs`` override."""
        options: dict[str, Any] = {
            "bootstrap": settings.rdap_bootstrap,
            "timeout_seconds": settings.timeout_seconds,
            "public_addresses_only": settings.public_addresses_only,
            "resolve": settings_resolver(settings),
        }
        options.update(kwargs)
        return cls(**options)

    def _is_trusted(self, host: str, port: int) -> bool:
        return (host, port) in self._trusted_origins

    def _trust(self, urls: Iterable[str]) -> None:
        """Exempt the servers of an explicitly configured bootstrap from the address rule."""
        for url in urls:
            origin = origin_of(url)
            if origin is not None:
                self._trusted_origins.add(origin)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel lookups still running and close the connection pool (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._lookups.cancel_all()
        await self._http.aclose()

    # ------------------------------------------------------------------ lookups

    async def lookup(self, target: Target) -> Registration:
        """The registration of ``target``'s registrable domain; never raises for
        network or registry trouble (see :class:`~core.models.Registration`)."""
        if self._closed:
            raise RuntimeError("RdapClient is closed")
        if target.is_ip:
            return Registration(unknown=True, error="IP addresses have no domain registration")
        domain = registrable_domain(target.host)
        if domain is None:
            reason = "is a public suffix" if is_public_suffix(target.host) else "is not a domain"
            return Registration(unknown=True, error=f"{target.display} {reason}")
        return await self._lookups.get(domain, self._lookup_domain)

    def _remember(self, domain: str, registration: Registration, seconds: float) -> Registration:
        return self._lookups.remember(
            domain, self._clock() + timedelta(seconds=seconds), registration
        )

    async def _lookup_domain(self, domain: str) -> Registration:
        cached = self._results.get(domain, self._clock())
        if cached is not None:
            fetched_at, registration = cached
            remaining = CACHE_TTL_SECONDS - (self._clock() - fetched_at).total_seconds()
            return self._remember(domain, registration, remaining)
        try:
            bootstrap = await self.load_bootstrap()
        except RdapError as exc:
            failed = Registration(domain, error=str(exc), error_kind=exc.kind)
            return self._remember(domain, failed, ERROR_MEMO_SECONDS)
        bases = bootstrap.base_urls(domain)
        if not bases:
            tld = domain.rsplit(".", 1)[-1]
            unknown = Registration(domain, error=f"no RDAP service for .{tld}", unknown=True)
            return self._remember(domain, unknown, CACHE_TTL_SECONDS)
        url = _domain_url(bases[0], domain)
        try:
            registration = await self._query(domain, url)
        except RdapError as exc:
            failed = Registration(domain, source=url, error=str(exc), error_kind=exc.kind)
            return self._remember(domain, failed, ERROR_MEMO_SECONDS)
        fetched_at = self._clock()
        self._results.put(domain, registration, fetched_at)
        return self._remember(domain, registration, CACHE_TTL_SECONDS)

    async def _query(self, domain: str, url: str) -> Registration:
        """One domain query, within the server's slot; unknown answers are returned,
        failures raised as :class:`RdapError`."""
        server = _server_key(url)
        slots = self._server_slots.setdefault(server, asyncio.Semaphore(self._per_server_limit))
        gate = self._server_gate(server) if self._server_gate else contextlib.nullcontext()
        async with slots, gate:
            try:
                answer = await self._get_with_retries(server, url)
            except RegistrationUnknown as exc:
                return Registration(domain, source=url, error=str(exc), unknown=True)
        return _registration_from_answer(domain, answer.body, answer.url)

    async def _get_with_retries(self, server: str, url: str) -> _Answer:
        """GET ``url``, retrying after 429 while the waits fit the bounds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_seconds
        retries = 0
        while True:
            delay = self._server_not_before.get(server, 0.0) - loop.time()
            if delay > 0:
                if loop.time() + delay > deadline:
                    raise _rate_limited(delay)
                await asyncio.sleep(delay)
            try:
                async with asyncio.timeout_at(deadline):
                    answer = await self._get(url, server)
            except TimeoutError:
                raise RdapServerError(
                    f"{server} did not answer within {self._deadline_seconds:g} s"
                ) from None
            status = answer.status_code
            if status == httpx.codes.OK:
                return answer
            if status == httpx.codes.NOT_FOUND:
                raise RegistrationUnknown("not found in the registry's RDAP")
            if status == httpx.codes.TOO_MANY_REQUESTS:
                wait = _retry_after_seconds(answer.headers.get("Retry-After"), self._clock())
                if (
                    retries >= MAX_RETRIES
                    or wait > MAX_RETRY_WAIT_SECONDS
                    or loop.time() + wait > deadline
                ):
                    raise _rate_limited(wait)
                retries += 1
                not_before = max(self._server_not_before.get(server, 0.0), loop.time() + wait)
                self._server_not_before[server] = not_before
                _log.debug("%s: 429, retry %d in %.1f s", url, retries, wait)
                continue
            if status >= 500:
                raise RdapServerError(f"RDAP server error (HTTP {status})")
            raise RdapServerError(f"RDAP server answered HTTP {status}")

    async def _get(self, url: str, server: str, accept: str = RDAP_MEDIA_TYPE) -> _Answer:
        """One GET (following redirects), body read up to :data:`MAX_RESPONSE_BYTES`."""
        try:
            async with self._http.stream("GET", url, headers={"Accept": accept}) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise RdapServerError(f"{server} sent more than {MAX_RESPONSE_BYTES} bytes")
                    chunks.append(chunk)
                return _Answer(
                    response.status_code, response.headers, b"".join(chunks), str(response.url)
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _map_httpx_error(exc, server) from exc

    # ------------------------------------------------------------------ bootstrap

    async def load_bootstrap(self) -> Bootstrap:
        """The bootstrap in use, loaded on first need and again after a day.

        Raises:
            RdapError: an explicitly configured bootstrap (``bootstrap=``) could not
                be read, or the shipped copy is missing. Front ends may call this
                up front to fail fast on a bad ``--rdap-bootstrap``.
        """
        async with self._bootstrap_lock:
            now = self._clock()
            loaded_at = self._bootstrap_loaded_at
            if (
                self._bootstrap is None
                or loaded_at is None
                or not _is_fresh(loaded_at, now, BOOTSTRAP_MAX_AGE_SECONDS)
            ):
                try:
                    self._bootstrap = await self._read_bootstrap(now)
                except RdapError as exc:
                    self._bootstrap = exc
                self._bootstrap_loaded_at = now
            if isinstance(self._bootstrap, RdapError):
                raise self._bootstrap
            return self._bootstrap

    async def _read_bootstrap(self, now: datetime) -> Bootstrap:
        setting = self._bootstrap_setting
        if setting is None:
            return await self._default_bootstrap(now)
        parts = urlsplit(setting)
        if parts.scheme.lower() in ("http", "https"):
            self._trust([setting])
            try:
                answer = await self._get(setting, _server_key(setting), accept="application/json")
            except RdapServerError as exc:
                raise RdapError(f"cannot fetch the RDAP bootstrap file {setting}: {exc}") from exc
            if answer.status_code != httpx.codes.OK:
                raise RdapError(
                    f"cannot fetch the RDAP bootstrap file {setting}: HTTP {answer.status_code}"
                )
            data = answer.body
        else:
            path = Path(url2pathname(parts.path)) if parts.scheme == "file" else Path(setting)
            path = path.expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise RdapError(f"cannot read the RDAP bootstrap file {path}: {reason}") from exc
        try:
            bootstrap = Bootstrap.parse(data)
        except ValueError as exc:
            raise RdapError(f"{setting} is not an IANA RDAP bootstrap file: {exc}") from exc
        self._trust(url for urls in bootstrap.services.values() for url in urls)
        return bootstrap

    async def _default_bootstrap(self, now: datetime) -> Bootstrap:
        """The refreshed cache copy when due and reachable, else the newer of the
        cached and shipped copies."""
        cached_path = self._cache_root / BOOTSTRAP_FILE_NAME
        if self._refresh_bootstrap and self._bootstrap_refresh_due(now):
            # Stamp first: a failed attempt also waits a day, so offline runs stay quiet.
            stamp = json.dumps({"attempted_at": now.isoformat()}).encode()
            write_cache_file(self._cache_root / BOOTSTRAP_STAMP_FILE_NAME, stamp)
            try:
                answer = await self._get(
                    BOOTSTRAP_URL, _server_key(BOOTSTRAP_URL), accept="application/json"
                )
                if answer.status_code != httpx.codes.OK:
                    raise RdapServerError(f"HTTP {answer.status_code}")
                fetched = Bootstrap.parse(answer.body)
            except (RdapError, ValueError) as exc:
                _log.info("could not refresh the RDAP bootstrap file: %s", exc)
            else:
                write_cache_file(cached_path, answer.body)
                return fetched
        shipped_path = paths.resource(BOOTSTRAP_FILE_NAME)
        copies = [b for b in map(_read_bootstrap_file, (cached_path, shipped_path)) if b]
        newest = _newest(copies)
        if newest is None:  # nothing bundled (source checkouts) and never fetched yet
            raise RdapError(
                "no copy of IANA's RDAP bootstrap file yet: it is fetched from"
                f" {BOOTSTRAP_URL} on first use (is this machine offline?)"
            )
        return newest

    def _bootstrap_refresh_due(self, now: datetime) -> bool:
        try:
            stamp = json.loads((self._cache_root / BOOTSTRAP_STAMP_FILE_NAME).read_bytes())
            attempted_at = _parse_rdap_datetime(stamp["attempted_at"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return True
        return attempted_at is None or not _is_fresh(attempted_at, now, BOOTSTRAP_MAX_AGE_SECONDS)


def _read_bootstrap_file(path: Path) -> Bootstrap | None:
    try:
        return Bootstrap.parse(path.read_bytes())
    except (OSError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            _log.debug("ignoring bootstrap copy %s: %s", path, exc)
        return None
