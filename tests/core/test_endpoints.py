"""Every address of a name is checked, and the worst endpoint speaks for the result."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import UTC, datetime, timedelta

import pytest

import core.tls
from core.checker import check_all
from core.config import ResolveRule
from core.dns import DnsResolver
from core.endpoints import combine, endpoint_problem, enrich, worst_endpoint, worst_index
from core.errors import ErrorKind
from core.models import CertInfo, CheckResult, Endpoint, RenewalInfo, Status, Target
from core.problems import describe_problem
from core.report import result_from_dict, result_to_dict
from core.tls import Handshake, TlsChecker
from tests.helpers.endpoint_world import (
    DNS_HOST,
    HALF_HOST,
    MIXED_HOST,
    REFUSING_ADDRESS,
    SAME_HOST,
    SERVING_ADDRESSES,
    EndpointWorld,
)
from tests.helpers.world import LoopbackWorld

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _check(endpoints: EndpointWorld, *targets: Target, **overrides: object) -> list[CheckResult]:
    settings = endpoints.settings(
        timeout_seconds=3, check_rdap=False, check_revocation=False, **overrides
    )
    return asyncio.run(check_all(list(targets), settings))


def test_every_address_is_checked_and_the_worst_one_decides(
    endpoint_world: EndpointWorld,
) -> None:
    (result,) = _check(endpoint_world, Target(MIXED_HOST))

    assert result.tls is not None
    assert [e.address for e in result.tls.endpoints] == list(SERVING_ADDRESSES)
    statuses = [
        CheckResult(Target(MIXED_HOST), e.tls, None, result.checked_at).tls_status
        for e in result.tls.endpoints
    ]
    assert statuses == [Status.VALID, Status.EXPIRING, Status.EXPIRING]
    assert result.status is Status.EXPIRING
    assert result.tls.fingerprint_sha256 == result.tls.endpoints[1].tls.fingerprint_sha256
    assert result.problem.startswith("2 of 3 addresses serve a certificate that expires in 4 days")
    for server in endpoint_world.servers:  # SNI is the name on every address
        assert MIXED_HOST in server.server_names


def test_addresses_serving_one_certificate_raise_no_problem(
    endpoint_world: EndpointWorld,
) -> None:
    (result,) = _check(endpoint_world, Target(SAME_HOST))

    assert result.tls is not None
    assert [e.address for e in result.tls.endpoints] == list(SERVING_ADDRESSES[:2])
    assert result.status is Status.VALID
    assert result.problem == ""


def test_an_address_that_refuses_makes_the_result_an_error_and_says_how_many(
    endpoint_world: EndpointWorld,
) -> None:
    (result,) = _check(endpoint_world, Target(HALF_HOST))

    assert result.tls is not None
    good, refused = result.tls.endpoints
    assert (good.address, good.tls.error) == ("127.0.0.2", None)
    assert refused.address == REFUSING_ADDRESS
    assert refused.tls.error_kind is ErrorKind.REFUSED
    assert result.status is Status.ERROR
    assert result.problem == f"1 of 2 addresses: {refused.tls.error}"


def test_first_address_only_keeps_the_old_behaviour(endpoint_world: EndpointWorld) -> None:
    (result,) = _check(endpoint_world, Target(MIXED_HOST), first_address_only=True)

    assert result.tls is not None
    assert result.tls.endpoints == ()
    assert result.status is Status.VALID  # 127.0.0.2, the first address, answered
    assert result.problem == ""


def test_addresses_come_from_the_dns_server_when_one_is_set(
    endpoint_world: EndpointWorld,
) -> None:
    before = endpoint_world.dns.queries[DNS_HOST, "A"]

    (result,) = _check(endpoint_world, Target(DNS_HOST))

    assert endpoint_world.dns.queries[DNS_HOST, "A"] == before + 1
    assert endpoint_world.dns.queries[DNS_HOST, "AAAA"] >= 1
    assert result.tls is not None
    assert [e.address for e in result.tls.endpoints] == ["127.0.0.2", "127.0.0.3"]
    assert result.status is Status.EXPIRED
    assert result.problem == "1 of 2 addresses serve a certificate that expired 2 days ago"


def test_a_name_with_one_address_lists_no_endpoints(
    world: object, endpoint_world: EndpointWorld
) -> None:
    (result,) = _check(endpoint_world, Target("valid.test"))

    assert result.tls is not None
    assert result.tls.error is None
    assert result.tls.endpoints == ()


def test_addresses_are_bounded_ordered_and_checked_in_parallel(
    endpoint_world: EndpointWorld,
) -> None:
    """Twenty refusing addresses and an IPv6 one: sixteen checked, IPv4 first."""
    many = tuple(f"127.0.0.{n}" for n in range(30, 10, -1))
    rule = ResolveRule(MIXED_HOST, None, ("::1", *many))

    (result,) = _check(endpoint_world, Target(MIXED_HOST), resolve=(rule,))

    assert result.tls is not None
    addresses = [e.address for e in result.tls.endpoints]
    assert addresses == [f"127.0.0.{n}" for n in range(11, 27)]
    assert all(e.tls.error_kind is ErrorKind.REFUSED for e in result.tls.endpoints)
    assert result.problem == result.tls.error  # every address says the same


def test_public_addresses_only_refuses_a_name_with_only_private_addresses(
    endpoint_world: EndpointWorld,
) -> None:
    checker = TlsChecker(
        dns=DnsResolver(("127.0.0.1", endpoint_world.dns.port), timeout_seconds=2),
        public_addresses_only=True,
        timeout_seconds=2,
    )

    async def run() -> CertInfo:
        try:
            return await checker.check(Target(DNS_HOST))
        finally:
            checker.close()

    info = asyncio.run(run())

    assert info.error_kind is ErrorKind.FORBIDDEN_ADDRESS
    assert info.endpoints == ()


def test_endpoints_survive_the_json_document(endpoint_world: EndpointWorld) -> None:
    (result,) = _check(endpoint_world, Target(MIXED_HOST))

    data = result_to_dict(result)
    again = result_from_dict(data, checked_at=result.checked_at, threshold_days=30)

    assert [e["address"] for e in data["endpoints"]] == list(SERVING_ADDRESSES)
    assert [e["tls"]["status"] for e in data["endpoints"]] == ["valid", "expiring", "expiring"]
    assert data["protocol"] == "tls"
    assert data["tls"]["status"] == "expiring"
    assert again.tls is not None and result.tls is not None
    assert again.tls.endpoints == result.tls.endpoints
    assert again.problem == result.problem
    worst = worst_endpoint(again.tls)
    assert worst is not None and worst.address == "127.0.0.3"  # the first expiring one
    assert worst_endpoint(dataclasses.replace(again.tls, endpoints=())) is None


# ------------------------------------------------------------------ pure combining


def _info(days: float | None, *, error: str | None = None, fingerprint: str = "A") -> CertInfo:
    if days is None:
        return CertInfo(error=error or "connection refused on port 443")
    return CertInfo(
        not_after=NOW + timedelta(days=days),
        not_before=NOW - timedelta(days=300),
        fingerprint_sha256=fingerprint,
        trusted=True,
        hostname_match=True,
    )


def test_the_worst_is_the_most_severe_then_the_earliest_expiry() -> None:
    infos = [_info(200), _info(20), _info(10), _info(None)]

    assert worst_index(infos, now=NOW, threshold_days=30, lifetime_fraction=0) == 2
    assert worst_index(infos[:1] + infos[3:], now=NOW, threshold_days=30, lifetime_fraction=0) == 1


def test_combine_lists_every_endpoint_in_the_given_order() -> None:
    pairs = [
        ("192.0.2.1", Handshake(_info(200))),
        ("192.0.2.2", Handshake(_info(5, fingerprint="B"))),
    ]

    combined = combine(pairs, now=NOW, threshold_days=30, lifetime_fraction=0)

    assert combined.info.fingerprint_sha256 == "B"
    assert combined.info.endpoints == (
        Endpoint("192.0.2.1", pairs[0][1].info),
        Endpoint("192.0.2.2", pairs[1][1].info),
    )
    assert combined.endpoints == tuple(pairs)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ((200, 4, 4), "2 of 3 addresses serve a certificate that expires in 4 days"),
        ((-3, 200), "1 of 2 addresses serve a certificate that expired 3 days ago"),
        ((4, 4), "certificate expires in 4 days"),
        ((200, None), "1 of 2 addresses: connection refused on port 443"),
    ],
)
def test_the_problem_says_how_many_addresses_share_it(
    days: tuple[float | None, ...], expected: str
) -> None:
    endpoints = tuple(
        Endpoint(f"192.0.2.{n}", _info(d, fingerprint=str(d))) for n, d in enumerate(days, 1)
    )
    index = worst_index([e.tls for e in endpoints], now=NOW, threshold_days=30, lifetime_fraction=0)
    tls = dataclasses.replace(endpoints[index].tls, endpoints=endpoints)
    result = CheckResult(Target("example.com"), tls, None, NOW, lifetime_fraction=0)

    assert describe_problem(result) == expected
    assert endpoint_problem(result, describe_problem) == (
        None if expected.startswith("certificate") else expected
    )


def test_follow_up_asks_once_per_certificate_and_each_endpoint_gets_its_answer() -> None:
    asked: list[str | None] = []
    window = RenewalInfo(NOW - timedelta(days=2), NOW - timedelta(days=1))

    async def follow_up(handshake: Handshake) -> CertInfo:
        asked.append(handshake.info.fingerprint_sha256)
        renewal = window if handshake.info.fingerprint_sha256 == "B" else None
        return dataclasses.replace(handshake.info, renewal=renewal)

    leafless = [
        ("192.0.2.1", Handshake(_info(200, fingerprint="A"))),
        ("192.0.2.2", Handshake(_info(200, fingerprint="B"))),
        ("192.0.2.3", Handshake(_info(200, fingerprint="B"))),
        ("192.0.2.4", Handshake(_info(None))),
    ]
    # Follow-up needs a leaf certificate: any object stands in for one here.
    pairs = [
        (address, dataclasses.replace(hs, leaf=object()) if hs.info.error is None else hs)  # type: ignore[arg-type]
        for address, hs in leafless
    ]
    handshake = combine(pairs, now=NOW, threshold_days=30, lifetime_fraction=0)

    info = asyncio.run(
        enrich(handshake, follow_up, now=NOW, threshold_days=30, lifetime_fraction=0)
    )

    assert asked == ["A", "B"]
    assert [e.tls.renewal for e in info.endpoints] == [None, window, window, None]
    # The ended renewal window makes B expiring: worse than A and the refused one.
    assert info.fingerprint_sha256 == "B"


def test_a_reset_during_the_starttls_prologue_is_named(
    world: LoopbackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prologue's own socket errors become a reset "during the STARTTLS exchange"."""
    prepared: list[str] = []

    class ResettingUpgrade:
        name = "smtp"

        async def prepare(
            self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
        ) -> None:
            prepared.append(host)
            raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr(core.tls, "_upgrade_of", lambda target: ResettingUpgrade())
    checker = TlsChecker(connect_to=world.connect_rules, timeout_seconds=2)

    async def run() -> CertInfo:
        try:
            return await checker.check(Target("valid.test", 25, protocol="smtp"))
        finally:
            checker.close()

    info = asyncio.run(run())

    assert prepared == ["valid.test"]
    assert info.error == "connection reset by the server during the STARTTLS exchange"
    assert info.error_kind is ErrorKind.RESET


def test_an_unexpanded_mx_entry_is_not_checked(world: LoopbackWorld) -> None:
    checker = TlsChecker(connect_to=world.connect_rules, timeout_seconds=2)

    async def run() -> CertInfo:
        try:
            return await checker.check(Target("example.com", 25, protocol="mx"))
        finally:
            checker.close()

    info = asyncio.run(run())

    assert info.error == (
        "not checked: mx:example.com stands for the mail servers of example.com,"
        " which are looked up before a run"
    )
