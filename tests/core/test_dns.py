"""DNS through dnspython: addresses and MX from ``DOMAINCHECK_DNS_SERVER``, errors in words."""

from __future__ import annotations

import asyncio

import pytest

from core.config import Settings, parse_dns_server
from core.dns import DnsResolver, MailServers
from core.errors import DnsFailure, ErrorKind, UsageError
from tests.helpers.dns_server import DnsServer


@pytest.fixture(scope="module")
def dns_server() -> object:
    with DnsServer() as server:
        server.add_address("multi.test", "127.0.0.2", "::1", "127.0.0.3")
        server.add_mx(
            "mail.test", (20, "mx2.mail.test"), (10, "MX1.mail.test."), (30, "mx1.mail.test")
        )
        server.add_null_mx("nomail.test")
        server.add_name("empty.test")
        server.add_silent("silent.test")
        yield server


def _resolver(server: DnsServer, timeout: float = 2) -> DnsResolver:
    return DnsResolver(("127.0.0.1", server.port), timeout_seconds=timeout)


def test_addresses_are_every_a_and_aaaa_record(dns_server: DnsServer) -> None:
    addresses = asyncio.run(_resolver(dns_server).addresses("multi.test"))

    assert addresses == ["127.0.0.2", "127.0.0.3", "::1"]


@pytest.mark.parametrize(
    ("name", "words", "kind"),
    [
        (
            "unknown.test",
            "could not resolve unknown.test (no such domain)",
            ErrorKind.NO_SUCH_DOMAIN,
        ),
        (
            "empty.test",
            "could not resolve empty.test (no address for this name)",
            ErrorKind.NO_ADDRESS,
        ),
        (
            "silent.test",
            "could not resolve silent.test (no answer from the DNS server within 0.5s)",
            ErrorKind.DNS_TEMPORARY,
        ),
    ],
)
def test_failures_are_dns_errors_in_words(
    dns_server: DnsServer, name: str, words: str, kind: ErrorKind
) -> None:
    with pytest.raises(DnsFailure) as caught:
        asyncio.run(_resolver(dns_server, timeout=0.5).addresses(name))

    assert str(caught.value) == words
    assert caught.value.kind is kind


def test_mail_servers_by_preference_once_each(dns_server: DnsServer) -> None:
    resolver = _resolver(dns_server)

    assert asyncio.run(resolver.mail_servers("mail.test")) == MailServers(
        hosts=("mx1.mail.test", "mx2.mail.test")
    )
    assert asyncio.run(resolver.mail_servers("nomail.test")) == MailServers(null=True)
    assert asyncio.run(resolver.mail_servers("empty.test")) == MailServers()


def test_mail_servers_of_a_missing_domain_is_an_error(dns_server: DnsServer) -> None:
    with pytest.raises(DnsFailure, match=r"the mail servers of nowhere\.test \(no such domain\)"):
        asyncio.run(_resolver(dns_server).mail_servers("nowhere.test"))


def test_an_unreachable_server_is_a_temporary_failure() -> None:
    """Nothing listens on the port: dnspython gets no answer within the timeout."""
    with DnsServer() as server:
        port = server.port
    resolver = DnsResolver(("127.0.0.1", port), timeout_seconds=0.5)

    with pytest.raises(DnsFailure) as caught:
        asyncio.run(resolver.addresses("multi.test"))

    assert caught.value.kind is ErrorKind.DNS_TEMPORARY


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[::1]", ("::1", 53)),
        ("2001:db8::53", ("2001:db8::53", 53)),
    ],
)
def test_dns_server_setting(text: str, server: tuple[str, int]) -> None:
    assert parse_dns_server(text) == server
    assert Settings.from_env({"DOMAINCHECK_DNS_SERVER": text}).dns_server == server


@pytest.mark.parametrize("text", ["dns.example:53", "127.0.0.1:dns", "127.0.0.1:70000", "[::1"])
def test_bad_dns_server_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="DNS server"):
        parse_dns_server(text)
