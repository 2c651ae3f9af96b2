"""An httpx transport that only ever connects to public addresses.

With ``Settings.public_addresses_only`` on, a registry (or anyone on the path to
the registries that are still plain http) could answer ``302 Location:
http://127.0.0.1:8081/...`` and make a public service fetch its own internal
URLs. Checking the URL of each hop before following it is not enough: a name
can resolve to a public address when checked and to a private one when
connected (DNS rebinding). So the check lives where the connection is made:

* :class:`PublicOnlyTransport` is httpx's own transport on an httpcore pool whose
  network backend is :class:`PublicOnlyBackend`.
* :class:`PublicOnlyBackend` resolves the host itself, keeps only the addresses
  that :func:`core.addresses.is_public_address` accepts, connects to those IP
  addresses (so the name cannot resolve differently a moment later), and checks
  the peer address of the connected socket once more.

This covers the first request and every redirect hop alike, because each hop to
a new origin opens a new connection. Servers the operator configured (the base
URLs of an explicitly given RDAP bootstrap file) are exempt, as ``connect_to``
rules are for TLS. The transport reads no proxy settings: a proxy would make the
connection for us and defeat the check.

Both backends take the resolver (``resolve=``): with ``DOMAINCHECK_DNS_SERVER`` set,
:func:`core.dns.settings_resolver` answers instead of the system resolver, so RDAP,
ARI, CRL and OCSP names go to that DNS server like every other query.
:class:`ResolvingBackend` is the same connection logic without the address rule,
for clients that only need the resolver (:func:`transport_for` picks).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from core.addresses import is_public_address, parse_address
from core.errors import DnsFailure, RdapServerError

__all__ = [
    "NonPublicAddress",
    "PublicOnlyBackend",
    "PublicOnlyTransport",
    "ResolvingBackend",
    "origin_of",
    "transport_for",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]
TrustedCheck = Callable[[str, int], bool]


class NonPublicAddress(RdapServerError):
    """A request (or a redirect) led to a private, local or otherwise non-public address."""


def origin_of(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an http(s) URL (default ports filled in), else ``None``."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.host.lower(), port


async def _system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refused(host: str) -> NonPublicAddress:
    return NonPublicAddress(
        f"not fetched: {host} is a private or local address "
        "(RDAP requests and redirects must stay on the public internet)"
    )


async def _addresses(resolve: Resolver, host: str, port: int) -> list[str]:
    literal = parse_address(host)
    if literal is not None:
        return [str(literal)]
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError, DnsFailure) as exc:
        raise httpcore.ConnectError(f"could not resolve {host}") from exc
    if not addresses:
        raise httpcore.ConnectError(f"could not resolve {host}")
    return addresses


class ResolvingBackend(httpcore.AsyncNetworkBackend):
    """Resolves names with ``resolve`` and connects to the addresses in turn."""

    def __init__(
        self, *, resolve: Resolver, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._resolve = resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await _addresses(self._resolve, host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"not connecting to the local socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses (see the module docstring)."""

    def __init__(
        self,
        *,
        trusted: TrustedCheck = lambda host, port: False,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolver = _system_resolve,
    ) -> None:
        self._trusted = trusted
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolve
        #: The operator's servers: the same resolver, no address rule.
        self._plain = ResolvingBackend(resolve=resolve, inner=self._inner)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._trusted(host.lower(), port):
            return await self._plain.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await _addresses(self._resolve, host, port)
        public = [address for address in addresses if is_public_address(address)]
        if not public:
            raise _refused(host)
        failure: Exception | None = None
        for address in public:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            if not (isinstance(peer, tuple) and peer and is_public_address(str(peer[0]))):
                await stream.aclose()
                raise _refused(host)
            return stream
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _refused(path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, connecting through :class:`PublicOnlyBackend` (or
    :class:`ResolvingBackend`)."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        super().__init__(trust_env=False)
        # httpx offers no ``network_backend`` argument; the pool it builds is
        # replaced by the same pool on our backend (same defaults otherwise).
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def transport_for(
    *,
    public_addresses_only: bool,
    trusted: TrustedCheck = lambda host, port: False,
    resolve: Resolver | None = None,
) -> PublicOnlyTransport | None:
    """The transport for a client with these rules; ``None``: httpx's default (the
    system resolver, proxies from the environment)."""
    if public_addresses_only:
        return PublicOnlyTransport(
            PublicOnlyBackend(trusted=trusted, resolve=resolve or _system_resolve)
        )
    if resolve is not None:
        return PublicOnlyTransport(ResolvingBackend(resolve=resolve))
    return None
