"""The checks after a handshake (core/followup.py), the settings that drive them, and
the JSON round trip of what they add."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from core.config import Settings
from core.errors import UsageError
from core.fetch import FetchFailed, fetch_bounded, retry_after_seconds
from core.followup import FollowUp
from core.models import (
    CertInfo,
    CheckResult,
    RenewalInfo,
    Revocation,
    RevocationMethod,
    RevocationStatus,
    Target,
)
from core.report import result_from_dict, result_to_dict
from core.tls import Handshake
from tests.helpers.pki import Pki, make_pki

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("followup-pki"))


def handshake(pki: Pki, **urls: str) -> Handshake:
    files = pki.issue("followup", ["f.test"], **urls)
    leaf = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    info = CertInfo(not_after=files.not_after, not_before=files.not_before, trusted=True)
    return Handshake(info, leaf, pki.intermediate.cert)


# --------------------------------------------------------------------------- follow-up


async def test_a_hanging_crl_server_gives_unknown_not_an_error(pki: Pki, tmp_path: Path) -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(never))
    settings = Settings(timeout_seconds=0.2)
    followup = FollowUp.from_settings(settings, client=client, cache_dir=tmp_path)
    info = await followup.enrich(handshake(pki, crl_url="http://crl.example/ca.crl"))
    assert info.revocation == Revocation(RevocationStatus.UNKNOWN)
    assert info.renewal is None
    await client.aclose()


async def test_no_revocation_leaves_it_out_and_fetches_nothing(pki: Pki, tmp_path: Path) -> None:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    settings = Settings(check_revocation=False)
    followup = FollowUp.from_settings(settings, client=client, cache_dir=tmp_path)
    info = await followup.enrich(handshake(pki, crl_url="http://crl.example/ca.crl"))
    assert info.revocation is None
    assert requests == []
    await client.aclose()


@pytest.mark.parametrize("trusted", [False, None])
async def test_an_untrusted_chain_is_not_followed_up(
    pki: Pki, tmp_path: Path, trusted: bool | None
) -> None:
    """Its URLs and its "issuer" are the server's say-so: nothing is downloaded."""
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    followup = FollowUp.from_settings(Settings(), client=client, cache_dir=tmp_path)
    seen = handshake(pki, crl_url="http://crl.example/ca.crl", ocsp_url="http://ocsp.example/")
    untrusted = dataclasses.replace(seen, info=dataclasses.replace(seen.info, trusted=trusted))
    info = await followup.enrich(untrusted)
    assert info.revocation == Revocation(RevocationStatus.UNKNOWN)  # not asked: unknown
    assert info.renewal is None
    assert requests == []
    await followup.enrich(seen)  # the same certificate, trusted: asked
    assert any(r.url.host == "crl.example" for r in requests)
    await client.aclose()


async def test_a_failed_handshake_is_passed_through(tmp_path: Path) -> None:
    followup = FollowUp.from_settings(Settings(), cache_dir=tmp_path)
    failed = Handshake(CertInfo(error="connection refused on port 443"))
    assert await followup.enrich(failed) is failed.info
    await followup.aclose()


async def test_the_public_rule_refuses_a_crl_on_a_private_address(pki: Pki, tmp_path: Path) -> None:
    followup = FollowUp.from_settings(Settings(public_addresses_only=True), cache_dir=tmp_path)
    info = await followup.enrich(handshake(pki, crl_url="http://10.0.0.1/ca.crl"))
    assert info.revocation == Revocation(RevocationStatus.UNKNOWN)
    await followup.aclose()


# --------------------------------------------------------------------------- fetch


async def test_fetch_refuses_a_body_larger_than_the_limit() -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2048)

    async with httpx.AsyncClient(transport=httpx.MockTransport(big)) as client:
        with pytest.raises(FetchFailed, match="too large"):
            await fetch_bounded(client, "http://a.example/", max_bytes=1024, timeout_seconds=2)
        answer = await fetch_bounded(client, "http://a.example/", max_bytes=4096, timeout_seconds=2)
        assert answer.status == 200 and len(answer.body) == 2048

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 512

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # no Content-Length: counted as read

    async with httpx.AsyncClient(transport=httpx.MockTransport(streamed)) as client:
        with pytest.raises(FetchFailed, match="larger than 1,024 bytes"):
            await fetch_bounded(client, "http://a.example/", max_bytes=1024, timeout_seconds=2)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "120"}), NOW) == 120
    date = "Mon, 23 Nov 2026 12:10:00 GMT"
    assert retry_after_seconds(httpx.Headers({"Retry-After": date}), NOW) == 600
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"}), NOW) is None
    assert retry_after_seconds(httpx.Headers(), NOW) is None


# --------------------------------------------------------------------------- settings


def test_settings_validate_the_new_options() -> None:
    with pytest.raises(UsageError, match="lifetime fraction"):
        Settings(lifetime_fraction=1.5)
    with pytest.raises(UsageError, match="lifetime fraction"):
        Settings(lifetime_fraction=float("nan"))
    with pytest.raises(UsageError, match="ACME directory must be an http"):
        Settings(acme_directory="file:///etc/passwd")
    assert Settings(lifetime_fraction=0).lifetime_fraction == 0


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DOMAINCHECK_LIFETIME_FRACTION": "0.25",
            "DOMAINCHECK_ACME_DIRECTORY": "https://acme.example/directory",
        }
    )
    assert settings.lifetime_fraction == 0.25
    assert settings.acme_directory == "https://acme.example/directory"
    with pytest.raises(UsageError, match="DOMAINCHECK_LIFETIME_FRACTION"):
        Settings.from_env({"DOMAINCHECK_LIFETIME_FRACTION": "a third"})


# --------------------------------------------------------------------------- documents


def test_renewal_revocation_and_threshold_survive_the_json_round_trip() -> None:
    tls = CertInfo(
        not_after=NOW + timedelta(days=40),
        not_before=NOW - timedelta(days=50),
        trusted=True,
        hostname_match=True,
        renewal=RenewalInfo(NOW - timedelta(days=2), NOW - timedelta(days=1), "https://x.example"),
        revocation=Revocation(
            RevocationStatus.REVOKED, RevocationMethod.OCSP, NOW - timedelta(days=3), "superseded"
        ),
    )
    result = CheckResult(Target("a.example", threshold_days=7), tls, None, NOW, 7)
    data = result_to_dict(result)
    assert data["threshold_days"] == 7
    assert data["tls"]["lifetime_days"] == 90.0
    back = result_from_dict(data, checked_at=NOW, threshold_days=30)
    assert back.threshold_days == 7
    assert back.tls == tls
    assert back.status is result.status
    assert back.problem == result.problem


def test_documents_from_before_issue_15_still_load() -> None:
    data = result_to_dict(
        CheckResult(
            Target("a.example"),
            CertInfo(not_after=NOW + timedelta(days=90), not_before=NOW, trusted=True),
            None,
            NOW,
            30,
        )
    )
    for key in ("lifetime_days", "renewal", "revocation"):
        del data["tls"][key]
    del data["threshold_days"]
    data["tls"]["revocation"] = {"status": "from-the-future", "method": "carrier-pigeon"}
    back = result_from_dict(data, checked_at=NOW, threshold_days=21)
    assert back.threshold_days == 21
    assert back.tls is not None and back.tls.renewal is None
    assert back.tls.revocation == Revocation(RevocationStatus.UNKNOWN)
