"""CRL and OCSP checks (core/revocation.py) against the loopback revocation server.

The certificates come from the test PKI, the CRL and OCSP answers from
``tests.helpers.revocation_server`` (signed by the issuing CA, as a real CA does).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from core.models import Revocation, RevocationMethod, RevocationStatus
from core.revocation import RevocationChecker, crl_urls, ocsp_urls
from tests.helpers.pki import Pki, make_ca, make_pki
from tests.helpers.revocation_server import CRL_PATH, OCSP_PATH, VALIDITY, RevocationServer
from tests.helpers.tls_server import closed_port

REVOKED_AT = datetime(2026, 5, 12, 8, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("revocation-pki"))


@pytest.fixture
def server(pki: Pki) -> Iterator[RevocationServer]:
    with RevocationServer(pki.intermediate) as running:
        yield running


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def checker(tmp_path: Path, **kw: object) -> RevocationChecker:
    return RevocationChecker(
        httpx.AsyncClient(),
        timeout_seconds=2,
        cache_dir=tmp_path,
        **kw,  # type: ignore[arg-type]
    )


async def test_a_serial_on_the_crl_is_revoked_with_time_and_reason(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    files = pki.issue("crl-revoked", ["r.test"], crl_url=server.crl_url)
    server.revoke(files.serial_number, REVOKED_AT, x509.ReasonFlags.key_compromise)
    answer = await checker(tmp_path).check(load(files.cert_file), pki.intermediate.cert)
    assert answer == Revocation(
        RevocationStatus.REVOKED, RevocationMethod.CRL, REVOKED_AT, "keyCompromise"
    )


async def test_a_serial_not_on_the_crl_is_good_and_the_crl_is_fetched_once(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    good = pki.issue("crl-good", ["g.test"], crl_url=server.crl_url)
    other = pki.issue("crl-good-2", ["g2.test"], crl_url=server.crl_url)
    revocations = checker(tmp_path)
    for files in (good, other):
        answer = await revocations.check(load(files.cert_file), pki.intermediate.cert)
        assert answer == Revocation(RevocationStatus.GOOD, RevocationMethod.CRL)
    # A new run reads the CRL from the disk cache until its nextUpdate.
    await checker(tmp_path).check(load(good.cert_file), pki.intermediate.cert)
    assert server.requests_for(CRL_PATH) == 1


async def test_a_stale_cached_crl_is_fetched_again(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    files = pki.issue("crl-stale", ["s.test"], crl_url=server.crl_url)
    await checker(tmp_path).check(load(files.cert_file), pki.intermediate.cert)
    later = checker(tmp_path, clock=lambda: datetime.now(UTC) + timedelta(days=2))
    await later.check(load(files.cert_file), pki.intermediate.cert)
    assert server.requests_for(CRL_PATH) == 2


async def test_a_crl_signed_by_another_ca_is_not_believed(pki: Pki, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    impostor = make_ca(
        "Domain Check Test Intermediate CA",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    with RevocationServer(impostor) as forged:
        files = pki.issue("crl-forged", ["f.test"], crl_url=forged.crl_url)
        forged.revoke(files.serial_number, REVOKED_AT, x509.ReasonFlags.key_compromise)
        answer = await checker(tmp_path).check(load(files.cert_file), pki.intermediate.cert)
    assert answer.status is RevocationStatus.UNKNOWN


async def test_an_unreachable_or_oversized_crl_is_unknown(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    gone = pki.issue("crl-gone", ["u.test"], crl_url=f"http://127.0.0.1:{closed_port()}/x.crl")
    answer = await checker(tmp_path).check(load(gone.cert_file), pki.intermediate.cert)
    assert answer == Revocation(RevocationStatus.UNKNOWN)
    big = pki.issue("crl-big", ["b.test"], crl_url=server.crl_url)
    tiny = checker(tmp_path, max_crl_bytes=64, use_disk=False)
    assert (await tiny.check(load(big.cert_file), pki.intermediate.cert)).status is (
        RevocationStatus.UNKNOWN
    )


async def test_ocsp_answers_good_and_revoked(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    good = pki.issue("ocsp-good", ["og.test"], ocsp_url=server.ocsp_url)
    revoked = pki.issue("ocsp-revoked", ["or.test"], ocsp_url=server.ocsp_url)
    server.revoke(revoked.serial_number, REVOKED_AT, x509.ReasonFlags.superseded)
    revocations = checker(tmp_path)
    issuer = pki.intermediate.cert
    assert await revocations.check(load(good.cert_file), issuer) == Revocation(
        RevocationStatus.GOOD, RevocationMethod.OCSP
    )
    assert await revocations.check(load(revoked.cert_file), issuer) == Revocation(
        RevocationStatus.REVOKED, RevocationMethod.OCSP, REVOKED_AT, "superseded"
    )
    assert server.requests_for(OCSP_PATH) == 2


async def test_ocsp_answer_from_another_key_is_not_believed(pki: Pki, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    impostor = make_ca(
        "Domain Check Test Intermediate CA",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    with RevocationServer(impostor) as forged:
        files = pki.issue("ocsp-forged", ["of.test"], ocsp_url=forged.ocsp_url)
        forged.revoke(files.serial_number, REVOKED_AT, x509.ReasonFlags.key_compromise)
        answer = await checker(tmp_path).check(load(files.cert_file), pki.intermediate.cert)
    assert answer.status is RevocationStatus.UNKNOWN


async def test_the_crl_is_asked_first_and_ocsp_when_it_gives_no_answer(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    gone = f"http://127.0.0.1:{closed_port()}/x.crl"
    files = pki.issue("both", ["both.test"], crl_url=gone, ocsp_url=server.ocsp_url)
    answer = await checker(tmp_path).check(load(files.cert_file), pki.intermediate.cert)
    assert answer == Revocation(RevocationStatus.GOOD, RevocationMethod.OCSP)


async def test_without_urls_or_issuer_nothing_is_fetched(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    plain = pki.issue("plain-rev", ["p.test"])
    assert crl_urls(load(plain.cert_file)) == [] and ocsp_urls(load(plain.cert_file)) == []
    revocations = checker(tmp_path)
    unknown = Revocation(RevocationStatus.UNKNOWN)
    assert await revocations.check(load(plain.cert_file), pki.intermediate.cert) == unknown
    named = pki.issue("no-issuer", ["n.test"], crl_url=server.crl_url)
    assert await revocations.check(load(named.cert_file), None) == unknown
    assert server.request_log == []


# --------------------------------------------------------------------------- replay, memory


async def test_an_out_of_date_crl_is_no_answer(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    """A replayed old plain-http CRL must not hide a revocation made since."""
    server.issued_ago = timedelta(days=8)
    server.valid_for = -timedelta(days=1)  # nextUpdate passed a day ago
    files = pki.issue("crl-old", ["old.test"], crl_url=server.crl_url)
    revocations = checker(tmp_path)
    issuer = pki.intermediate.cert
    assert await revocations.check(load(files.cert_file), issuer) == Revocation(
        RevocationStatus.UNKNOWN
    )
    assert list((tmp_path / "crl").glob("*")) == []  # not kept either
    server.issued_ago, server.valid_for = timedelta(hours=1), VALIDITY  # the CA's new list
    assert await revocations.check(load(files.cert_file), issuer) == Revocation(
        RevocationStatus.GOOD, RevocationMethod.CRL
    )
    assert server.requests_for(CRL_PATH) == 2


async def test_an_out_of_date_crl_falls_back_to_a_current_ocsp_answer(
    pki: Pki, tmp_path: Path
) -> None:
    with RevocationServer(pki.intermediate) as old_crl, RevocationServer(pki.intermediate) as ocsp:
        old_crl.issued_ago = timedelta(days=8)
        old_crl.valid_for = -timedelta(days=1)
        files = pki.issue(
            "crl-old-then-ocsp", ["o.test"], crl_url=old_crl.crl_url, ocsp_url=ocsp.ocsp_url
        )
        ocsp.revoke(files.serial_number, REVOKED_AT, x509.ReasonFlags.key_compromise)
        answer = await checker(tmp_path).check(load(files.cert_file), pki.intermediate.cert)
    assert answer == Revocation(
        RevocationStatus.REVOKED, RevocationMethod.OCSP, REVOKED_AT, "keyCompromise"
    )


async def test_an_ocsp_answer_without_next_update_counts_only_while_fresh(
    pki: Pki, server: RevocationServer, tmp_path: Path
) -> None:
    files = pki.issue("ocsp-no-next", ["nn.test"], ocsp_url=server.ocsp_url)
    issuer = pki.intermediate.cert
    server.valid_for = None
    server.issued_ago = timedelta(minutes=10)  # made just now: believed
    assert await checker(tmp_path).check(load(files.cert_file), issuer) == Revocation(
        RevocationStatus.GOOD, RevocationMethod.OCSP
    )
    server.issued_ago = timedelta(days=30)  # a month old, replayed: says nothing
    assert await checker(tmp_path).check(load(files.cert_file), issuer) == Revocation(
        RevocationStatus.UNKNOWN
    )


async def test_a_crl_that_does_not_verify_is_neither_kept_nor_written(
    pki: Pki, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    impostor = make_ca(
        "Domain Check Test Intermediate CA",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    with RevocationServer(impostor) as forged:
        files = pki.issue("crl-forged-2", ["f2.test"], crl_url=forged.crl_url)
        revocations = checker(tmp_path)
        for _ in range(2):
            answer = await revocations.check(load(files.cert_file), pki.intermediate.cert)
            assert answer.status is RevocationStatus.UNKNOWN
    assert list((tmp_path / "crl").glob("*")) == []
    assert revocations._crls == {}


async def test_one_run_loads_a_bounded_amount_of_crls(pki: Pki, tmp_path: Path) -> None:
    with RevocationServer(pki.intermediate) as first, RevocationServer(pki.intermediate) as second:
        one = pki.issue("crl-budget-1", ["b1.test"], crl_url=first.crl_url)
        two = pki.issue("crl-budget-2", ["b2.test"], crl_url=second.crl_url)
        size = len(first.crl().public_bytes(Encoding.DER))
        revocations = checker(tmp_path, max_total_crl_bytes=size + size // 2, use_disk=False)
        issuer = pki.intermediate.cert
        assert (await revocations.check(load(one.cert_file), issuer)).status is (
            RevocationStatus.GOOD
        )
        assert (await revocations.check(load(two.cert_file), issuer)).status is (
            RevocationStatus.UNKNOWN
        )
    assert first.requests_for(CRL_PATH) == 1
