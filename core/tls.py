"""Read a host's TLS certificate: trust, names and dates from one handshake.

    checker = TlsChecker.from_settings(settings)
    try:
        info = await checker.check(Target("example.com"))   # a CertInfo, never raises
    finally:
        checker.close()

How one check runs, all inside one deadline of ``timeout_seconds``:

1. The TCP destination comes from the connect-to rules (SNI and name checks keep the
   original name). Names are resolved on a private thread pool, so a thousand lookups
   are not queued behind asyncio's small default executor; IP literals skip DNS.
2. The resolved addresses are tried in order. When more than one is left, each
   attempt gets a fair share of the time remaining, so one black-holed address cannot
   use up the whole budget.
3. The handshake uses a verifying context with ``check_hostname`` off: OpenSSL
   verifies the chain, and the names are matched here against the leaf's
   subjectAltNames (:func:`hostname_matches`), so one handshake answers both
   "trusted?" and "right name?". Only when verification fails is a second,
   non-verifying handshake made, to still read the dates of an expired, self-signed
   or untrusted certificate.
4. The connection is aborted as soon as the certificate is read: nothing waits for a
   slow server's close_notify.

Every network failure becomes one class of :mod:`core.errors` with a sentence a
person can read, and :meth:`TlsChecker.check` returns it as ``CertInfo(error=...)``.

How names are shown: the subject is its common name (else the first subjectAltName);
the issuer is its organisation followed by its common name, "Let's Encrypt R11",
unless the common name already names the organisation ("Sectigo RSA Domain
Validation Secure Server CA"), in which case it is the common name alone.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import functools
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import certifi
from cryptography import x509
from cryptography.x509.oid import NameOID

from core import errors
from core.config import DEFAULT_TIMEOUT_SECONDS, ConnectRule, Settings, resolve_connect_to
from core.models import CertInfo, Target

__all__ = ["TlsChecker", "hostname_matches", "verified_chain_der"]

DEFAULT_RESOLVER_THREADS = 32
#: ``ssl.ENCODING_DER`` is only re-exported by ``ssl`` from Python 3.13.
_ENCODING_DER = 2
_CHAIN_CACHE_SIZE = 1024

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
_DNS_REASONS = {
    socket.EAI_NONAME: "no such domain",
    socket.EAI_AGAIN: "temporary DNS failure",
    socket.EAI_FAIL: "DNS server failure",
}
if hasattr(socket, "EAI_NODATA"):  # glibc: the name exists but has no address
    _DNS_REASONS[socket.EAI_NODATA] = "no address for this name"


class _Phase(enum.Enum):
    """What a check was doing, to say what ran out of time."""

    #: Looking up the destination's addresses.
    RESOLVE = enum.auto()
    #: Opening the TCP connection.
    CONNECT = enum.auto()
    #: TLS handshake (verifying, or the second, reading-only one).
    HANDSHAKE = enum.auto()


class _Progress:
    """What one check has learned so far, kept for the error it may end with."""

    __slots__ = ("phase", "verify_error")

    def __init__(self) -> None:
        self.phase = _Phase.RESOLVE
        self.verify_error: str | None = None


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
    ) -> None:
        self._public_addresses_only = public_addresses_only
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
        progress = _Progress()
        try:
            return await self._check(target, progress)
        except errors.CheckFailed as exc:
            if progress.verify_error is None:
                return CertInfo(error=str(exc))
            # The verifying handshake did happen: keep why it failed.
            return CertInfo(trusted=False, verify_error=progress.verify_error, error=str(exc))

    async def _check(self, target: Target, progress: _Progress) -> CertInfo:
        """Like :meth:`check`, but raises :class:`errors.CheckFailed`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_seconds
        try:
            async with asyncio.timeout_at(deadline):
                return await self._fetch(loop, target, deadline, progress)
        except TimeoutError as exc:
            raise self._timeout_error(progress.phase, target) from exc

    async def _fetch(
        self,
        loop: asyncio.AbstractEventLoop,
        target: Target,
        deadline: float,
        progress: _Progress,
    ) -> CertInfo:
        host, port = resolve_connect_to(self._connect_to, target.host, target.port)
        addresses = await self._resolve(loop, host, port)
        if self._public_addresses_only and not any(
            rule.matches(target.host, target.port) for rule in self._connect_to
        ):
            addresses = _public_only(addresses, host)
        progress.phase = _Phase.CONNECT
        sock, address = await self._connect(loop, addresses, deadline, target)
        server_hostname = None if target.is_ip else target.host
        progress.phase = _Phase.HANDSHAKE
        try:
            leaf, chain = await self._handshake(
                loop, sock, self._verifying_context, server_hostname, target, verified=True
            )
        except ssl.SSLCertVerificationError as exc:
            progress.verify_error = exc.verify_message or exc.reason or str(exc)
        else:
            return _cert_info(target, leaf, chain, trusted=True, verify_error=None)
        # Verification failed: connect again without it, to read the certificate.
        progress.phase = _Phase.CONNECT
        sock, _ = await self._connect(loop, [address], deadline, target)
        progress.phase = _Phase.HANDSHAKE
        try:
            leaf, _ = await self._handshake(
                loop, sock, self._reading_context, server_hostname, target, verified=False
            )
        except ssl.SSLCertVerificationError as exc:  # impossible without verification
            raise _translate_os_error(exc, target, _Phase.HANDSHAKE) from exc
        return _cert_info(target, leaf, None, trusted=False, verify_error=progress.verify_error)

    async def _resolve(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> list[_AddrInfo]:
        infos: Sequence[_AddrInfo]
        try:
            if _ip_address(host) is not None:  # getaddrinfo only parses it: no DNS
                infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            else:
                infos = await loop.run_in_executor(self._pool, _getaddrinfo, host, port)
        except socket.gaierror as exc:
            reason = _DNS_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
            raise errors.DnsFailure(f"could not resolve {host} ({reason})") from exc
        except UnicodeError as exc:  # a label too long to encode
            raise errors.DnsFailure(f"could not resolve {host} (not a valid name)") from exc
        addresses = [info for info in infos if info[1] == socket.SOCK_STREAM]
        if not addresses:
            raise errors.DnsFailure(f"could not resolve {host} (no address for this name)")
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
        """The leaf (DER) and, when ``verified``, the verified chain; the socket is consumed.

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
            chain = verified_chain_der(ssl_object) if verified and ssl_object else None
        finally:
            transport.abort()
        if not leaf:
            raise errors.TlsFailure(f"server sent no certificate on port {target.port}")
        return leaf, chain

    def _timeout_error(self, phase: _Phase, target: Target) -> errors.CheckFailed:
        within = f"{self._timeout_seconds:g}s"
        if phase is _Phase.RESOLVE:
            host, _ = resolve_connect_to(self._connect_to, target.host, target.port)
            return errors.DnsFailure(f"could not resolve {host} (no answer within {within})")
        if phase is _Phase.CONNECT:
            return errors.ConnectTimeout(f"no answer to TCP connect within {within}")
        return errors.HandshakeTimeout(
            f"connected, but the TLS handshake did not finish within {within}"
        )


def _public_only(addresses: Sequence[_AddrInfo], host: str) -> list[_AddrInfo]:
    """The globally routable addresses of ``addresses``; none is an error."""
    public = [info for info in addresses if ipaddress.ip_address(info[4][0]).is_global]
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
            f"TLS handshake failed on port {port} ({readable or exc.strerror or exc})"
        )
    if isinstance(exc, ConnectionRefusedError):
        return errors.ConnectionRefused(f"connection refused on port {port}")
    if isinstance(exc, ConnectionError):  # reset, aborted, broken pipe
        if phase is _Phase.HANDSHAKE:
            return errors.ConnectionReset("connection reset by the server during the TLS handshake")
        return errors.ConnectionReset(f"connection reset while connecting to port {port}")
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return errors.ConnectTimeout(f"no answer to TCP connect on port {port}")
    if exc.errno in _UNREACHABLE_ERRNOS:
        return errors.NetworkUnreachable(f"network unreachable: no route to {target.host}")
    return errors.CheckFailed(f"could not connect to port {port} ({exc.strerror or exc})")


def verified_chain_der(ssl_object: ssl.SSLObject) -> list[bytes] | None:
    """The verified chain, leaf first and trust anchor last, as DER; ``None`` if unknown.

    Public ``SSLObject.get_verified_chain()`` exists from Python 3.13; before that the
    same list is on the private ``_sslobj``. If neither is there, the chain is unknown.
    """
    getter = getattr(ssl_object, "get_verified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
    if getter is None:
        return None
    try:
        chain = getter()
        return [
            item if isinstance(item, bytes) else item.public_bytes(_ENCODING_DER)
            for item in chain or ()
        ] or None
    except (AttributeError, TypeError, ValueError, ssl.SSLError):
        return None


@functools.lru_cache(maxsize=_CHAIN_CACHE_SIZE)
def _ca_not_after(der: bytes) -> datetime | None:
    # Intermediates and roots repeat across hosts: parse each one once.
    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        return None


def _cert_info(
    target: Target,
    leaf_der: bytes,
    chain: list[bytes] | None,
    *,
    trusted: bool,
    verify_error: str | None,
) -> CertInfo:
    try:
        cert = x509.load_der_x509_certificate(leaf_der)
    except ValueError as exc:
        raise errors.TlsFailure(f"the server's certificate could not be read ({exc})") from exc
    dns_names, ip_addresses = _alt_names(cert)
    not_after = cert.not_valid_after_utc
    chain_earliest: datetime | None = None
    if chain:
        chain_earliest = not_after
        for der in chain:
            if der != leaf_der and (ca_not_after := _ca_not_after(der)) is not None:
                chain_earliest = min(chain_earliest, ca_not_after)
    return CertInfo(
        not_after=not_after,
        not_before=cert.not_valid_before_utc,
        subject=_subject_text(cert, dns_names),
        issuer=_issuer_text(cert.issuer),
        sans=(*dns_names, *(str(ip) for ip in ip_addresses)),
        fingerprint_sha256=hashlib.sha256(leaf_der).digest().hex(":").upper(),
        trusted=trusted,
        hostname_match=hostname_matches(target.host, dns_names, ip_addresses),
        verify_error=verify_error,
        chain_earliest_not_after=chain_earliest,
    )


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
