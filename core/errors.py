"""Domain Check's one error tree, and the one table of low-level reasons.

Low-level failures (``OSError``, ``ssl.SSLError``, ``socket.gaierror``, httpx errors)
are translated into these classes once, at the edge where they happen
(:mod:`core.tls`, :mod:`core.rdap`, :mod:`core.domains`, :mod:`core.api`), with
``raise ... from exc``. Callers (CLI, desktop, backend) only ever see this tree,
and every instance carries a sentence a person can read: ``str(exc)``, never an
errno number or a C library's wording. :func:`describe_gaierror` and
:func:`describe_os_error` are that translation for socket errors, so the TLS
check and the RDAP client word the same failure the same way.

Every :class:`CheckFailed` and :class:`RdapError` also carries a machine-readable
:class:`ErrorKind` (``exc.kind``), which travels with the result
(``CertInfo.error_kind``, ``Registration.error_kind``): front ends use it to tell
"the machine is offline" (:attr:`ErrorKind.network_level` for every result) from
"this domain is broken".

    DomainCheckError
     ├── UsageError                 bad option or configuration value (CLI exit 64)
     ├── InputFileError             missing, unreadable or binary list file (CLI exit 64)
     ├── CheckFailed                one host could not be checked
     │    ├── DnsFailure            the name does not resolve
     │    ├── ConnectionRefused     nothing listens on the port
     │    ├── ConnectionReset       the peer reset / closed the connection
     │    ├── ConnectTimeout        TCP connect did not finish in time
     │    ├── HandshakeTimeout      connected, but the TLS handshake never finished
     │    ├── CheckTimeout          the whole check ran over ``--timeout``
     │    ├── NetworkUnreachable    no route to the host
     │    ├── ForbiddenAddress      only private/local addresses, and those are refused
     │    ├── StartTlsFailure       no STARTTLS offered, or not the protocol asked for
     │    └── TlsFailure            TLS protocol error unrelated to verification
     ├── RdapError                  registration data could not be had
     │    ├── RegistrationUnknown   no RDAP service / 404: not a failure of the check
     │    ├── RdapRateLimited       429 after the bounded retries
     │    └── RdapServerError       5xx, bad JSON, network failure talking to RDAP
     └── BackendError               our notification backend (see core.api)
"""

from __future__ import annotations

import enum
import errno
import socket


class ErrorKind(enum.Enum):
    """What kind of failure stopped a check; stored with the result (by value)."""

    #: The DNS answered that the name does not exist (EAI_NONAME).
    NO_SUCH_DOMAIN = "no_such_domain"
    #: The name exists but has no address (EAI_NODATA, or no stream address).
    NO_ADDRESS = "no_address"
    #: The lookup failed for now: no DNS server answered (EAI_AGAIN, or our timeout).
    DNS_TEMPORARY = "dns_temporary"
    #: The DNS server reported a failure (EAI_FAIL) or the lookup failed otherwise.
    DNS_FAILURE = "dns_failure"
    #: No route to the host or network (ENETUNREACH, EHOSTUNREACH, ENETDOWN, ...).
    NO_ROUTE = "no_route"
    #: Nothing listens on the port.
    REFUSED = "refused"
    #: The peer reset or closed the connection.
    RESET = "reset"
    #: Something did not answer in time (connect, handshake, whole check, HTTP).
    TIMEOUT = "timeout"
    #: A TLS protocol failure, or the server does not speak TLS.
    TLS = "tls"
    #: The plaintext prologue before TLS failed: the server refuses STARTTLS (or its
    #: dialect's upgrade) or speaks something else than the protocol asked for.
    PROTOCOL = "protocol"
    #: Only private or local addresses, which this front end refuses.
    FORBIDDEN_ADDRESS = "forbidden_address"
    #: A server answered, but not usefully (HTTP 5xx, bad JSON, rate limited).
    SERVER = "server"
    #: The registry publishes no data: not a failure of the check.
    NOT_PUBLISHED = "not_published"
    #: Anything else (including failures this version cannot classify).
    OTHER = "other"

    @property
    def network_level(self) -> bool:
        """Failed before any server was reached: the name lookup or the route.

        One such failure says little (a typo in a name is one too); every check
        of a run failing this way says the machine is offline.
        """
        return self in _NETWORK_LEVEL

    @classmethod
    def parse(cls, value: object) -> ErrorKind | None:
        """The kind stored as ``value`` (``None`` for nothing or a value unknown here)."""
        try:
            return cls(value) if value is not None else None
        except ValueError:
            return cls.OTHER


_NETWORK_LEVEL = frozenset(
    {
        ErrorKind.NO_SUCH_DOMAIN,
        ErrorKind.DNS_TEMPORARY,
        ErrorKind.DNS_FAILURE,
        ErrorKind.NO_ROUTE,
    }
)


class DomainCheckError(Exception):
    """Base of every error Domain Check raises on purpose.

    ``kind`` is the class's :class:`ErrorKind` unless the raiser knows better
    (``DnsFailure("...", kind=ErrorKind.DNS_TEMPORARY)``).
    """

    kind: ErrorKind = ErrorKind.OTHER

    def __init__(self, *args: object, kind: ErrorKind | None = None) -> None:
        super().__init__(*args)
        if kind is not None:
            self.kind = kind


class UsageError(DomainCheckError):
    """A command-line option or ``DOMAINCHECK_*`` variable has a bad value."""


class InputFileError(DomainCheckError):
    """A domain-list file is missing, unreadable, a directory, or binary."""


class CheckFailed(DomainCheckError):
    """One host could not be checked; ``str()`` is the message shown to people."""


class DnsFailure(CheckFailed):
    kind = ErrorKind.DNS_FAILURE


class ConnectionRefused(CheckFailed):
    kind = ErrorKind.REFUSED


class ConnectionReset(CheckFailed):
    kind = ErrorKind.RESET


class ConnectTimeout(CheckFailed):
    kind = ErrorKind.TIMEOUT


class HandshakeTimeout(CheckFailed):
    kind = ErrorKind.TIMEOUT


class CheckTimeout(CheckFailed):
    kind = ErrorKind.TIMEOUT


class NetworkUnreachable(CheckFailed):
    kind = ErrorKind.NO_ROUTE


class TlsFailure(CheckFailed):
    kind = ErrorKind.TLS


class StartTlsFailure(CheckFailed):
    """The server did not let the upgrade to TLS happen (see :mod:`core.starttls`):
    it refuses STARTTLS, answers something that is not its protocol, or hangs up
    during the plaintext prologue (then ``kind`` is :attr:`ErrorKind.RESET`)."""

    kind = ErrorKind.PROTOCOL


class ForbiddenAddress(CheckFailed):
    """The name resolves only to private or local addresses, which this front end
    refuses (the backend must not probe its own network for strangers)."""

    kind = ErrorKind.FORBIDDEN_ADDRESS


class RdapError(DomainCheckError):
    """Registration data could not be fetched."""


class RegistrationUnknown(RdapError):
    """The registry publishes no RDAP data for this name (404, TLD without RDAP, IP)."""

    kind = ErrorKind.NOT_PUBLISHED


class RdapRateLimited(RdapError):
    kind = ErrorKind.SERVER


class RdapServerError(RdapError):
    kind = ErrorKind.SERVER


class BackendError(DomainCheckError):
    """Talking to the Domain Check backend failed (subclasses live in core.api)."""


# --------------------------------------------------------------- socket errors in words

_GAI_REASONS: dict[int, tuple[ErrorKind, str]] = {
    socket.EAI_NONAME: (ErrorKind.NO_SUCH_DOMAIN, "no such domain"),
    socket.EAI_AGAIN: (ErrorKind.DNS_TEMPORARY, "DNS lookup failed, temporarily"),
    socket.EAI_FAIL: (ErrorKind.DNS_FAILURE, "the DNS server failed"),
}
if hasattr(socket, "EAI_NODATA"):  # glibc: the name exists but has no address
    _GAI_REASONS[socket.EAI_NODATA] = (ErrorKind.NO_ADDRESS, "no address for this name")
if hasattr(socket, "EAI_ADDRFAMILY"):
    _GAI_REASONS[socket.EAI_ADDRFAMILY] = (ErrorKind.NO_ADDRESS, "no address for this name")

_OS_REASONS: dict[int, tuple[ErrorKind, str]] = {
    errno.ENETUNREACH: (ErrorKind.NO_ROUTE, "no route to the network"),
    errno.EHOSTUNREACH: (ErrorKind.NO_ROUTE, "no route to the host"),
    errno.ENETDOWN: (ErrorKind.NO_ROUTE, "the network is down"),
    errno.EHOSTDOWN: (ErrorKind.NO_ROUTE, "the host is down"),
    errno.ECONNREFUSED: (ErrorKind.REFUSED, "connection refused"),
    errno.ECONNRESET: (ErrorKind.RESET, "connection reset"),
    errno.ECONNABORTED: (ErrorKind.RESET, "connection aborted"),
    errno.EPIPE: (ErrorKind.RESET, "connection closed"),
    errno.ETIMEDOUT: (ErrorKind.TIMEOUT, "no answer in time"),
    errno.EADDRNOTAVAIL: (ErrorKind.NO_ROUTE, "no usable local address for this destination"),
    errno.EACCES: (ErrorKind.OTHER, "the connection was not permitted (a firewall?)"),
    errno.EPERM: (ErrorKind.OTHER, "the connection was not permitted (a firewall?)"),
    errno.EMFILE: (ErrorKind.OTHER, "too many open files"),
    errno.ENFILE: (ErrorKind.OTHER, "too many open files"),
    errno.ENOBUFS: (ErrorKind.OTHER, "out of network buffers"),
}


def describe_gaierror(exc: socket.gaierror) -> tuple[ErrorKind, str]:
    """What a failed name lookup means, e.g. ``(NO_SUCH_DOMAIN, "no such domain")``.

    ``EAI_SYSTEM`` carries no errno of its own; it and codes unknown here are a
    plain "DNS lookup failed".
    """
    return _GAI_REASONS.get(exc.errno or 0) or (ErrorKind.DNS_FAILURE, "DNS lookup failed")


def describe_os_error(exc: OSError) -> tuple[ErrorKind, str]:
    """What a socket-level failure means, in words without an errno number."""
    if isinstance(exc, socket.gaierror):
        return describe_gaierror(exc)
    if isinstance(exc, TimeoutError):
        return ErrorKind.TIMEOUT, "no answer in time"
    known = _OS_REASONS.get(exc.errno or 0)
    if known is not None:
        return known
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.REFUSED, "connection refused"
    if isinstance(exc, ConnectionError):
        return ErrorKind.RESET, "connection reset"
    text = exc.strerror if isinstance(exc.strerror, str) and exc.strerror else ""
    if not text and exc.errno is None and exc.args and isinstance(exc.args[0], str):
        text = exc.args[0]  # a library's own sentence, e.g. "All connection attempts failed"
    if not text or "[Errno" in text:
        return ErrorKind.OTHER, "network error"
    return ErrorKind.OTHER, text[:1].lower() + text[1:]


def network_cause(exc: BaseException) -> tuple[ErrorKind, str] | None:
    """The first socket error behind ``exc`` (following ``__cause__``/``__context__``),
    described; ``None`` when there is none.

    HTTP clients wrap the ``OSError`` that really happened (httpx: ``ConnectError``
    from ``httpcore.ConnectError`` from ``socket.gaierror``) and their own text quotes
    its ``[Errno -2]``: this finds the original, so the words can be ours.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    fallback: OSError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            if isinstance(current, socket.gaierror) or current.errno is not None:
                return describe_os_error(current)
            fallback = fallback or current
        current = current.__cause__ or current.__context__
    return describe_os_error(fallback) if fallback is not None else None
