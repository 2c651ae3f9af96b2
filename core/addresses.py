"""One answer to "may a public service connect to this address?", for every front end.

A service that checks names typed by strangers must not become a scanner for its
own network, so with ``Settings.public_addresses_only`` on, TLS targets
(:mod:`core.tls`), RDAP queries and their redirects (:mod:`core.rdap`) and the
backend's IP-literal entries all ask :func:`is_public_address`.

``ipaddress``'s ``is_global`` alone is not enough: IPv6 has several forms that
carry an IPv4 address inside, and the IPv4 inside decides where the packets end up
(a NAT64 gateway, a 6to4 relay, a dual-stack kernel). ``is_global`` calls
``[::127.0.0.1]``, ``[64:ff9b::a9fe:a9fe]`` (NAT64 of the cloud metadata address)
and ``[2002:7f00:1::1]`` (6to4 of loopback) global. So an address is public only
when it is global, not multicast, and every IPv4 address embedded in it is public
too:

=====================  ===========================  ==============================
Form                   Prefix                       Embedded IPv4
=====================  ===========================  ==============================
IPv4-mapped            ``::ffff:0:0/96``            last 32 bits
IPv4-compatible        ``::/96``                    last 32 bits (deprecated form)
NAT64 well-known       ``64:ff9b::/96``             last 32 bits (RFC 6052)
NAT64 local-use        ``64:ff9b:1::/48``           refused whole (RFC 8215: never
                                                    globally reachable)
6to4                   ``2002::/16``                bits 16-47 (RFC 3056)
Teredo                 ``2001::/32``                server bits 32-63, client last
                                                    32 bits inverted (RFC 4380)
=====================  ===========================  ==============================
"""

from __future__ import annotations

import ipaddress

__all__ = ["IPAddress", "embedded_ipv4", "is_public_address", "parse_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an address (``[v6]`` brackets and a ``%zone`` allowed), else ``None``."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _last_32_bits(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address that ``address`` carries (see the table in the module doc)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE or address in _NAT64_WELL_KNOWN:
        found.append(_last_32_bits(address))
    if address in _SIX_TO_FOUR:
        found.append(ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF))
    if address in _TEREDO:
        found.append(ipaddress.IPv4Address((int(address) >> 64) & 0xFFFFFFFF))  # server
        found.append(ipaddress.IPv4Address(~int(address) & 0xFFFFFFFF))  # client
    return found


def _is_public_ipv4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not address.is_multicast


def is_public_address(address: IPAddress | str) -> bool:
    """``True`` when a public service may connect to ``address``.

    Strings that are not an address are not public (they would need resolving
    first; callers check the resolved addresses).
    """
    if isinstance(address, str):
        parsed = parse_address(address)
        if parsed is None:
            return False
        address = parsed
    if isinstance(address, ipaddress.IPv4Address):
        return _is_public_ipv4(address)
    if address.is_multicast or address in _NAT64_LOCAL_USE:
        return False
    if address in _IPV4_COMPATIBLE and int(address) <= 1:
        return False  # "::" and "::1" carry no IPv4 address
    embedded = embedded_ipv4(address)
    if not all(_is_public_ipv4(inner) for inner in embedded):
        return False
    if address.ipv4_mapped is not None or address in _IPV4_COMPATIBLE:
        return True  # the packets go to the (public) IPv4 address inside
    return address.is_global
