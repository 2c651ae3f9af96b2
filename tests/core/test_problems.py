"""Plain-words problems and offline detection (core/problems.py).

The wording tests build results by hand; the offline tests also run the real
engine, where every name fails to resolve the way it does on an offline Linux
machine (the test guard answers EAI_NONAME for every name, or EAI_AGAIN here).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.checker import check_all
from core.config import Settings
from core.errors import ErrorKind
from core.models import (
    CertInfo,
    ChainRole,
    CheckResult,
    Registration,
    Target,
    TrustProblem,
)
from core.problems import (
    describe_problem,
    looks_offline,
    trust_problem_text,
    uncovered_name_text,
)
from tests.helpers.rdap_server import write_bootstrap
from tests.helpers.world import LoopbackWorld

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
#: OpenSSL's words, which must never reach the one-line problem.
OPENSSL_WORDS = (
    "unable to get local issuer certificate",
    "self-signed certificate",
    "self signed certificate in certificate chain",
    "certificate has expired",
    "certificate is not yet valid",
    "certificate revoked",
    "certificate signature failure",
    "unsupported certificate purpose",
    "path length constraint exceeded",
)


def untrusted(problem: TrustProblem | None, verify_error: str, **kw: object) -> CheckResult:
    fields: dict[str, object] = {
        "not_after": NOW + timedelta(days=90),
        "not_before": NOW - timedelta(days=10),
        "issuer": "Example Private CA",
        "sans": ("a.example",),
        "trusted": False,
        "hostname_match": True,
        "verify_error": verify_error,
        "verify_problem": problem,
    }
    fields.update(kw)
    return CheckResult(Target("a.example"), CertInfo(**fields), None, NOW, 30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("problem", "verify_error", "expected"),
    [
        (
            TrustProblem.MISSING_INTERMEDIATE,
            "unable to get local issuer certificate",
            "the server does not send its intermediate certificate (browsers may fill it in,"
            " other clients fail): install the full chain on the server",
        ),
        (
            TrustProblem.UNKNOWN_CA,
            "unable to get local issuer certificate",
            "certificate is issued by an authority this system does not trust"
            " (Example Private CA): use one from a public CA, or add your own CA's root"
            " to the trusted CAs",
        ),
        (
            TrustProblem.SELF_SIGNED,
            "self-signed certificate",
            "certificate is self-signed, so browsers do not trust it:"
            " use one from a public CA (such as Let's Encrypt)",
        ),
        (
            TrustProblem.REVOKED,
            "certificate revoked",
            "certificate was revoked by its CA: install a new one",
        ),
        (
            TrustProblem.BAD_SIGNATURE,
            "certificate signature failure",
            "a signature in the certificate chain does not verify:"
            " install the certificate and chain from your CA again",
        ),
        (
            TrustProblem.WRONG_PURPOSE,
            "unsupported certificate purpose",
            "certificate chain is not valid for a web server (wrong purpose or issuer):"
            " get a server certificate from your CA",
        ),
        (
            TrustProblem.OTHER,
            "path length constraint exceeded",
            "certificate chain could not be verified (see the details)",
        ),
        (
            TrustProblem.EXPIRED,  # OpenSSL saw it, but no date of ours shows it
            "certificate has expired",
            "a certificate in the chain has expired: install the renewed chain on the server",
        ),
    ],
)
def test_each_verification_failure_says_what_happened_and_what_to_do(
    problem: TrustProblem, verify_error: str, expected: str
) -> None:
    result = untrusted(problem, verify_error)

    assert result.problem == expected
    assert trust_problem_text(problem, "Example Private CA") == expected
    assert result.tls is not None and result.tls.verify_error == verify_error  # for details
    assert not any(words in result.problem for words in OPENSSL_WORDS)


@pytest.mark.parametrize(
    ("verify_error", "starts"),
    [
        ("self-signed certificate", "certificate is self-signed"),
        ("self signed certificate", "certificate is self-signed"),
        ("self-signed certificate in certificate chain", "certificate is issued by an authority"),
        ("unable to get local issuer certificate", "certificate is issued by an authority"),
        ("certificate revoked", "certificate was revoked"),
        ("certificate signature failure", "a signature in the certificate chain"),
        ("invalid CA certificate", "certificate chain is not valid for a web server"),
        ("something new in OpenSSL 4", "certificate chain could not be verified"),
    ],
)
def test_results_stored_before_verify_problem_get_plain_words_too(
    verify_error: str, starts: str
) -> None:
    result = untrusted(None, verify_error)

    assert result.problem.startswith(starts)
    assert verify_error not in result.problem


def test_openssl_name_mismatch_is_not_repeated_after_the_name_check() -> None:
    result = untrusted(None, "hostname mismatch", hostname_match=False, sans=("b.example",))

    assert result.problem == "certificate does not cover a.example (it covers b.example)"


def test_wrong_name_says_which_names_the_certificate_covers() -> None:
    assert uncovered_name_text("a.example", ["b.example", "*.b.example"]) == (
        "certificate does not cover a.example (it covers b.example, *.b.example)"
    )
    many = [f"n{i}.example" for i in range(5)]
    assert uncovered_name_text("a.example", many) == (
        "certificate does not cover a.example"
        " (it covers n0.example, n1.example, n2.example and 2 more)"
    )
    assert uncovered_name_text("a.example", []) == (
        "certificate does not cover a.example (it names no host)"
    )


def test_expired_intermediate_is_named_with_its_date_and_days() -> None:
    result = untrusted(
        TrustProblem.EXPIRED,
        "certificate has expired",
        not_after=NOW + timedelta(days=199),
        chain_earliest_not_after=NOW - timedelta(days=3, hours=1),
        chain_earliest_subject="R11",
        chain_earliest_role=ChainRole.INTERMEDIATE,
    )

    assert result.tls_days_left == -4  # the JSON keeps the floor rule
    assert result.problem == (
        "intermediate certificate 'R11' expired on 2026-11-20 (3 days ago):"
        " install the renewed chain on the server"
    )


def test_soon_expiring_root_is_named_as_a_root() -> None:
    info = CertInfo(
        not_after=NOW + timedelta(days=300),
        trusted=True,
        hostname_match=True,
        chain_earliest_not_after=NOW + timedelta(hours=30),
        chain_earliest_subject="Old Root",
        chain_earliest_role=ChainRole.ROOT,
    )

    result = CheckResult(Target("a.example"), info, None, NOW, 30)

    assert result.problem == "root certificate 'Old Root' expires on 2026-11-24 (in 1 day)"


def test_an_untrusted_expired_leaf_says_expired_once() -> None:
    result = untrusted(
        TrustProblem.EXPIRED, "certificate has expired", not_after=NOW - timedelta(hours=5)
    )

    assert result.problem == "certificate expired 5 hours ago"


def test_a_vague_failure_is_not_added_to_a_specific_one() -> None:
    result = untrusted(TrustProblem.OTHER, "", not_after=NOW - timedelta(days=2))

    assert result.problem == "certificate expired 2 days ago"
    alone = untrusted(None, "")
    assert alone.problem == "certificate chain could not be verified (see the details)"


def test_describe_problem_is_the_results_problem() -> None:
    result = untrusted(TrustProblem.SELF_SIGNED, "self-signed certificate")
    assert describe_problem(result) == result.problem


# --- looks_offline ---------------------------------------------------------------------


def failed(
    kind: ErrorKind | None,
    registration: Registration | None = None,
    name: str = "a.example",
) -> CheckResult:
    tls = CertInfo(error=f"could not resolve {name}", error_kind=kind)
    return CheckResult(Target(name), tls, registration, NOW, 30)


def test_every_lookup_failing_is_offline() -> None:
    results = [failed(ErrorKind.NO_SUCH_DOMAIN, name=f"n{i}.example") for i in range(3)]
    assert looks_offline(results)
    mixed = [failed(ErrorKind.DNS_TEMPORARY), failed(ErrorKind.NO_SUCH_DOMAIN)]
    assert looks_offline(mixed)
    with_ip = [failed(ErrorKind.NO_ROUTE), failed(ErrorKind.DNS_TEMPORARY)]
    assert looks_offline(with_ip)


def test_one_reached_host_means_online() -> None:
    reached = CheckResult(
        Target("b.example"),
        CertInfo(not_after=NOW + timedelta(days=90), trusted=True, hostname_match=True),
        None,
        NOW,
        30,
    )
    assert not looks_offline([failed(ErrorKind.NO_SUCH_DOMAIN), reached])
    refused = failed(ErrorKind.REFUSED)
    assert not looks_offline([failed(ErrorKind.DNS_TEMPORARY), refused])


def test_a_registry_that_answered_means_online() -> None:
    answered = Registration("a.example", expires=NOW + timedelta(days=100))
    assert not looks_offline([failed(ErrorKind.NO_SUCH_DOMAIN, answered)] * 2)
    server_error = Registration("a.example", error="HTTP 500", error_kind=ErrorKind.SERVER)
    assert not looks_offline([failed(ErrorKind.DNS_TEMPORARY, server_error)])


def test_a_lone_no_such_domain_needs_a_second_witness() -> None:
    assert not looks_offline([failed(ErrorKind.NO_SUCH_DOMAIN)])  # could be a typo
    rdap_unreachable = Registration(
        "a.example", error="cannot connect", error_kind=ErrorKind.NO_SUCH_DOMAIN
    )
    assert looks_offline([failed(ErrorKind.NO_SUCH_DOMAIN, rdap_unreachable)])
    assert looks_offline([failed(ErrorKind.DNS_TEMPORARY)])
    assert looks_offline([failed(ErrorKind.NO_ROUTE)])


def test_unknown_registration_is_neutral_and_nothing_checked_is_not_offline() -> None:
    no_rdap = Registration(error="IP addresses have no domain registration", unknown=True)
    assert looks_offline([failed(ErrorKind.NO_ROUTE, no_rdap)])
    assert not looks_offline([])
    assert not looks_offline([CheckResult(Target("a.example"), None, None, NOW, 30)])
    assert not looks_offline([failed(None), failed(None)])  # stored before kinds existed


# --- offline, end to end -----------------------------------------------------------------


def offline_settings(world: LoopbackWorld, tmp_path: Path, *, rdap: bool) -> Settings:
    """No connect-to rules: every name goes to the (guarded) resolver. The RDAP
    service for .test is a host name that does not resolve either."""
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", {"test": "https://rdap.nic.test/"})
    return Settings(
        ca_file=world.pki.ca_file,
        rdap_bootstrap=str(bootstrap),
        check_rdap=rdap,
        timeout_seconds=3,
    )


async def test_offline_run_is_recognised_with_words_and_no_errno(
    world: LoopbackWorld, tmp_path: Path
) -> None:
    targets = [Target("valid.test"), Target("expired.test")]

    results = await check_all(targets, offline_settings(world, tmp_path, rdap=True))

    assert looks_offline(results)
    for result in results:
        assert result.tls is not None and result.registration is not None
        assert result.tls.error_kind is ErrorKind.NO_SUCH_DOMAIN
        assert result.registration.error_kind is ErrorKind.NO_SUCH_DOMAIN
        assert result.registration.error == "cannot connect to rdap.nic.test: no such domain"
        assert "Errno" not in result.problem
    single = await check_all(targets[:1], offline_settings(world, tmp_path, rdap=True))
    assert looks_offline(single)


async def test_temporary_dns_failure_everywhere_is_offline(
    world: LoopbackWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dns(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)

    results = await check_all([Target("valid.test")], offline_settings(world, tmp_path, rdap=False))

    assert looks_offline(results)
    assert results[0].problem == "could not resolve valid.test (DNS lookup failed, temporarily)"


async def test_names_that_do_not_exist_while_the_registry_answers_are_not_offline(
    world: LoopbackWorld,
) -> None:
    settings = Settings(ca_file=world.pki.ca_file, rdap_bootstrap=world.rdap_bootstrap)

    results = await check_all([Target("valid.test"), Target("expired.test")], settings)

    assert all(r.tls is not None and r.tls.error_kind is ErrorKind.NO_SUCH_DOMAIN for r in results)
    assert all(r.registration is not None and r.registration.expires for r in results)
    assert not looks_offline(results)


async def test_world_run_with_failures_of_other_kinds_is_not_offline(
    world: LoopbackWorld,
) -> None:
    results = await check_all(
        [Target("closed.test"), Target("valid.test")], world.settings(check_rdap=False)
    )

    assert not looks_offline(results)


_NETWORK_KINDS = [kind for kind in ErrorKind if kind.network_level]


@given(st.lists(st.sampled_from(list(ErrorKind)), min_size=1, max_size=8), st.randoms())
def test_offline_ignores_order_and_any_other_failure_breaks_it(
    kinds: list[ErrorKind], random: Random
) -> None:
    results = [failed(kind, name=f"n{i}.example") for i, kind in enumerate(kinds)]
    shuffled = results[:]
    random.shuffle(shuffled)

    assert looks_offline(results) == looks_offline(shuffled)
    if any(not kind.network_level for kind in kinds):
        assert not looks_offline(results)
    elif len(kinds) >= 2:
        assert looks_offline(results)


@given(st.lists(st.sampled_from(_NETWORK_KINDS), min_size=1, max_size=8))
def test_one_answer_anywhere_means_online(kinds: list[ErrorKind]) -> None:
    results = [failed(kind, name=f"n{i}.example") for i, kind in enumerate(kinds)]
    answered = Registration("z.example", expires=NOW + timedelta(days=30))

    assert not looks_offline([*results, failed(ErrorKind.DNS_TEMPORARY, answered)])
