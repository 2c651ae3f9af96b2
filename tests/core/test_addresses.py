"""core.addresses: the one public-address policy, table-driven."""

from __future__ import annotations

import ipaddress

import pytest

from core.addresses import embedded_ipv4, is_public_address, parse_address

NOT_PUBLIC = [
    # plain IPv4
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    # plain IPv6
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "2001:db8::1",
    "ff0e::1",
    # the examples: IPv4 inside IPv6
    "[::127.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:7f00:1::1]",
    # every embedding form with a non-public IPv4 inside
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::10.0.0.1",
    "::169.254.169.254",
    "64:ff9b::7f00:1",
    "64:ff9b::c0a8:101",
    "64:ff9b:1::808:808",  # local-use NAT64: never globally reachable
    "64:ff9b:1:ffff::1",
    "2002:a00:1::1",
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::1",
    # Teredo: server 127.0.0.1, and client 10.0.0.1 (stored inverted)
    "2001:0:7f00:1::1",
    "2001:0:808:808::f5ff:fffe",
    # not an address at all
    "example.com",
    "",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "::8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "[2606:4700:4700::1111]",
]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_not_public(text: str) -> None:
    assert is_public_address(text) is False


@pytest.mark.parametrize("text", PUBLIC)
def test_public(text: str) -> None:
    assert is_public_address(text) is True


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("::ffff:127.0.0.1", ["127.0.0.1"]),
        ("::127.0.0.1", ["127.0.0.1"]),
        ("64:ff9b::a9fe:a9fe", ["169.254.169.254"]),
        ("2002:7f00:1::1", ["127.0.0.1"]),
        # Teredo (RFC 4380 example): server 65.54.227.120, client 192.0.2.45
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", ["65.54.227.120", "192.0.2.45"]),
        ("2606:4700:4700::1111", []),
    ],
)
def test_embedded_ipv4(text: str, inside: list[str]) -> None:
    address = ipaddress.IPv6Address(text)
    assert embedded_ipv4(address) == [ipaddress.IPv4Address(a) for a in inside]


def test_accepts_address_objects() -> None:
    assert is_public_address(ipaddress.ip_address("8.8.8.8")) is True
    assert is_public_address(ipaddress.ip_address("::127.0.0.1")) is False


def test_parse_address() -> None:
    assert parse_address("[::1]") == ipaddress.IPv6Address("::1")
    assert parse_address("fe80::1%eth0") == ipaddress.IPv6Address("fe80::1")
    assert parse_address("example.com") is None


@pytest.mark.parametrize("host", ["::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1"])
async def test_tls_checker_refuses_embedded_private_addresses(host: str) -> None:
    """The TLS checker asks the same policy: no connection is attempted."""
    from core.models import Target
    from core.tls import TlsChecker

    checker = TlsChecker(public_addresses_only=True, timeout_seconds=2)
    try:
        info = await checker.check(Target(host=host, port=443, is_ip=True))
    finally:
        checker.close()
    assert info.error is not None and "private or local" in info.error
