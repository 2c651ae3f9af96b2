"""Registration data from WHOIS (port 43), politely, for TLDs RDAP does not cover.

Where RDAP has no service for a TLD (.io, .de, .jp... in IANA's bootstrap) or
answers without an expiry, the registry's WHOIS usually has one. A lookup goes:

1. **Which server.** A ``--whois-server TLD=HOST:PORT`` override (longest suffix
   wins), else the server IANA names: ``whois.iana.org`` is asked about the TLD and
   its ``refer:`` line followed, the way the standard ``whois`` client does it. The
   answer is kept a week (:data:`SERVER_CACHE_SECONDS`), in memory and on disk; "IANA
   names no server" only when IANA's record is really about that TLD, and for a day.
2. **Etiquette.** WHOIS servers throttle hard and some ban for days, per client
   address. Per server the whole process (:mod:`core.whois_gate`, shared by every
   client) keeps at most one query in flight, leaves at least the server's pace
   between two queries (``pace_seconds``, more for servers known to be strict:
   :data:`SLOW_SERVERS`), and when a server answers "limit exceeded" waits
   (doubling, :data:`BACKOFF_SECONDS` first) and tries again a bounded number of
   times. A ``server_gate`` extends this beyond the process (the backend's workers).
3. **Cache.** Answers are kept on disk next to the RDAP cache (``cache_dir()/whois/``):
   a known expiry until it enters the threshold window or for 7 days, whichever is
   sooner; "not found" and "publishes no expiry" for a day; failures only in memory
   for a minute.
4. **Referral.** A thin registry that has no date but names the registrar's WHOIS
   (``Registrar WHOIS Server:``) is followed there once.
5. **Reading.** :mod:`core.whois_parse` decodes and parses the answer; the result is
   the same frozen :class:`~core.models.Registration` RDAP gives, with
   ``method="whois"`` and ``source="whois://server"``.

:meth:`WhoisClient.lookup` never raises for network or registry trouble: failures
become a ``Registration`` with ``error`` (and :class:`WhoisError` internally).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from core import paths
from core.addresses import is_public_address, parse_address
from core.cache_files import cache_path, write_cache_file
from core.config import (
    DEFAULT_WHOIS_PACE_SECONDS,
    ConnectRule,
    Settings,
    WhoisServer,
    resolve_connect_to,
)
from core.errors import DnsFailure, ErrorKind, RdapError, network_cause
from core.models import DEFAULT_THRESHOLD_DAYS, Registration, utcnow
from core.registration_json import registration_from_json, registration_to_json
from core.shared_lookups import SharedLookups
from core.whois_gate import PROCESS_GATE, ServerTurn, WhoisGate
from core.whois_parse import (
    NO_EXPIRY_TLDS,
    WhoisRecord,
    decode_whois,
    is_rate_limited,
    no_expiry_message,
    parse_whois,
    parse_whois_date,
)

__all__ = [
    "IANA_SERVER",
    "SLOW_SERVERS",
    "WhoisClient",
    "WhoisError",
    "WhoisServerGate",
    "no_expiry_message",
]

#: Held around one query to a server (by key ``host:port``), its retries and the
#: pace after it: a limit shared beyond this process (same shape as
#: :data:`core.rdap.ServerGate`; the backend passes PostgreSQL advisory locks).
WhoisServerGate = Callable[[str], contextlib.AbstractAsyncContextManager[None]]
#: ``(host, port)`` → addresses, e.g. through ``DOMAINCHECK_DNS_SERVER``.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_log = logging.getLogger(__name__)

WHOIS_PORT = 43
#: Asked which WHOIS server serves a TLD (its ``refer:`` line).
IANA_SERVER = "whois.iana.org"
#: How long the server IANA names for a TLD is reused.
SERVER_CACHE_SECONDS = 7 * 86_400
#: A known expiry is reused at most this long (and never into the threshold window).
FOUND_CACHE_SECONDS = 7 * 86_400
#: "Not found" and "publishes no expiry" answers are reused this long.
NEGATIVE_CACHE_SECONDS = 86_400
#: A known expiry already inside the threshold window is asked again after this,
#: so that a renewal shows soon without asking on every run of a busy monitor.
NEAR_EXPIRY_CACHE_SECONDS = 3_600
#: Failures are reused (in memory) this long, so subdomains do not each retry.
ERROR_MEMO_SECONDS = 60
#: First wait after a "limit exceeded" answer; doubled on each further one.
BACKOFF_SECONDS = 30.0
#: Tries after a "limit exceeded" answer before the lookup gives up.
MAX_RATE_LIMIT_RETRIES = 3
#: WHOIS answers are a few kB; a server sending more is not answering WHOIS.
MAX_ANSWER_BYTES = 256 * 1024
#: Servers known to limit hard (queries per minute, bans), with the pace they get:
#: DENIC blocks after bursts, Red.es allows 10 queries a minute then blocks for
#: two hours, EURid, JPRS, the .it and .se/.nu registries throttle per minute.
SLOW_SERVERS: Mapping[str, float] = {
    "whois.denic.de": 6.0,
    "whois.nic.es": 6.0,
    "whois.eu": 4.0,
    "whois.jprs.jp": 4.0,
    "whois.nic.it": 4.0,
    "whois.iis.se": 4.0,
    "whois.iis.nu": 4.0,
    "whois.nic.ch": 4.0,
    "whois.dns.be": 4.0,
}
#: How a few registries want to be asked (DENIC answers little without ``-T``).
_QUERY_FORMATS: Mapping[str, str] = {
    "whois.denic.de": "-T dn,ace {domain}",
    "whois.verisign-grs.com": "domain {domain}",
}
#: Names that never reach a registry (RFC 2606, 6761, 6762, 9476, ICANN's .internal):
#: nobody is asked about them unless ``--whois-server`` names a server for them.
RESERVED_TLDS = frozenset(
    {"test", "example", "invalid", "localhost", "local", "onion", "alt", "internal", "arpa"}
)
#: IANA's answer about a TLD names its WHOIS server on a ``refer:`` (or ``whois:``) line.
_IANA_REFER = re.compile(r"^(?:refer|whois):[ \t]*([A-Za-z0-9.-]+)[ \t]*$", re.MULTILINE)
#: IANA's record of a TLD starts with ``domain: TLD``; without it the answer is no record.
_IANA_DOMAIN = re.compile(r"^domain:[ \t]*([A-Za-z0-9.-]+)[ \t]*$", re.MULTILINE | re.IGNORECASE)
#: Bumped when the layout of the disk cache entries changes.
CACHE_FORMAT_VERSION = 1
_CACHE_SUBDIR = "whois"
_SERVERS_FILE = "iana-servers.json"


class WhoisError(RdapError):
    """Registration data could not be had from WHOIS (network, rate limit, bad answer)."""

    kind = ErrorKind.SERVER


# --------------------------------------------------------------------------- disk cache


class _AnswerCache:
    """One JSON file per registrable domain, each with its own "reuse until"."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, domain: str) -> Path:
        return cache_path(self.directory, domain)

    def get(self, domain: str, now: datetime) -> tuple[datetime, Registration] | None:
        try:
            entry = json.loads(self._path(domain).read_bytes())
            if entry["version"] != CACHE_FORMAT_VERSION or entry["domain"] != domain:
                return None
            until = parse_whois_date(entry["reuse_until"])
            if until is None or not now < until:
                return None
            return until, registration_from_json(entry["registration"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _log.debug("ignoring unreadable WHOIS cache entry for %s: %s", domain, exc)
            return None

    def put(self, domain: str, registration: Registration, until: datetime) -> None:
        entry = {
            "version": CACHE_FORMAT_VERSION,
            "domain": domain,
            "reuse_until": until.isoformat(),
            "registration": registration_to_json(registration),
        }
        write_cache_file(self._path(domain), json.dumps(entry, indent=1).encode())


class _ServerCache:
    """TLD → WHOIS server named by IANA, kept a week; ``""`` (IANA's record of the TLD
    names none) is kept a day, like other negative answers."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, tld: str, now: datetime) -> str | None:
        entry = self._load().get(tld)
        if not isinstance(entry, dict):
            return None
        fetched = parse_whois_date(str(entry.get("fetched_at", "")))
        server = entry.get("server")
        if fetched is None or not isinstance(server, str):
            return None
        age = (now - fetched).total_seconds()
        keep = SERVER_CACHE_SECONDS if server else NEGATIVE_CACHE_SECONDS
        return server if 0 <= age < keep else None

    def put(self, tld: str, server: str, now: datetime) -> None:
        data = self._load()
        data[tld] = {"server": server, "fetched_at": now.isoformat()}
        write_cache_file(self.path, json.dumps(data, indent=1, sort_keys=True).encode())


# --------------------------------------------------------------------------- client


class WhoisClient:
    """Looks up registrations over WHOIS with per-server pacing and caches.

    Use one client per run (and per event loop), like :class:`core.rdap.RdapClient`;
    :meth:`aclose` cancels lookups still running.

    Args:
        servers: ``--whois-server`` overrides (TLD → host and port).
        connect_to: curl-style rules that send a server's TCP connection elsewhere
            (the test world sends ``whois.iana.org:43`` to loopback).
        cache_dir: Folder for ``whois/`` (default :func:`core.paths.cache_dir`).
        timeout_seconds: Connect and read timeout of one query.
        pace_seconds: Least time between two queries to one server.
        slow_servers: Servers that get a slower pace (default :data:`SLOW_SERVERS`).
        backoff_seconds: First wait after "limit exceeded" (doubled each time).
        threshold_days: A known expiry is not reused from the cache within this many
            days of it.
        clock: Aware-UTC "now" for cache ages.
        public_addresses_only: Refuse servers (e.g. a referral) on non-public addresses
            (:func:`core.addresses.is_public_address`, checked again on the connected
            socket), unless an override or ``connect_to`` rule (the operator's) names them.
        resolve: How server names become addresses (``DOMAINCHECK_DNS_SERVER``);
            ``None``: the system resolver.
        gate: Per-server turns, pace and backoff; default :data:`PROCESS_GATE`, shared
            by every client of the process.
        server_gate: Also held, per server key ``host:port``, from before a query until
            its pace has passed after the last answer (retries and backoff included):
            a limit shared beyond this process. ``None``: the process gate only.
    """

    def __init__(
        self,
        *,
        servers: Sequence[WhoisServer] = (),
        connect_to: Sequence[ConnectRule] = (),
        cache_dir: Path | None = None,
        timeout_seconds: float = 10.0,
        pace_seconds: float = DEFAULT_WHOIS_PACE_SECONDS,
        slow_servers: Mapping[str, float] = SLOW_SERVERS,
        backoff_seconds: float = BACKOFF_SECONDS,
        threshold_days: int = DEFAULT_THRESHOLD_DAYS,
        clock: Callable[[], datetime] = utcnow,
        public_addresses_only: bool = False,
        resolve: Resolver | None = None,
        gate: WhoisGate | None = None,
        server_gate: WhoisServerGate | None = None,
    ) -> None:
        self._overrides = {server.tld: server for server in servers}
        self._connect_to = tuple(connect_to)
        root = (cache_dir if cache_dir is not None else paths.cache_dir()) / _CACHE_SUBDIR
        self._answers = _AnswerCache(root)
        self._server_cache = _ServerCache(root / _SERVERS_FILE)
        self._timeout = timeout_seconds
        self._pace = pace_seconds
        self._slow = dict(slow_servers)
        self._backoff = backoff_seconds
        self._threshold = timedelta(days=threshold_days)
        self._clock = clock
        self._public_only = public_addresses_only
        self._resolve = resolve
        self._gate = gate if gate is not None else PROCESS_GATE
        self._server_gate = server_gate
        self._tld_servers: dict[str, tuple[str, int] | None] = {}
        self._tld_lock = asyncio.Lock()
        self._lookups = SharedLookups(self._clock)
        self._closed = False
        #: The latest queries sent, as ``(server, query)``: for tests and debugging.
        self.sent: collections.deque[tuple[str, str]] = collections.deque(maxlen=1_000)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> WhoisClient:
        options: dict[str, Any] = {
            "servers": settings.whois_servers,
            "connect_to": settings.connect_to,
            "timeout_seconds": settings.timeout_seconds,
            "pace_seconds": settings.whois_pace_seconds,
            "threshold_days": settings.threshold_days,
            "public_addresses_only": settings.public_addresses_only,
        }
        if settings.dns_server is not None:
            from core.dns import settings_resolver

            options["resolve"] = settings_resolver(settings)
        options.update(kwargs)
        return cls(**options)

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
        """Cancel lookups still running (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._lookups.cancel_all()

    # ------------------------------------------------------------------ lookups

    async def lookup(self, domain: str) -> Registration:
        """The registration of the registrable ``domain`` (A-label); never raises for
        network or registry trouble."""
        if self._closed:
            raise RuntimeError("WhoisClient is closed")
        domain = domain.lower().rstrip(".")
        return await self._lookups.get(domain, self._lookup_domain)

    async def _lookup_domain(self, domain: str) -> Registration:
        now = self._clock()
        cached = self._answers.get(domain, now)
        if cached is not None:
            until, registration = cached
            self._lookups.remember(domain, until, registration)
            return registration
        try:
            registration = await self._ask(domain)
        except RdapError as exc:  # WhoisError, or a failing ``server_gate``
            failed = Registration(domain, error=str(exc), error_kind=exc.kind, method="whois")
            self._lookups.remember(domain, now + timedelta(seconds=ERROR_MEMO_SECONDS), failed)
            return failed
        until = self._reuse_until(registration, self._clock())
        self._answers.put(domain, registration, until)
        self._lookups.remember(domain, until, registration)
        return registration

    def _reuse_until(self, registration: Registration, now: datetime) -> datetime:
        if registration.expires is None:
            return now + timedelta(seconds=NEGATIVE_CACHE_SECONDS)
        until = min(
            now + timedelta(seconds=FOUND_CACHE_SECONDS), registration.expires - self._threshold
        )
        return max(until, now + timedelta(seconds=NEAR_EXPIRY_CACHE_SECONDS))

    async def _ask(self, domain: str) -> Registration:
        tld = domain.rsplit(".", 1)[-1]
        server = await self.server_for(domain)
        if server is None:
            return Registration(
                domain, error=f"no WHOIS service for .{tld}", unknown=True, method="whois"
            )
        record = parse_whois(decode_whois(await self.query(server, domain), tld))
        source = _source(server)
        if record.not_found:
            return Registration(
                domain,
                source=source,
                error="not found in the registry's WHOIS",
                unknown=True,
                method="whois",
            )
        if record.expires is None and record.unreadable_expiry is None and record.referral:
            referred = await self._follow_referral(server, record.referral, domain, tld)
            if referred is not None:
                record, source = _merge(record, referred[0]), _source(referred[1])
        return _registration(domain, tld, record, source)

    async def _follow_referral(
        self, server: tuple[str, int], referral: str, domain: str, tld: str
    ) -> tuple[WhoisRecord, tuple[str, int]] | None:
        """Ask the registrar's WHOIS a thin registry points to; ``None`` if it fails."""
        target = (referral, WHOIS_PORT)
        if referral == server[0]:
            return None
        try:
            text = decode_whois(await self.query(target, domain), tld)
        except WhoisError as exc:
            _log.info("referral from %s to %s failed: %s", server[0], referral, exc)
            return None
        record = parse_whois(text)
        if record.expires is None and record.unreadable_expiry is None:
            return None  # the registrar knows no more than the registry
        return record, target

    # ------------------------------------------------------------------ servers

    async def server_for(self, domain: str) -> tuple[str, int] | None:
        """The WHOIS server for ``domain``: an override, else IANA's ``refer:``."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(1, len(labels)):
            override = self._overrides.get(".".join(labels[start:]))
            if override is not None:
                return (override.host, override.port)
        tld = labels[-1]
        if tld in RESERVED_TLDS:
            return None
        async with self._tld_lock:
            if tld in self._tld_servers:
                return self._tld_servers[tld]
            found = await self._iana_server(tld)
            self._tld_servers[tld] = found
            return found

    async def _iana_server(self, tld: str) -> tuple[str, int] | None:
        now = self._clock()
        name = self._server_cache.get(tld, now)
        if name is None:
            answer = decode_whois(await self.query((IANA_SERVER, WHOIS_PORT), tld))
            match = _IANA_REFER.search(answer)
            if match:
                name = match.group(1).lower().rstrip(".")
            elif any(m.group(1).lower().rstrip(".") == tld for m in _IANA_DOMAIN.finditer(answer)):
                name = ""  # IANA's record of the TLD names no WHOIS server
            else:  # an empty answer (closed connection), an error text, another record
                raise WhoisError(f"{IANA_SERVER} sent no record for .{tld}")
            self._server_cache.put(tld, name, now)
        return (name, WHOIS_PORT) if name else None

    # ------------------------------------------------------------------ queries

    async def query(self, server: tuple[str, int], name: str) -> bytes:
        """Send one query to ``server`` the polite way (see the module docstring).

        Raises:
            WhoisError: the server could not be reached, kept refusing for going too
                fast, or sent too much.
        """
        text = _QUERY_FORMATS.get(server[0], "{domain}").format(domain=name)
        pace = max(self._pace, self._slow.get(server[0], 0.0))
        async with self._gate.turn(server) as turn:  # one query in flight per server
            if self._server_gate is None:
                return await self._send_politely(server, text, turn, pace)
            async with self._server_gate(f"{server[0]}:{server[1]}"):
                try:
                    return await self._send_politely(server, text, turn, pace)
                finally:
                    # Other processes know nothing of our pace: keep their gate shut.
                    await turn.wait()

    async def _send_politely(
        self, server: tuple[str, int], text: str, turn: ServerTurn, pace: float
    ) -> bytes:
        for _ in range(MAX_RATE_LIMIT_RETRIES + 1):
            await turn.wait()
            self.sent.append((server[0], text))
            try:
                answer = await self._exchange(server, text)
            except BaseException:
                turn.failed(pace_seconds=pace)
                raise
            if not is_rate_limited(decode_whois(answer)):
                turn.answered(pace_seconds=pace, rate_limited=False, backoff_seconds=0.0)
                return answer
            wait = self._backoff * 2 ** min(turn.strikes, MAX_RATE_LIMIT_RETRIES)
            _log.info("%s says we go too fast; waiting %.0f s", server[0], wait)
            turn.answered(pace_seconds=pace, rate_limited=True, backoff_seconds=wait)
        raise WhoisError(
            f"{server[0]} keeps refusing queries for going too fast; try again later",
            kind=ErrorKind.SERVER,
        )

    async def _exchange(self, server: tuple[str, int], text: str) -> bytes:
        host = server[0]
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = await self._connect(server)
                try:
                    writer.write(text.encode("utf-8") + b"\r\n")  # names are A-labels
                    await writer.drain()
                    chunks: list[bytes] = []
                    size = 0
                    while chunk := await reader.read(65_536):
                        size += len(chunk)
                        if size > MAX_ANSWER_BYTES:
                            raise WhoisError(f"{host} sent more than {MAX_ANSWER_BYTES} bytes")
                        chunks.append(chunk)
                    return b"".join(chunks)
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        except TimeoutError:
            raise WhoisError(f"{host} did not answer in time", kind=ErrorKind.TIMEOUT) from None
        except DnsFailure as exc:
            raise WhoisError(f"cannot connect to {host}: {exc}", kind=exc.kind) from exc
        except OSError as exc:
            kind, reason = network_cause(exc) or (ErrorKind.OTHER, str(exc))
            raise WhoisError(f"cannot connect to {host}: {reason}", kind=kind) from exc

    async def _connect(
        self, server: tuple[str, int]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``server`` (after ``connect_to``), by the address policy.

        With ``public_addresses_only``, a server the operator did not name (a registrar
        a registry refers to is named by the registry's answer) is reached only on a
        public address: every public address is tried in turn, and the connected
        socket's peer is checked once more (the name cannot resolve differently then).
        """
        host, port = server
        connect_host, connect_port = resolve_connect_to(self._connect_to, host, port)
        redirected = (connect_host, connect_port) != (host, port)
        trusted = redirected or any((s.host, s.port) == server for s in self._overrides.values())
        check = self._public_only and not trusted
        literal = parse_address(connect_host)
        if literal is not None:
            addresses = [str(literal)]
        elif check or self._resolve is not None:
            addresses = await (self._resolve or _system_resolve)(connect_host, connect_port)
        else:
            return await asyncio.open_connection(connect_host, connect_port)
        if check:
            addresses = [address for address in addresses if is_public_address(address)]
            if not addresses:
                raise _refused(host)
        failure: OSError | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(address, connect_port)
            except OSError as exc:
                failure = exc
                continue
            peer = writer.get_extra_info("peername")
            if check and not (isinstance(peer, tuple) and peer and is_public_address(str(peer[0]))):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                raise _refused(host)
            return reader, writer
        assert failure is not None  # the address list is never empty here
        raise failure


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refused(host: str) -> WhoisError:
    return WhoisError(
        f"{host} has only private or local addresses, which are refused",
        kind=ErrorKind.FORBIDDEN_ADDRESS,
    )


def _source(server: tuple[str, int]) -> str:
    host, port = server
    return f"whois://{host}" if port == WHOIS_PORT else f"whois://{host}:{port}"


def _merge(registry: WhoisRecord, registrar: WhoisRecord) -> WhoisRecord:
    """The registry's answer, completed with what the registrar's WHOIS adds."""
    return WhoisRecord(
        expires=registrar.expires,
        registrar=registry.registrar or registrar.registrar,
        statuses=registry.statuses or registrar.statuses,
        nameservers=registry.nameservers or registrar.nameservers,
        unreadable_expiry=registrar.unreadable_expiry,
    )


def _registration(domain: str, tld: str, record: WhoisRecord, source: str) -> Registration:
    common: dict[str, Any] = {
        "registrable_domain": domain,
        "registrar": record.registrar,
        "source": source,
        "method": "whois",
        "statuses": record.statuses,
        "nameservers": record.nameservers,
    }
    if record.expires is not None:
        return Registration(expires=record.expires, **common)
    if record.unreadable_expiry is not None:
        return Registration(
            error=f"registry sent an unreadable expiry date: {record.unreadable_expiry!r}",
            error_kind=ErrorKind.SERVER,
            **common,
        )
    if tld in NO_EXPIRY_TLDS:
        return Registration(error=no_expiry_message(tld), unknown=True, **common)
    return Registration(error="the registry's WHOIS shows no expiry date", unknown=True, **common)
