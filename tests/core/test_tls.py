"""core.tls end to end against the loopback world, and its host name matching.

Every check here goes to 127.0.0.1 through connect-to rules: real DNS is never asked.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from core.config import ConnectRule
from core.errors import UsageError
from core.models import CertInfo, Status, Target, days_left, tls_status, utcnow
from core.tls import TlsChecker, hostname_matches, verified_chain_der
from tests.helpers.world import LoopbackWorld

#: Generous bound proving a check is bounded by its timeout, without timing flakiness.
BOUNDED_SECONDS = 5.0


@pytest.fixture(scope="module")
def checker(world: LoopbackWorld) -> Iterator[TlsChecker]:
    """Shared by the module's tests: a checker is not tied to any event loop."""
    tls = TlsChecker.from_settings(world.settings())
    yield tls
    tls.close()


@pytest.fixture(scope="module")
def quick_checker(world: LoopbackWorld) -> Iterator[TlsChecker]:
    """Times out after half a second, for the hanging and silent hosts."""
    tls = TlsChecker.from_settings(world.settings(timeout_seconds=0.5))
    yield tls
    tls.close()


def pem_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


async def wait_until(predicate: Callable[[], bool], timeout: float = BOUNDED_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# --- certificates that verify ------------------------------------------------------


async def test_valid_certificate_is_trusted_and_fully_read(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    files = world.pki.certs["valid.test"]

    info = await checker.check(Target("valid.test"))

    assert info.error is None
    assert info.trusted is True
    assert info.hostname_match is True
    assert info.verify_error is None
    assert info.not_after == files.not_after
    assert info.not_before == files.not_before
    assert info.not_after.tzinfo is not None
    assert info.subject == "valid.test"
    assert info.issuer == "Domain Check Test Intermediate CA"
    assert info.sans == ("valid.test",)
    expected = pem_certificate(files.cert_file).fingerprint(hashes.SHA256()).hex(":").upper()
    assert info.fingerprint_sha256 == expected
    # leaf 365 days < intermediate 5 years < root 10 years
    assert info.chain_earliest_not_after == files.not_after


async def test_verified_chain_is_leaf_intermediate_root(world: LoopbackWorld) -> None:
    context = ssl.create_default_context(cafile=world.pki.ca_file)
    _, writer = await asyncio.open_connection(
        "127.0.0.1", world.tls_port, ssl=context, server_hostname="valid.test"
    )
    try:
        chain = verified_chain_der(writer.get_extra_info("ssl_object"))
    finally:
        writer.transport.abort()

    assert chain is not None
    subjects = [x509.load_der_x509_certificate(der).subject.rfc4514_string() for der in chain]
    assert subjects == [
        "CN=valid.test",
        "CN=Domain Check Test Intermediate CA,O=Domain Check Test",
        "CN=Domain Check Test Root CA,O=Domain Check Test",
    ]


async def test_expiring_certificate(world: LoopbackWorld, checker: TlsChecker) -> None:
    info = await checker.check(Target("expiring.test"))

    assert info.trusted is True
    assert info.not_after == world.pki.certs["expiring.test"].not_after
    assert days_left(info.not_after, utcnow()) in (9, 10)


async def test_certificate_expiring_today_has_zero_days_left(checker: TlsChecker) -> None:
    info = await checker.check(Target("today.test"))

    assert info.trusted is True
    assert days_left(info.not_after, utcnow()) == 0


async def test_short_lived_intermediate_sets_the_chain_expiry(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    files = world.pki.certs["shortchain.test"]

    info = await checker.check(Target("shortchain.test"))

    assert info.trusted is True
    assert info.not_after == files.not_after
    assert files.intermediate_not_after is not None
    assert info.chain_earliest_not_after == files.intermediate_not_after
    assert info.chain_earliest_not_after < info.not_after
    assert info.issuer == "Domain Check Test Short Intermediate CA"


async def test_idn_host_sends_its_a_label_as_sni(world: LoopbackWorld, checker: TlsChecker) -> None:
    info = await checker.check(Target("xn--bcher-kva.test", display="bücher.test"))

    assert world.tls_server.server_names[-1] == "xn--bcher-kva.test"
    assert info.subject == "xn--bcher-kva.test"
    assert info.trusted is True
    assert info.hostname_match is True


async def test_wildcard_covers_one_label_below(checker: TlsChecker) -> None:
    www = await checker.check(Target("www.wildcard.test"))
    bare = await checker.check(Target("wildcard.test"))  # served the same certificate

    assert www.sans == bare.sans == ("*.wildcard.test",)
    assert www.hostname_match is True
    assert bare.hostname_match is False
    assert www.trusted is bare.trusted is True


async def test_certificate_for_another_name_is_trusted_but_does_not_match(
    checker: TlsChecker,
) -> None:
    info = await checker.check(Target("wronghost.test"))

    assert info.trusted is True
    assert info.hostname_match is False
    assert info.sans == ("other.test",)
    assert info.verify_error is None


async def test_ip_target_sends_no_sni_and_matches_ip_sans(world: LoopbackWorld) -> None:
    tls = TlsChecker(ca_file=world.pki.ca_file)  # no connect-to: straight to the IP
    try:
        info = await tls.check(Target("127.0.0.1", port=world.tls_port, is_ip=True))
    finally:
        tls.close()

    assert world.tls_server.server_names[-1] is None
    assert info.error is None
    assert info.subject == "localhost"
    assert info.sans == ("localhost", "127.0.0.1", "::1")
    assert info.trusted is True
    assert info.hostname_match is True


# --- certificates that fail verification: still read ------------------------------


async def test_expired_certificate_is_read_without_trust(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    files = world.pki.certs["expired.test"]

    info = await checker.check(Target("expired.test"))

    assert info.error is None
    assert info.trusted is False
    assert info.verify_error is not None
    assert "expired" in info.verify_error
    assert info.not_after == files.not_after
    assert info.not_before == files.not_before
    assert info.hostname_match is True
    assert info.chain_earliest_not_after is None
    assert info.fingerprint_sha256 is not None


async def test_not_yet_valid_certificate(world: LoopbackWorld, checker: TlsChecker) -> None:
    info = await checker.check(Target("notyet.test"))

    assert info.trusted is False
    assert info.verify_error == "certificate is not yet valid"
    assert info.not_before == world.pki.certs["notyet.test"].not_before


async def test_self_signed_certificate(checker: TlsChecker) -> None:
    info = await checker.check(Target("selfsigned.test"))

    assert info.trusted is False
    assert info.verify_error is not None
    assert "self" in info.verify_error
    assert "signed" in info.verify_error
    assert info.hostname_match is True
    assert info.issuer == "selfsigned.test"


async def test_certificate_from_unknown_ca(world: LoopbackWorld, checker: TlsChecker) -> None:
    info = await checker.check(Target("untrusted.test"))

    assert info.trusted is False
    assert info.verify_error == "unable to get local issuer certificate"
    assert info.issuer == "Domain Check Untrusted Root CA"
    assert info.not_after == world.pki.certs["untrusted.test"].not_after


async def test_extra_ca_file_makes_its_certificates_trusted(world: LoopbackWorld) -> None:
    rules = world.connect_rules
    tls = TlsChecker(ca_file=world.pki.untrusted_ca_file, connect_to=rules)
    try:
        untrusted = await tls.check(Target("untrusted.test"))
        valid = await tls.check(Target("valid.test"))
    finally:
        tls.close()

    assert untrusted.trusted is True
    assert valid.trusted is False  # the world's own CA is no longer in the trust store


# --- failures: each with its own message ------------------------------------------


async def test_name_that_does_not_resolve(world: LoopbackWorld) -> None:
    tls = TlsChecker(ca_file=world.pki.ca_file)  # no connect-to rule: real lookup
    try:
        info = await tls.check(Target("nonexistent.invalid"))
    finally:
        tls.close()

    assert info == CertInfo(error="could not resolve nonexistent.invalid (no such domain)")


async def test_connection_refused(checker: TlsChecker) -> None:
    info = await checker.check(Target("closed.test"))

    assert info == CertInfo(error="connection refused on port 443")


async def test_server_that_never_answers_the_handshake_times_out(
    world: LoopbackWorld, quick_checker: TlsChecker
) -> None:
    started = time.monotonic()
    info = await quick_checker.check(Target("hang.test"))
    elapsed = time.monotonic() - started

    assert info == CertInfo(error="connected, but the TLS handshake did not finish within 0.5s")
    assert elapsed < BOUNDED_SECONDS
    assert await wait_until(lambda: world.hanging_server.open_connections == 0)


async def test_tcp_connect_that_gets_no_answer_times_out(quick_checker: TlsChecker) -> None:
    started = time.monotonic()
    info = await quick_checker.check(Target("blackhole.test"))

    assert info == CertInfo(error="no answer to TCP connect within 0.5s")
    assert time.monotonic() - started < BOUNDED_SECONDS


async def test_server_that_speaks_http_not_tls(checker: TlsChecker) -> None:
    info = await checker.check(Target("plain.test", port=80))

    assert info == CertInfo(error="server does not speak TLS on port 80 (wrong version number)")


async def test_next_address_is_tried_when_one_fails(
    world: LoopbackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A silent address gets only its share of the time; a refusing one is skipped."""
    addresses = [
        ("127.0.0.1", world.unanswered_port.port),
        ("127.0.0.1", world.closed_port),
        ("127.0.0.1", world.tls_port),
    ]

    def fake_getaddrinfo(
        host: str, port: int, *args: object, **kwargs: object
    ) -> list[tuple[object, ...]]:
        assert host == "multi.test"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    tls = TlsChecker(ca_file=world.pki.ca_file, timeout_seconds=3)
    try:
        started = time.monotonic()
        info = await tls.check(Target("multi.test"))
    finally:
        tls.close()

    assert info.error is None
    assert info.subject == "localhost"  # the default certificate: unknown SNI
    assert info.hostname_match is False
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "rule",
    [
        "valid.test::127.0.0.1:{port}",  # any port
        "::127.0.0.1:{port}",  # any host, any port
        "valid.test:443:127.0.0.1:{port}",
    ],
)
async def test_connect_to_changes_only_the_destination(world: LoopbackWorld, rule: str) -> None:
    tls = TlsChecker(
        ca_file=world.pki.ca_file,
        connect_to=[ConnectRule.parse(rule.format(port=world.tls_port))],
    )
    try:
        info = await tls.check(Target("valid.test"))
    finally:
        tls.close()

    assert world.tls_server.server_names[-1] == "valid.test"
    assert info.subject == "valid.test"
    assert info.hostname_match is True


async def test_connect_to_without_target_host_resolves_the_original_name(
    world: LoopbackWorld,
) -> None:
    rule = ConnectRule.parse(f"localhost:443::{world.tls_port}")
    tls = TlsChecker(ca_file=world.pki.ca_file, connect_to=[rule])
    try:
        info = await tls.check(Target("localhost"))
    finally:
        tls.close()

    assert info.error is None
    assert world.tls_server.server_names[-1] == "localhost"
    assert info.subject == "localhost"
    assert info.trusted is True
    assert info.hostname_match is True


async def test_cancelling_a_check_returns_promptly_and_leaks_nothing(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    hanging = world.hanging_server
    accepted = hanging.accepted
    task = asyncio.create_task(checker.check(Target("hang.test")))
    assert await wait_until(lambda: hanging.accepted > accepted)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 3  # the check itself would run 10 s
    assert await wait_until(lambda: hanging.open_connections == 0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    gc.collect()  # an unclosed socket or transport would warn (an error here) now


async def test_concurrent_checks_share_one_checker(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    hosts = ["valid.test", "expired.test", "xn--bcher-kva.test", "closed.test"] * 25

    results = await asyncio.gather(*(checker.check(Target(h)) for h in hosts))

    by_host = dict(zip(hosts, results, strict=True))
    assert by_host["valid.test"].trusted is True
    assert by_host["expired.test"].trusted is False
    assert by_host["closed.test"].error == "connection refused on port 443"
    assert all(r == by_host[h] for h, r in zip(hosts, results, strict=True))


# --- configuration -------------------------------------------------------------------


def test_ca_file_without_certificates_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")

    with pytest.raises(UsageError, match=r"bogus\.pem"):
        TlsChecker(ca_file=bogus)


def test_from_settings_takes_ca_file_rules_and_timeout(world: LoopbackWorld) -> None:
    tls = TlsChecker.from_settings(world.settings(timeout_seconds=0.5))
    try:
        info = asyncio.run(tls.check(Target("hang.test")))
    finally:
        tls.close()

    assert info.error == "connected, but the TLS handshake did not finish within 0.5s"


# --- the status each world host gets ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("valid.test", Status.VALID),
        ("expiring.test", Status.EXPIRING),
        ("today.test", Status.EXPIRING),
        ("shortchain.test", Status.EXPIRING),
        ("expired.test", Status.EXPIRED),
        ("notyet.test", Status.INVALID),
        ("selfsigned.test", Status.INVALID),
        ("wronghost.test", Status.INVALID),
        ("untrusted.test", Status.INVALID),
        ("wildcard.test", Status.INVALID),
        ("www.wildcard.test", Status.VALID),
        ("xn--bcher-kva.test", Status.VALID),
        ("hang.test", Status.ERROR),
        ("blackhole.test", Status.ERROR),
        ("closed.test", Status.ERROR),
        ("plain.test", Status.ERROR),
    ],
)
async def test_status_of_each_world_host(
    quick_checker: TlsChecker, host: str, expected: Status
) -> None:
    info = await quick_checker.check(Target(host))

    assert tls_status(info, utcnow(), threshold_days=30) is expected


# --- host name matching (RFC 6125) ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "dns_names", "expected"),
    [
        ("example.com", ["example.com"], True),
        ("Example.COM", ["example.com"], True),
        ("example.com", ["EXAMPLE.com"], True),
        ("example.com.", ["example.com"], True),
        ("example.com", ["example.com."], True),
        ("example.com", ["other.com", "example.com"], True),
        ("example.com", ["other.com"], False),
        ("example.com", [], False),
        ("www.example.com", ["*.example.com"], True),
        ("WWW.Example.com", ["*.EXAMPLE.com"], True),
        ("example.com", ["*.example.com"], False),  # the wildcard needs a label
        ("a.b.example.com", ["*.example.com"], False),  # exactly one label
        ("www.example.com", ["w*.example.com"], False),  # no partial wildcards
        ("www.example.com", ["*w.example.com"], False),
        ("www.example.com", ["www.*.com"], False),  # only the left-most label
        ("www.example.com", ["*.*.com"], False),
        ("example.com", ["*.com"], False),  # too broad
        ("com", ["*"], False),
        ("*.example.com", ["*.example.com"], False),  # a host is never a pattern
        ("xn--bcher-kva.test", ["xn--bcher-kva.test"], True),
        ("www.xn--bcher-kva.test", ["*.xn--bcher-kva.test"], True),
        ("xn--bcher-kva.test", ["bücher.test"], False),  # U-labels are not valid SANs
        ("127.0.0.1", ["127.0.0.1"], False),  # IPs match IP SANs only
    ],
)
def test_hostname_matches_dns_names(host: str, dns_names: list[str], expected: bool) -> None:
    assert hostname_matches(host, dns_names) is expected


@pytest.mark.parametrize(
    ("host", "ip_sans", "expected"),
    [
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.1", ["127.0.0.2"], False),
        ("::1", ["::1"], True),
        ("0:0::1", ["::1"], True),
        ("2001:db8::1", ["2001:0db8:0:0:0:0:0:1"], True),
        ("::ffff:127.0.0.1", ["127.0.0.1"], False),
        ("localhost", ["127.0.0.1"], False),  # names match DNS SANs only
        ("1.2.3.4.example", ["1.2.3.4"], False),
    ],
)
def test_hostname_matches_ip_addresses(host: str, ip_sans: list[str], expected: bool) -> None:
    addresses = [ipaddress.ip_address(ip) for ip in ip_sans]

    assert hostname_matches(host, [], addresses) is expected


async def test_public_addresses_only_refuses_names_that_resolve_to_loopback(
    world: LoopbackWorld,
) -> None:
    """The backend's guard: a stranger's name must not make it probe its own network."""
    target = Target("localhost", world.tls_port)
    guarded = TlsChecker(ca_file=world.pki.ca_file, public_addresses_only=True)
    open_checker = TlsChecker(ca_file=world.pki.ca_file)
    try:
        refused = await guarded.check(target)
        assert refused.error == "not checked: localhost resolves only to private or local addresses"
        assert refused.not_after is None
        ip_literal = await guarded.check(Target("127.0.0.1", world.tls_port, is_ip=True))
        assert ip_literal.error is not None and "private or local" in ip_literal.error
        allowed = await open_checker.check(target)
        assert allowed.error is None and allowed.trusted is True
    finally:
        guarded.close()
        open_checker.close()


async def test_public_addresses_only_trusts_the_operators_connect_to_rules(
    world: LoopbackWorld,
) -> None:
    checker = TlsChecker.from_settings(world.settings(public_addresses_only=True))
    try:
        info = await checker.check(Target("valid.test"))
        assert info.error is None and info.trusted is True
    finally:
        checker.close()
