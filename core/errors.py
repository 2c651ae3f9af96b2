"""Domain Check's one error tree.

Low-level failures (``OSError``, ``ssl.SSLError``, ``socket.gaierror``, httpx errors)
are translated into these classes once, at the edge where they happen
(:mod:`core.tls`, :mod:`core.rdap`, :mod:`core.domains`, :mod:`core.api`), with
``raise ... from exc``. Callers (CLI, desktop, backend) only ever see this tree,
and every instance carries a sentence a person can read: ``str(exc)``.

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
     │    └── TlsFailure            TLS protocol error unrelated to verification
     ├── RdapError                  registration data could not be had
     │    ├── RegistrationUnknown   no RDAP service / 404: not a failure of the check
     │    ├── RdapRateLimited       429 after the bounded retries
     │    └── RdapServerError       5xx, bad JSON, network failure talking to RDAP
     └── BackendError               our notification backend (see core.api)
"""

from __future__ import annotations


class DomainCheckError(Exception):
    """Base of every error Domain Check raises on purpose."""


class UsageError(DomainCheckError):
    """A command-line option or ``DOMAINCHECK_*`` variable has a bad value."""


class InputFileError(DomainCheckError):
    """A domain-list file is missing, unreadable, a directory, or binary."""


class CheckFailed(DomainCheckError):
    """One host could not be checked; ``str()`` is the message shown to people."""


class DnsFailure(CheckFailed):
    pass


class ConnectionRefused(CheckFailed):
    pass


class ConnectionReset(CheckFailed):
    pass


class ConnectTimeout(CheckFailed):
    pass


class HandshakeTimeout(CheckFailed):
    pass


class CheckTimeout(CheckFailed):
    pass


class NetworkUnreachable(CheckFailed):
    pass


class TlsFailure(CheckFailed):
    pass


class ForbiddenAddress(CheckFailed):
    """The name resolves only to private or local addresses, which this front end
    refuses (the backend must not probe its own network for strangers)."""


class RdapError(DomainCheckError):
    """Registration data could not be fetched."""


class RegistrationUnknown(RdapError):
    """The registry publishes no RDAP data for this name (404, TLD without RDAP, IP)."""


class RdapRateLimited(RdapError):
    pass


class RdapServerError(RdapError):
    pass


class BackendError(DomainCheckError):
    """Talking to the Domain Check backend failed (subclasses live in core.api)."""
