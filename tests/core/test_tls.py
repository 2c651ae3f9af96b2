"""core.tls end to end against the loopback world, and its host name matching.

Every check here goes to 127.0.0.1 through connect-to rules: real DNS is never asked.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from core.chain import issuance_path, trust_problem
from core.config import ConnectRule
from core.errors import ErrorKind, UsageError
from core.models import (
    CertInfo,
    ChainRole,
    CheckResult,
    Status,
    Target,
    TrustProblem,
    days_left,
    expiry_phrase,
    tls_status,
    utcnow,
)
from core.tls import TlsChecker, hostname_matches, sent_chain_der, verified_chain_der
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
    assert info.chain_earliest_subject == "Domain Check Test Short Intermediate CA"
    assert info.chain_earliest_role is ChainRole.INTERMEDIATE


async def test_soon_expiring_intermediate_is_named_with_its_own_days(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    info = await checker.check(Target("shortchain.test"))
    now = utcnow()
    result = CheckResult(Target("shortchain.test"), info, None, now, 30)

    intermediate_end = world.pki.certs["shortchain.test"].intermediate_not_after
    assert intermediate_end is not None
    assert result.tls_days_left == days_left(intermediate_end, now)  # not the leaf's 365
    assert result.problem == (
        "intermediate certificate 'Domain Check Test Short Intermediate CA' expires on "
        f"{intermediate_end.date().isoformat()} "
        f"({expiry_phrase(intermediate_end, now).removeprefix('expires ')})"
    )


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
    problem = CheckResult(Target("wronghost.test"), info, None, utcnow(), 30).problem
    assert problem == "certificate does not cover wronghost.test (it covers other.test)"


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
    # Read from the chain the server sent: the leaf is what expires first.
    assert info.chain_earliest_not_after == files.not_after
    assert info.chain_earliest_subject is None
    assert info.verify_problem is TrustProblem.EXPIRED
    assert info.fingerprint_sha256 is not None


async def test_expired_intermediate_is_named_and_its_days_count(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    """The leaf has 199 days left; the intermediate the server sends expired 3 days ago."""
    files = world.pki.certs["expiredchain.test"]

    info = await checker.check(Target("expiredchain.test"))
    now = utcnow()
    result = CheckResult(Target("expiredchain.test"), info, None, now, 30)

    assert files.intermediate_not_after is not None
    assert info.trusted is False
    assert info.verify_error == "certificate has expired"  # OpenSSL's words, kept
    assert info.verify_problem is TrustProblem.EXPIRED
    assert info.not_after == files.not_after
    assert info.chain_earliest_not_after == files.intermediate_not_after
    assert info.chain_earliest_subject == "Domain Check Test Expired Intermediate CA"
    assert info.chain_earliest_role is ChainRole.INTERMEDIATE
    assert result.status is Status.EXPIRED
    assert result.tls_days_left == days_left(files.intermediate_not_after, now)
    assert result.tls_days_left is not None and result.tls_days_left < 0
    assert result.problem == (
        "intermediate certificate 'Domain Check Test Expired Intermediate CA' expired on "
        f"{files.intermediate_not_after.date().isoformat()} (3 days ago):"
        " install the renewed chain on the server"
    )


async def test_missing_intermediate_is_told_apart_from_an_unknown_ca(
    world: LoopbackWorld, checker: TlsChecker
) -> None:
    missing = await checker.check(Target("nochain.test"))
    unknown = await checker.check(Target("untrusted.test"))
    now = utcnow()

    assert missing.verify_error == unknown.verify_error == "unable to get local issuer certificate"
    assert missing.verify_problem is TrustProblem.MISSING_INTERMEDIATE
    assert unknown.verify_problem is TrustProblem.UNKNOWN_CA
    missing_problem = CheckResult(Target("nochain.test"), missing, None, now, 30).problem
    unknown_problem = CheckResult(Target("untrusted.test"), unknown, None, now, 30).problem
    assert missing_problem == (
        "the server does not send its intermediate certificate (browsers may fill it in,"
        " other clients fail): install the full chain on the server"
    )
    assert unknown_problem.startswith(
        "certificate is issued by an authority this system does not trust"
        " (Domain Check Untrusted Root CA)"
    )
    for problem in (missing_problem, unknown_problem):
        assert "unable to get" not in problem


async def test_chain_sent_by_the_server_is_read_after_a_failed_verification(
    world: LoopbackWorld,
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    subjects = {}
    for host in ("expiredchain.test", "nochain.test"):
        _, writer = await asyncio.open_connection(
            "127.0.0.1", world.tls_port, ssl=context, server_hostname=host
        )
        try:
            chain = sent_chain_der(writer.get_extra_info("ssl_object"))
        finally:
            writer.transport.abort()
        assert chain is not None
        subjects[host] = [x509.load_der_x509_certificate(der).subject for der in chain]

    assert [s.rfc4514_string() for s in subjects["expiredchain.test"]] == [
        "CN=expiredchain.test",
        "CN=Domain Check Test Expired Intermediate CA,O=Domain Check Test",
    ]
    assert [s.rfc4514_string() for s in subjects["nochain.test"]] == ["CN=nochain.test"]


async def test_not_yet_valid_certificate(world: LoopbackWorld, checker: TlsChecker) -> None:
    info = await checker.check(Target("notyet.test"))

    assert info.trusted is False
    assert info.verify_error == "certificate is not yet valid"
    assert info.verify_problem is TrustProblem.NOT_YET_VALID
    assert info.not_before == world.pki.certs["notyet.test"].not_before


async def test_self_signed_certificate(checker: TlsChecker) -> None:
    info = await checker.check(Target("selfsigned.test"))

    assert info.trusted is False
    assert info.verify_error is not None
    assert "self" in info.verify_error
    assert "signed" in info.verify_error
    assert info.verify_problem is TrustProblem.SELF_SIGNED
    assert info.hostname_match is True
    assert info.issuer == "selfsigned.test"


async def test_certificate_from_unknown_ca(world: LoopbackWorld, checker: TlsChecker) -> None:
    info = await checker.check(Target("untrusted.test"))

    assert info.trusted is False
    assert info.verify_error == "unable to get local issuer certificate"
    assert info.verify_problem is TrustProblem.UNKNOWN_CA
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

    assert info == CertInfo(
        error="could not resolve nonexistent.invalid (no such domain)",
        error_kind=ErrorKind.NO_SUCH_DOMAIN,
    )


@pytest.mark.parametrize(
    ("code", "reason", "kind"),
    [
        (socket.EAI_AGAIN, "DNS lookup failed, temporarily", ErrorKind.DNS_TEMPORARY),
        (socket.EAI_FAIL, "the DNS server failed", ErrorKind.DNS_FAILURE),
        (socket.EAI_SYSTEM, "DNS lookup failed", ErrorKind.DNS_FAILURE),
    ],
)
async def test_failed_lookups_are_told_in_words_with_a_kind(
    world: LoopbackWorld,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    reason: str,
    kind: ErrorKind,
) -> None:
    def failing_getaddrinfo(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        raise socket.gaierror(code, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    tls = TlsChecker(ca_file=world.pki.ca_file)
    try:
        info = await tls.check(Target("offline.test"))
    finally:
        tls.close()

    assert info == CertInfo(error=f"could not resolve offline.test ({reason})", error_kind=kind)
    assert kind.network_level


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (errno.ENETUNREACH, "network unreachable: no route to route.test", ErrorKind.NO_ROUTE),
        (errno.EHOSTUNREACH, "network unreachable: no route to route.test", ErrorKind.NO_ROUTE),
        (
            errno.EADDRNOTAVAIL,
            "could not connect to port 443 (no usable local address for this destination)",
            ErrorKind.NO_ROUTE,
        ),
        (errno.ENOSYS, "could not connect to port 443 (function not implemented)", ErrorKind.OTHER),
    ],
)
async def test_connect_failures_have_no_errno_in_their_words(
    world: LoopbackWorld,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    message: str,
    kind: ErrorKind,
) -> None:
    loop = asyncio.get_running_loop()

    async def failing_connect(sock: socket.socket, address: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(loop, "sock_connect", failing_connect)
    rule = ConnectRule.parse(f"route.test::127.0.0.1:{world.tls_port}")
    tls = TlsChecker(ca_file=world.pki.ca_file, connect_to=[rule])
    try:
        info = await tls.check(Target("route.test"))
    finally:
        tls.close()

    assert info == CertInfo(error=message, error_kind=kind)
    assert "Errno" not in message


async def test_connection_refused(checker: TlsChecker) -> None:
    info = await checker.check(Target("closed.test"))

    assert info == CertInfo(error="connection refused on port 443", error_kind=ErrorKind.REFUSED)


async def test_server_that_never_answers_the_handshake_times_out(
    world: LoopbackWorld, quick_checker: TlsChecker
) -> None:
    started = time.monotonic()
    info = await quick_checker.check(Target("hang.test"))
    elapsed = time.monotonic() - started

    assert info == CertInfo(
        error="connected, but the TLS handshake did not finish within 0.5s",
        error_kind=ErrorKind.TIMEOUT,
    )
    assert elapsed < BOUNDED_SECONDS
    assert await wait_until(lambda: world.hanging_server.open_connections == 0)


async def test_tcp_connect_that_gets_no_answer_times_out(quick_checker: TlsChecker) -> None:
    started = time.monotonic()
    info = await quick_checker.check(Target("blackhole.test"))

    assert info == CertInfo(
        error="no answer to TCP connect within 0.5s", error_kind=ErrorKind.TIMEOUT
    )
    assert time.monotonic() - started < BOUNDED_SECONDS


async def test_server_that_speaks_http_not_tls(checker: TlsChecker) -> None:
    info = await checker.check(Target("plain.test", port=80))

    assert info == CertInfo(
        error="server does not speak TLS on port 80 (wrong version number)",
        error_kind=ErrorKind.TLS,
    )


async def test_next_address_is_tried_when_one_fails(
    world: LoopbackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --first-address-only, addresses are tried in order: a silent address gets
    only its share of the time; a refusing one is skipped."""
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
    tls = TlsChecker(ca_file=world.pki.ca_file, timeout_seconds=3, first_address_only=True)
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


@pytest.mark.parametrize(
    ("host", "code", "expected"),
    [
        ("nochain.test", 20, TrustProblem.MISSING_INTERMEDIATE),  # names its issuer's URL
        ("nochain.test", 2, TrustProblem.MISSING_INTERMEDIATE),
        ("untrusted.test", 20, TrustProblem.UNKNOWN_CA),  # a private CA: no issuer URL
        ("valid.test", 20, TrustProblem.UNKNOWN_CA),  # intermediate sent: the root is unknown
        ("valid.test", 19, TrustProblem.UNKNOWN_CA),
        ("selfsigned.test", 18, TrustProblem.SELF_SIGNED),
        ("selfsigned.test", 20, TrustProblem.SELF_SIGNED),
        ("expired.test", 10, TrustProblem.EXPIRED),
        ("notyet.test", 9, TrustProblem.NOT_YET_VALID),
        ("valid.test", 23, TrustProblem.REVOKED),
        ("valid.test", 7, TrustProblem.BAD_SIGNATURE),
        ("valid.test", 26, TrustProblem.WRONG_PURPOSE),
        ("valid.test", 9999, TrustProblem.OTHER),
        ("valid.test", None, TrustProblem.OTHER),
    ],
)
def test_openssl_codes_become_trust_problems_in_the_light_of_the_sent_chain(
    world: LoopbackWorld, host: str, code: int | None, expected: TrustProblem
) -> None:
    chain_pem = world.pki.certs[host].chain_file.read_bytes()
    sent = [
        cert.public_bytes(serialization.Encoding.DER)
        for cert in x509.load_pem_x509_certificates(chain_pem)
    ]
    leaf = x509.load_der_x509_certificate(sent[0])

    assert trust_problem(code, leaf, issuance_path(leaf, sent)) is expected


def test_issuance_path_skips_what_does_not_issue_the_leaf(world: LoopbackWorld) -> None:
    def der(host: str) -> list[bytes]:
        pem = world.pki.certs[host].chain_file.read_bytes()
        return [
            c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)
        ]

    valid, short = der("valid.test"), der("shortchain.test")
    leaf = x509.load_der_x509_certificate(valid[0])
    # A leftover intermediate from another chain, sent first, is ignored.
    path = issuance_path(leaf, [valid[0], short[1], valid[1]])

    assert [c.subject.rfc4514_string() for c in path] == [
        "CN=Domain Check Test Intermediate CA,O=Domain Check Test"
    ]
    assert issuance_path(leaf, [valid[0], short[1]]) == []


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
        ("expiredchain.test", Status.EXPIRED),
        ("nochain.test", Status.INVALID),
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
