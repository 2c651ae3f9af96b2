"""Read a host's TLS certificate: trust, names and dates from one handshake.

    checker = TlsChecker.from_settings(settings)
    try:
        info = await checker.check(Target("example.com"))   # a CertInfo, never raises
    finally:
        checker.close()

How one check runs, all inside one deadline of ``timeout_seconds``:

1. The TCP destination comes from the connect-to rules (SNI and name checks keep the
   original name), then its addresses from the ``--resolve`` rules, else from DNS:
   dnspython asking ``DOMAINCHECK_DNS_SERVER`` when one is set (:mod:`core.dns`),
   else the system resolver on a private thread pool, so a thousand lookups are not
   queued behind asyncio's small default executor; IP literals skip DNS.
2. Every address of the name (at most ``MAX_ADDRESSES_PER_NAME``, in address order)
   is checked in parallel within the same deadline, each with SNI = the name, and
   :mod:`core.endpoints` combines them: the result is the worst endpoint, with every
   endpoint listed in ``CertInfo.endpoints``. With ``first_address_only`` the
   addresses are tried in order instead, as before: when more than one is left,
   each attempt gets a fair share of the time remaining, so one black-holed address
   cannot use up the whole budget. The public-addresses-only rule drops private
   addresses one by one; a name left with none is refused.
   For STARTTLS protocols (``smtp://``...), the dialect's plaintext prologue
   (:mod:`core.starttls`) runs on the connected socket before the handshake.
3. The handshake uses a verifying context with ``check_hostname`` off: OpenSSL
   verifies the chain, and the names are matched here against the leaf's
   subjectAltNames (:func:`hostname_matches`), so one handshake answers both
   "trusted?" and "right name?". Only when verification fails is a second,
   non-verifying handshake made, to still read the dates of an expired, self-signed
   or untrusted certificate, and the chain the server sent. OpenSSL's verify code
   and that chain say what went wrong in a site owner's terms
   (:class:`~core.models.TrustProblem`): an intermediate the server does not send is
   told apart from an untrusted authority, and an expired intermediate is named.
4. The connection is aborted as soon as the certificate is read: nothing waits for a
   slow server's close_notify.

Every network failure becomes one class of :mod:`core.errors` with a sentence a
person can read, and :meth:`TlsChecker.check` returns it as ``CertInfo(error=...,
error_kind=...)``.

How names are shown: the subject is its common name (else the first subjectAltName);
the issuer is its organisation followed by its common name, "Let's Encrypt R11",
unless the common name already names the organisation ("Sectigo RSA Domain
Validation Secure Server CA"), in which case it is the common name alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import errno
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import certifi
from cryptography import x509
from cryptography.x509.oid import NameOID

from core import errors
from core.addresses import is_public_address
from core.chain import (
    ca_certificate,
    issuance_path,
    self_signed,
    sent_chain_der,
    trust_problem,
    trust_problem_of_code,
    verified_chain_der,
)
from core.config import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_ADDRESSES_PER_NAME,
    ConnectRule,
    ResolveRule,
    Settings,
    resolve_addresses,
    resolve_connect_to,
)
from core.dns import DnsResolver
from core.endpoints import combine
from core.models import (
    DEFAULT_PROTOCOL,
    DEFAULT_THRESHOLD_DAYS,
    MX_PROTOCOL,
    CertInfo,
    ChainRole,
    Target,
    utcnow,
)
from core.thresholds import DEFAULT_LIFETIME_FRACTION

if TYPE_CHECKING:
    from core.starttls import Upgrade

__all__ = ["Handshake", "TlsChecker", "hostname_matches", "sent_chain_der", "verified_chain_der"]

DEFAULT_RESOLVER_THREADS = 32

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_AddrInfo: TypeAlias = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]

#: OpenSSL reasons meaning "what answered is not TLS at all" (an HTTP server, SSH...).
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
        "RECORD_LENGTH_MISMATCH",
    }
)
#: OpenSSL reasons worth a plainer phrase than the reason code itself.
_TLS_REASON_TEXT = {
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common",
    "UNSUPPORTED_PROTOCOL": "no TLS version in common",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server refused the handshake",
    "NO_SHARED_CIPHER": "no cipher in common",
    "TLSV1_UNRECOGNIZED_NAME": "the server does not know this name",
    "TLSV1_ALERT_UNRECOGNIZED_NAME": "the server does not know this name",
    "TLSV1_ALERT_INTERNAL_ERROR": "the server reported an internal error",
}
_UNREACHABLE_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
)


class _Phase(enum.Enum):
    """What a check was doing, to say what ran out of time."""

    #: Looking up the destination's addresses.
    RESOLVE = enum.auto()
    #: Opening the TCP connection.
    CONNECT = enum.auto()
    #: The STARTTLS dialect's plaintext prologue.
    UPGRADE = enum.auto()
    #: TLS handshake (verifying, or the second, reading-only one).
    HANDSHAKE = enum.auto()


class _Progress:
    """What one check has learned so far, kept for the error it may end with."""

    __slots__ = ("address", "phase", "upgrade", "verify_code", "verify_error")

    def __init__(self) -> None:
        self.phase = _Phase.RESOLVE
        self.verify_error: str | None = None
        self.verify_code: int | None = None
        #: The address connected to, once one answered.
        self.address: _AddrInfo | None = None
        #: The STARTTLS dialect's name, once its prologue started.
        self.upgrade: str | None = None


class _Probe(asyncio.Protocol):
    """Protocol of a connection that only handshakes; it never reads application data."""

    __slots__ = ("abandoned",)

    def __init__(self) -> None:
        self.abandoned = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A check cancelled in the same loop iteration as its handshake finished:
        # nobody will abort this transport, so do it here.
        if self.abandoned and isinstance(transport, asyncio.Transport):
            transport.abort()


@dataclasses.dataclass(frozen=True, slots=True)
class Handshake:
    """What one check saw: the :class:`CertInfo`, and the leaf and its issuer.

    The certificates are for the checks that follow the handshake (ACME Renewal
    Information needs the leaf's key identifier and serial, CRL and OCSP answers are
    verified with the issuer's key); they never leave the engine.
    """

    info: CertInfo
    leaf: x509.Certificate | None = None
    #: The CA certificate that issued ``leaf`` (``None`` when self-signed or not sent).
    issuer: x509.Certificate | None = None
    #: Every address checked and its own handshake (``info`` and ``leaf`` are then
    #: the worst one's), for follow-up checks per certificate; empty when the name
    #: has one address, or with ``first_address_only``.
    endpoints: tuple[tuple[str, Handshake], ...] = ()


class TlsChecker:
    """Checks the certificates of many hosts concurrently with shared TLS contexts.

    One instance serves any number of concurrent :meth:`check` calls, from any event
    loop. Call :meth:`close` when done to stop the resolver threads.

    Raises:
        errors.UsageError: ``ca_file`` holds no usable PEM certificate.
    """

    def __init__(
        self,
        *,
        ca_file: Path | None = None,
        connect_to: Sequence[ConnectRule] = (),
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        resolver_threads: int = DEFAULT_RESOLVER_THREADS,
        public_addresses_only: bool = False,
        resolve: Sequence[ResolveRule] = (),
        dns: DnsResolver | None = None,
        first_address_only: bool = False,
        threshold_days: int = DEFAULT_THRESHOLD_DAYS,
        lifetime_fraction: float = DEFAULT_LIFETIME_FRACTION,
    ) -> None:
        self._public_addresses_only = public_addresses_only
        self._resolve = tuple(resolve)
        self._dns = dns
        self._first_address_only = first_address_only
        #: Only to pick the worst endpoint in :meth:`check`; the engine picks again
        #: with each target's own threshold (:func:`core.endpoints.combine`).
        self._threshold_days = threshold_days
        self._lifetime_fraction = lifetime_fraction
        self._verifying_context = _verifying_context(ca_file)
        self._reading_context = _reading_context()
        self._connect_to = tuple(connect_to)
        self._timeout_seconds = timeout_seconds
        self._pool = ThreadPoolExecutor(
            max_workers=resolver_threads, thread_name_prefix="domaincheck-dns"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TlsChecker:
        return cls(
            ca_file=settings.ca_file,
            connect_to=settings.connect_to,
            timeout_seconds=settings.timeout_seconds,
            public_addresses_only=settings.public_addresses_only,
            resolve=settings.resolve,
            dns=DnsResolver.from_settings(settings) if settings.dns_server else None,
            first_address_only=settings.first_address_only,
            threshold_days=settings.threshold_days,
            lifetime_fraction=settings.lifetime_fraction,
        )

    def close(self) -> None:
        """Stop the resolver threads. Call it once no check is running: lookups still
        queued are dropped, and one already running finishes on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def check(self, target: Target) -> CertInfo:
        """What ``target``'s certificate says; network failures come back in ``error``.

        Never takes longer than ``timeout_seconds``. Cancelling it closes everything
        it opened before the cancellation propagates.
        """
        return (await self.inspect(target)).info

    async def inspect(self, target: Target) -> Handshake:
        """Like :meth:`check`, with the leaf and its issuer when they were read, and
        each address's own handshake in ``endpoints``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_seconds
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await self._addresses(loop, target)
        except TimeoutError:
            return Handshake(_error_info(self._timeout_error(_Phase.RESOLVE, target)))
        except errors.CheckFailed as exc:
            return Handshake(_error_info(exc))
        if self._first_address_only or len(addresses) == 1:
            return (await self._inspect_addresses(loop, target, addresses, deadline))[0]
        handshakes = await asyncio.gather(
            *(self._inspect_addresses(loop, target, [address], deadline) for address in addresses)
        )
        return combine(
            [
                (_address_text(address), hs)
                for address, (hs, _) in zip(addresses, handshakes, strict=True)
            ],
            now=utcnow(),
            threshold_days=self._threshold_days,
            lifetime_fraction=self._lifetime_fraction,
        )

    async def _inspect_addresses(
        self,
        loop: asyncio.AbstractEventLoop,
        target: Target,
        addresses: Sequence[_AddrInfo],
        deadline: float,
    ) -> tuple[Handshake, _AddrInfo | None]:
        """The handshake with the first of ``addresses`` that answers, and its address
        (``None`` when none was connected to); failures come back in the info."""
        progress = _Progress()
        progress.phase = _Phase.CONNECT
        try:
            async with asyncio.timeout_at(deadline):
                return await self._fetch(loop, target, addresses, deadline, progress)
        except TimeoutError as exc:
            failure = self._timeout_error(progress.phase, target)
            failure.__cause__ = exc
        except errors.CheckFailed as exc:
            failure = exc
        address = progress.address
        if progress.verify_error is None:
            return Handshake(_error_info(failure)), address
        # The verifying handshake did happen: keep why it failed.
        info = CertInfo(
            trusted=False,
            verify_error=progress.verify_error,
            verify_problem=trust_problem_of_code(progress.verify_code),
            error=str(failure),
            error_kind=failure.kind,
        )
        return Handshake(info), address

    async def _fetch(
        self,
        loop: asyncio.AbstractEventLoop,
        target: Target,
        addresses: Sequence[_AddrInfo],
        deadline: float,
        progress: _Progress,
    ) -> tuple[Handshake, _AddrInfo]:
        upgrade = _upgrade_of(target)
        sock, address = await self._connect(loop, addresses, deadline, target)
        progress.address = address
        await self._prepare(loop, sock, upgrade, target, progress)
        server_hostname = None if target.is_ip else target.host
        progress.phase = _Phase.HANDSHAKE
        try:
            leaf, chain = await self._handshake(
                loop, sock, self._verifying_context, server_hostname, target, verified=True
            )
        except ssl.SSLCertVerificationError as exc:
            progress.verify_error = exc.verify_message or exc.reason or str(exc)
            progress.verify_code = exc.verify_code
        else:
            return _observed(_cert_info(target, leaf, chain, verified=True), leaf, chain), address
        # Verification failed: connect again without it, to read the certificate and
        # the chain the server sends.
        progress.phase = _Phase.CONNECT
        sock, _ = await self._connect(loop, [address], deadline, target)
        await self._prepare(loop, sock, upgrade, target, progress)
        progress.phase = _Phase.HANDSHAKE
        try:
            leaf, sent = await self._handshake(
                loop, sock, self._reading_context, server_hostname, target, verified=False
            )
        except ssl.SSLCertVerificationError as exc:  # impossible without verification
            raise _translate_os_error(exc, target, _Phase.HANDSHAKE) from exc
        info = _cert_info(
            target,
            leaf,
            sent,
            verified=False,
            verify_error=progress.verify_error,
            verify_code=progress.verify_code,
        )
        return _observed(info, leaf, sent), address

    async def _prepare(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        upgrade: Upgrade | None,
        target: Target,
        progress: _Progress,
    ) -> None:
        """Run the STARTTLS prologue on ``sock`` (closed when it fails)."""
        if upgrade is None:
            return
        progress.phase = _Phase.UPGRADE
        progress.upgrade = upgrade.name
        try:
            await upgrade.prepare(loop, sock, target.host)
        except OSError as exc:
            sock.close()
            raise _translate_os_error(exc, target, _Phase.UPGRADE) from exc
        except BaseException:
            sock.close()
            raise

    async def _addresses(self, loop: asyncio.AbstractEventLoop, target: Target) -> list[_AddrInfo]:
        """The addresses to check: from ``--resolve``, else DNS; filtered and bounded."""
        if target.protocol != DEFAULT_PROTOCOL:
            _upgrade_of(target)  # an unknown protocol fails before any lookup
        host, port = resolve_connect_to(self._connect_to, target.host, target.port)
        # An IP literal is its own address: --resolve rules are for names.
        ip_literal = _ip_address(host) is not None
        fixed = None if ip_literal else resolve_addresses(self._resolve, host, port)
        if fixed is not None:
            addresses = _numeric_infos(fixed, port)
        elif self._dns is not None and not ip_literal:
            addresses = _numeric_infos(await self._dns.addresses(host), port)
        else:
            addresses = await self._resolve_name(loop, host, port)
        operator_rule = fixed is not None or any(
            rule.matches(target.host, target.port) for rule in self._connect_to
        )
        if self._public_addresses_only and not operator_rule:
            addresses = _public_only(addresses, host)
        if self._first_address_only:
            return addresses
        unique = {info[4][:2]: info for info in reversed(addresses)}  # first one wins
        ordered = sorted(unique.values(), key=_address_order)
        return ordered[:MAX_ADDRESSES_PER_NAME]

    async def _resolve_name(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> list[_AddrInfo]:
        infos: Sequence[_AddrInfo]
        try:
            if _ip_address(host) is not None:  # getaddrinfo only parses it: no DNS
                infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            else:
                infos = await loop.run_in_executor(self._pool, _getaddrinfo, host, port)
        except socket.gaierror as exc:
            kind, reason = errors.describe_gaierror(exc)
            raise errors.DnsFailure(f"could not resolve {host} ({reason})", kind=kind) from exc
        except UnicodeError as exc:  # a label too long to encode
            raise errors.DnsFailure(
                f"could not resolve {host} (not a valid name)", kind=errors.ErrorKind.OTHER
            ) from exc
        addresses = [info for info in infos if info[1] == socket.SOCK_STREAM]
        if not addresses:
            raise errors.DnsFailure(
                f"could not resolve {host} (no address for this name)",
                kind=errors.ErrorKind.NO_ADDRESS,
            )
        return addresses

    async def _connect(
        self,
        loop: asyncio.AbstractEventLoop,
        addresses: Sequence[_AddrInfo],
        deadline: float,
        target: Target,
    ) -> tuple[socket.socket, _AddrInfo]:
        """A connected socket to the first address that answers, and that address."""
        failure: OSError | None = None
        for index, address in enumerate(addresses):
            family, kind, proto, _, sockaddr = address
            sock: socket.socket | None = None
            try:
                sock = socket.socket(family, kind, proto)
                sock.setblocking(False)
                addresses_left = len(addresses) - index
                if addresses_left == 1:
                    await loop.sock_connect(sock, sockaddr)
                else:  # a fair share of the time left; the last address gets it all
                    share = (deadline - loop.time()) / addresses_left
                    async with asyncio.timeout(share):
                        await loop.sock_connect(sock, sockaddr)
            except OSError as exc:  # includes the share running out (TimeoutError)
                if sock is not None:
                    sock.close()
                failure = exc
                continue
            except BaseException:
                if sock is not None:
                    sock.close()
                raise
            return sock, address
        assert failure is not None  # resolve never returns an empty list
        raise _translate_os_error(failure, target, _Phase.CONNECT) from failure

    async def _handshake(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        context: ssl.SSLContext,
        server_hostname: str | None,
        target: Target,
        *,
        verified: bool,
    ) -> tuple[bytes, list[bytes] | None]:
        """The leaf (DER) and the chain, as DER; the socket is consumed.

        The chain is the verified one when ``verified``, else the one the server sent.

        Raises:
            ssl.SSLCertVerificationError: for the caller to retry without verification.
        """
        probe = _Probe()
        try:
            transport, _ = await loop.create_connection(
                lambda: probe,
                sock=sock,
                ssl=context,
                # "" = no SNI (IP targets); asyncio insists on a value with sock=.
                server_hostname=server_hostname or "",
                # Our own deadline ends the handshake first; this is a backstop.
                ssl_handshake_timeout=self._timeout_seconds,
            )
        except ssl.SSLCertVerificationError:
            raise
        except OSError as exc:
            raise _translate_os_error(exc, target, _Phase.HANDSHAKE) from exc
        except BaseException:
            probe.abandoned = True
            raise
        try:
            ssl_object = transport.get_extra_info("ssl_object")
            leaf = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            if not ssl_object:
                chain = None
            elif verified:
                chain = verified_chain_der(ssl_object)
            else:
                chain = sent_chain_der(ssl_object)
        finally:
            transport.abort()
        if not leaf:
            raise errors.TlsFailure(f"server sent no certificate on port {target.port}")
        return leaf, chain

    def _timeout_error(self, phase: _Phase, target: Target) -> errors.CheckFailed:
        within = f"{self._timeout_seconds:g}s"
        if phase is _Phase.RESOLVE:
            host, _ = resolve_connect_to(self._connect_to, target.host, target.port)
            return errors.DnsFailure(
                f"could not resolve {host} (no answer within {within})",
                kind=errors.ErrorKind.DNS_TEMPORARY,
            )
        if phase is _Phase.CONNECT:
            return errors.ConnectTimeout(f"no answer to TCP connect within {within}")
        if phase is _Phase.UPGRADE:
            return errors.HandshakeTimeout(
                f"connected, but the server did not finish the STARTTLS exchange within {within}"
            )
        return errors.HandshakeTimeout(
            f"connected, but the TLS handshake did not finish within {within}"
        )


def _error_info(failure: errors.CheckFailed) -> CertInfo:
    return CertInfo(error=str(failure), error_kind=failure.kind)


def _upgrade_of(target: Target) -> Upgrade | None:
    """The STARTTLS step of ``target``'s protocol (``None``: TLS from the first byte).

    Raises:
        errors.CheckFailed: a protocol this version does not know.
    """
    if target.protocol == DEFAULT_PROTOCOL:
        return None
    if target.protocol == MX_PROTOCOL:  # core.mx.expand() turns it into SMTP targets
        raise errors.CheckFailed(
            f"not checked: {target.label} stands for the mail servers of {target.display},"
            " which are looked up before a run",
            kind=errors.ErrorKind.OTHER,
        )
    from core.starttls import scheme  # late: only STARTTLS targets need it

    try:
        return scheme(target.protocol).upgrade
    except (KeyError, ValueError) as exc:
        raise errors.CheckFailed(
            f"unknown protocol {target.protocol!r}", kind=errors.ErrorKind.OTHER
        ) from exc


def _numeric_infos(addresses: Iterable[str], port: int) -> list[_AddrInfo]:
    """``getaddrinfo`` entries for IP addresses (parsed only: no DNS)."""
    infos: list[_AddrInfo] = []
    for address in addresses:
        infos.extend(
            socket.getaddrinfo(address, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        )
    return infos


def _address_text(info: _AddrInfo) -> str:
    return str(info[4][0])


def _address_order(info: _AddrInfo) -> tuple[int, int, int]:
    """IPv4 before IPv6, each in numeric order (then by port)."""
    ip = ipaddress.ip_address(_address_text(info))
    return (ip.version, int(ip), int(info[4][1]))


def _public_only(addresses: Sequence[_AddrInfo], host: str) -> list[_AddrInfo]:
    """The globally routable addresses of ``addresses``; none is an error."""
    public = [info for info in addresses if is_public_address(str(info[4][0]))]
    if not public:
        raise errors.ForbiddenAddress(
            f"not checked: {host} resolves only to private or local addresses"
        )
    return public


def _getaddrinfo(host: str, port: int) -> Sequence[_AddrInfo]:
    # Looked up on the module at call time, so tests can guard it.
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


def _verifying_context(ca_file: Path | None) -> ssl.SSLContext:
    """System trust store (certifi when the platform has none) plus ``ca_file``."""
    context = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if not context.cert_store_stats()["x509_ca"] and not (paths.cafile or paths.capath):
        # A frozen app whose OpenSSL points at the build machine's folders.
        context.load_verify_locations(cafile=certifi.where())
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise errors.UsageError(
                f"CA file {ca_file} holds no usable PEM certificate ({exc.strerror or exc})"
            ) from exc
    context.check_hostname = False  # matched by hostname_matches, on the same handshake
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _reading_context() -> ssl.SSLContext:
    """Accepts any certificate: used only to read one that failed verification."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _translate_os_error(exc: OSError, target: Target, phase: _Phase) -> errors.CheckFailed:
    """The one place where socket and TLS errors become :mod:`core.errors`."""
    port = target.port
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
            return errors.ConnectionReset(
                "the server closed the connection during the TLS handshake"
            )
        if reason in _NOT_TLS_REASONS:
            readable = reason.replace("_", " ").lower()
            return errors.TlsFailure(f"server does not speak TLS on port {port} ({readable})")
        readable = _TLS_REASON_TEXT.get(reason) or reason.replace("_", " ").lower()
        return errors.TlsFailure(
            f"TLS handshake failed on port {port} ({readable or 'protocol error'})"
        )
    if isinstance(exc, ConnectionRefusedError):
        return errors.ConnectionRefused(f"connection refused on port {port}")
    if isinstance(exc, ConnectionError):  # reset, aborted, broken pipe
        if phase is _Phase.HANDSHAKE:
            return errors.ConnectionReset("connection reset by the server during the TLS handshake")
        if phase is _Phase.UPGRADE:
            return errors.ConnectionReset(
                "connection reset by the server during the STARTTLS exchange"
            )
        return errors.ConnectionReset(f"connection reset while connecting to port {port}")
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return errors.ConnectTimeout(f"no answer to TCP connect on port {port}")
    if exc.errno in _UNREACHABLE_ERRNOS:
        return errors.NetworkUnreachable(f"network unreachable: no route to {target.host}")
    kind, reason = errors.describe_os_error(exc)  # words, never "[Errno 99]"
    return errors.CheckFailed(f"could not connect to port {port} ({reason})", kind=kind)


def _observed(info: CertInfo, leaf_der: bytes, chain: list[bytes] | None) -> Handshake:
    """``info`` with the leaf (already known to parse) and the CA that issued it."""
    leaf = x509.load_der_x509_certificate(leaf_der)
    path = issuance_path(leaf, chain or [leaf_der])
    return Handshake(info, leaf, path[0] if path else None)


def _cert_info(
    target: Target,
    leaf_der: bytes,
    chain: list[bytes] | None,
    *,
    verified: bool,
    verify_error: str | None = None,
    verify_code: int | None = None,
) -> CertInfo:
    """What the handshake showed. ``chain`` is the verified chain when ``verified``,
    else the one the server sent."""
    try:
        cert = x509.load_der_x509_certificate(leaf_der)
    except ValueError as exc:
        raise errors.TlsFailure(f"the server's certificate could not be read ({exc})") from exc
    dns_names, ip_addresses = _alt_names(cert)
    not_after = cert.not_valid_after_utc
    if verified:
        # The trust anchor came from the trust store: its dates count too.
        cas = [ca for der in chain or () if der != leaf_der and (ca := ca_certificate(der))]
        problem = None
    else:
        # A root the server sends is never what a client trusts: only the path up.
        path = issuance_path(cert, chain or [leaf_der])
        cas = [ca for ca in path if not self_signed(ca)]
        problem = trust_problem(verify_code, cert, path)
    chain_earliest: datetime | None = None
    earliest_ca: x509.Certificate | None = None
    if chain:
        chain_earliest = not_after
        for ca in cas:
            if ca.not_valid_after_utc < chain_earliest:
                chain_earliest, earliest_ca = ca.not_valid_after_utc, ca
    return CertInfo(
        not_after=not_after,
        not_before=cert.not_valid_before_utc,
        subject=_subject_text(cert, dns_names),
        issuer=_issuer_text(cert.issuer),
        sans=(*dns_names, *(str(ip) for ip in ip_addresses)),
        fingerprint_sha256=hashlib.sha256(leaf_der).digest().hex(":").upper(),
        trusted=verified,
        hostname_match=hostname_matches(target.host, dns_names, ip_addresses),
        verify_error=verify_error,
        chain_earliest_not_after=chain_earliest,
        verify_problem=problem,
        chain_earliest_subject=_ca_name(earliest_ca) if earliest_ca else None,
        chain_earliest_role=(
            None
            if earliest_ca is None
            else ChainRole.ROOT
            if self_signed(earliest_ca)
            else ChainRole.INTERMEDIATE
        ),
    )


def _ca_name(cert: x509.Certificate) -> str:
    """A CA certificate's common name (else its whole subject) for people."""
    return _attribute(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()


def _alt_names(cert: x509.Certificate) -> tuple[list[str], list[IPAddress]]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return [], []
    names = extension.value
    ip_addresses = [
        ip
        for ip in names.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return names.get_values_for_type(x509.DNSName), ip_addresses


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    for attribute in name.get_attributes_for_oid(oid):
        value = attribute.value
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if text.strip():
            return text.strip()
    return None


def _subject_text(cert: x509.Certificate, dns_names: Sequence[str]) -> str | None:
    common_name = _attribute(cert.subject, NameOID.COMMON_NAME)
    if common_name:
        return common_name
    if dns_names:
        return dns_names[0]
    return cert.subject.rfc4514_string() or None


def _issuer_text(issuer: x509.Name) -> str | None:
    organization = _attribute(issuer, NameOID.ORGANIZATION_NAME)
    common_name = _attribute(issuer, NameOID.COMMON_NAME)
    if organization and common_name:
        first_word = organization.split()[0].lower()
        if first_word in common_name.lower():
            return common_name
        return f"{organization} {common_name}"
    return common_name or organization or issuer.rfc4514_string() or None


def hostname_matches(
    host: str, dns_names: Iterable[str], ip_addresses: Iterable[IPAddress] = ()
) -> bool:
    """Whether a certificate's subjectAltNames cover ``host`` (RFC 6125, as browsers do).

    ``host`` is an A-label or an IP literal. IP hosts match IP addresses only, names
    match DNS names only, case-insensitively. A wildcard counts only as the whole
    left-most label of a name with at least two more labels (``*.example.com``), and
    stands for exactly one label. The subject's common name is not consulted.
    """
    ip = _ip_address(host)
    if ip is None:
        name = host.lower().rstrip(".")
        return any(_dns_name_matches(name, pattern) for pattern in dns_names)
    return any(ip == candidate for candidate in ip_addresses)


def _ip_address(host: str) -> IPAddress | None:
    """``host`` as an IP address, or ``None`` for a name (cheaply: no top-level
    domain is all digits, so only IPv6 and dotted-digit hosts are parsed)."""
    if ":" not in host and not host.rpartition(".")[2].isdigit():
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _dns_name_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if not pattern or not pattern.isascii():
        return False
    if pattern == host:
        return "*" not in pattern
    if not pattern.startswith("*."):
        return False
    suffix = pattern[1:]  # ".example.com"
    if "*" in suffix or suffix.count(".") < 2:
        return False
    label, dot, rest = host.partition(".")
    return bool(label and dot) and f".{rest}" == suffix
