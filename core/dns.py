"""DNS lookups through a real resolver library: a name's addresses and a domain's MX.

The system resolver (``getaddrinfo``) cannot ask for MX records and cannot be told
which server to ask. dnspython can, so it answers every MX lookup, and every A/AAAA
lookup when ``DOMAINCHECK_DNS_SERVER`` names a server (split DNS, or the loopback
DNS server of the tests): then no query of any front end goes anywhere else.
Without a server, A/AAAA lookups stay with the system resolver (:mod:`core.tls`),
which also knows ``/etc/hosts``.

Every failure becomes a :class:`core.errors.DnsFailure` with a sentence a person can
read and the :class:`core.errors.ErrorKind` that matches it.

    resolver = DnsResolver(server=("127.0.0.1", 5353), timeout_seconds=2)
    await resolver.addresses("example.com")   # ["192.0.2.10", "2001:db8::10"]
    await resolver.mail_servers("example.com")  # MailServers(hosts=("mx1.example.com",))
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from core import errors
from core.config import DEFAULT_TIMEOUT_SECONDS, Settings

__all__ = ["DnsResolver", "MailServers", "settings_resolver"]


@dataclasses.dataclass(frozen=True, slots=True)
class MailServers:
    """A domain's MX answer: the hosts by preference, or why there are none."""

    #: MX host names (A-labels, lower case, no trailing dot), most preferred first;
    #: a host named twice is kept once.
    hosts: tuple[str, ...] = ()
    #: The domain publishes a null MX (RFC 7505, ``0 .``): it accepts no mail.
    null: bool = False


class DnsResolver:
    """Asks one DNS server (or the system's configured ones) through dnspython.

    One instance serves any number of concurrent lookups from any event loop.
    """

    def __init__(
        self,
        server: tuple[str, int] | None = None,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.server = server
        self._timeout_seconds = timeout_seconds
        self._resolver: dns.asyncresolver.Resolver | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DnsResolver:
        return cls(settings.dns_server, timeout_seconds=settings.timeout_seconds)

    def _get_resolver(self) -> dns.asyncresolver.Resolver:
        """Built on first use: reading the system's configuration touches the disk."""
        if self._resolver is None:
            if self.server is None:
                try:
                    resolver = dns.asyncresolver.Resolver()
                except dns.resolver.NoResolverConfiguration as exc:
                    raise errors.DnsFailure(
                        "no DNS server is configured on this system",
                        kind=errors.ErrorKind.DNS_FAILURE,
                    ) from exc
            else:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [self.server[0]]
                resolver.port = self.server[1]
            resolver.lifetime = self._timeout_seconds
            resolver.timeout = self._timeout_seconds
            self._resolver = resolver
        return self._resolver

    async def addresses(self, host: str) -> list[str]:
        """Every A and AAAA address of ``host``, in address order (IPv4 first).

        Raises:
            errors.DnsFailure: the name does not exist, has no address, or no answer.
        """
        results = await asyncio.gather(
            self._query(host, dns.rdatatype.A),
            self._query(host, dns.rdatatype.AAAA),
            return_exceptions=True,
        )
        found: list[str] = []
        failure: BaseException | None = None
        for result in results:
            if isinstance(result, BaseException):
                failure = failure or result
                continue
            for rdata in result:
                address = ipaddress.ip_address(rdata.address).compressed
                if address not in found:
                    found.append(address)
        if found:
            return sorted(found, key=lambda text: _order(ipaddress.ip_address(text)))
        if failure is not None and not isinstance(failure, dns.resolver.NoAnswer):
            raise self._translate(failure, host) from failure
        raise errors.DnsFailure(
            f"could not resolve {host} (no address for this name)",
            kind=errors.ErrorKind.NO_ADDRESS,
        )

    async def mail_servers(self, domain: str) -> MailServers:
        """The MX hosts of ``domain`` (no MX record: ``hosts`` is empty).

        Raises:
            errors.DnsFailure: the domain does not exist, or no answer.
        """
        try:
            answer = await self._query(domain, dns.rdatatype.MX)
        except dns.resolver.NoAnswer:
            return MailServers()
        except Exception as exc:
            raise self._translate(exc, domain, what="the mail servers of") from exc
        records = sorted(answer, key=lambda rdata: (rdata.preference, str(rdata.exchange)))
        if any(rdata.exchange == dns.name.root for rdata in records):
            return MailServers(null=True)
        hosts: list[str] = []
        for rdata in records:
            name = rdata.exchange.to_text(omit_final_dot=True).lower()
            if name not in hosts:
                hosts.append(name)
        return MailServers(hosts=tuple(hosts))

    async def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> dns.resolver.Answer:
        return await self._get_resolver().resolve(name, rdtype, search=False)

    def _translate(self, exc: BaseException, host: str, *, what: str = "") -> errors.DnsFailure:
        """The one place where dnspython's exceptions become :mod:`core.errors`."""
        subject = f"{what} {host}" if what else host
        if isinstance(exc, errors.DnsFailure):
            return exc
        if isinstance(exc, dns.resolver.NXDOMAIN):
            return errors.DnsFailure(
                f"could not resolve {subject} (no such domain)",
                kind=errors.ErrorKind.NO_SUCH_DOMAIN,
            )
        if isinstance(exc, dns.resolver.NoAnswer):
            return errors.DnsFailure(
                f"could not resolve {subject} (no address for this name)",
                kind=errors.ErrorKind.NO_ADDRESS,
            )
        if isinstance(exc, dns.exception.Timeout | dns.resolver.LifetimeTimeout):
            within = f"{self._timeout_seconds:g}s"
            return errors.DnsFailure(
                f"could not resolve {subject} (no answer from the DNS server within {within})",
                kind=errors.ErrorKind.DNS_TEMPORARY,
            )
        if isinstance(exc, dns.resolver.NoNameservers):
            return errors.DnsFailure(
                f"could not resolve {subject} (the DNS server reported a failure)",
                kind=errors.ErrorKind.DNS_FAILURE,
            )
        if isinstance(exc, dns.name.NameTooLong | dns.name.LabelTooLong | dns.name.EmptyLabel):
            return errors.DnsFailure(
                f"could not resolve {subject} (not a valid name)", kind=errors.ErrorKind.OTHER
            )
        if isinstance(exc, OSError):
            reason = exc.strerror or type(exc).__name__
            return errors.DnsFailure(
                f"could not resolve {subject} (DNS server unreachable: {reason})",
                kind=errors.ErrorKind.DNS_TEMPORARY,
            )
        return errors.DnsFailure(
            f"could not resolve {subject} ({type(exc).__name__})",
            kind=errors.ErrorKind.DNS_FAILURE,
        )


def settings_resolver(settings: Settings) -> Callable[[str, int], Awaitable[list[str]]] | None:
    """``(host, port) → addresses`` through ``DOMAINCHECK_DNS_SERVER`` when it is set
    (for the HTTP and WHOIS clients), else ``None``: the system resolver."""
    if settings.dns_server is None:
        return None
    resolver = DnsResolver.from_settings(settings)

    async def resolve(host: str, port: int) -> list[str]:
        return await resolver.addresses(host)

    return resolve


def _order(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, int]:
    return (ip.version, int(ip))
