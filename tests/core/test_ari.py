"""ACME Renewal Information client (core/ari.py) with an injected transport.

The end-to-end cases against the loopback ACME server are in test_lifetime_cli.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.ari import KNOWN_ACME_DIRECTORIES, AriClient, acme_directory_for, cert_id
from core.models import RenewalInfo

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DIRECTORY = "https://acme.example/directory"
RENEWAL_BASE = "https://acme.example/renewal-info"
WINDOW = {"start": "2026-12-20T00:00:00Z", "end": "2026-12-22T00:00:00Z"}
_KEY = ec.generate_private_key(ec.SECP256R1())
#: The Authority Key Identifier of RFC 9773's example.
RFC_KEY_ID = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")


def certificate(
    *,
    serial: int = 0x87654321,
    key_id: bytes | None = RFC_KEY_ID,
    organization: str = "Let's Encrypt",
    issuer_cn: str = "R11",
) -> x509.Certificate:
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.example")]))
        .issuer_name(issuer)
        .public_key(_KEY.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=60))
    )
    if key_id is not None:
        aki = x509.AuthorityKeyIdentifier(key_id, None, None)
        builder = builder.add_extension(aki, critical=False)
    return builder.sign(_KEY, hashes.SHA256())


class FakeAcme:
    """An ACME server as an httpx handler: a directory and scripted renewal answers."""

    def __init__(self, answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if str(request.url) == DIRECTORY:
            return httpx.Response(200, json={"renewalInfo": RENEWAL_BASE})
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    tmp_path: Path,
    *,
    sleeps: list[float] | None = None,
    clock: Callable[[], datetime] = lambda: NOW,
    directory: str | None = DIRECTORY,
) -> AriClient:
    async def fake_sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return AriClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        directory=directory,
        cache_dir=tmp_path,
        clock=clock,
        sleep=fake_sleep,
    )


def test_cert_id_is_the_rfc_9773_example() -> None:
    """RFC 9773 section 4.1: keyIdentifier 69:88:5B:..., serial 0x0087654321."""
    assert cert_id(certificate()) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_cert_id_keeps_a_serial_without_its_top_bit_short() -> None:
    assert cert_id(certificate(serial=0x1234)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.EjQ"


def test_no_cert_id_without_an_authority_key_identifier() -> None:
    assert cert_id(certificate(key_id=None)) is None


@pytest.mark.parametrize(
    ("organization", "issuer_cn", "expected"),
    [
        ("Let's Encrypt", "R11", KNOWN_ACME_DIRECTORIES["Let's Encrypt"]),
        ("Google Trust Services", "WR1", "https://dv.acme-v02.api.pki.goog/directory"),
        ("ZeroSSL", "ZeroSSL RSA Domain Secure Site CA", "https://acme.zerossl.com/v2/DV90"),
        ("Buypass AS-983163327", "Buypass Class 2 CA 5", "https://api.buypass.com/acme/directory"),
        ("SSL Corporation", "SSL.com RSA SSL subCA", "https://acme.ssl.com/sslcom-dv-rsa"),
        ("SSL Corporation", "SSL.com SSL ECC subCA", "https://acme.ssl.com/sslcom-dv-ecc"),
        ("DigiCert Inc", "DigiCert Global G2 TLS RSA SHA256 2020 CA1", None),
    ],
)
def test_known_issuers_map_to_their_acme_directory(
    organization: str, issuer_cn: str, expected: str | None
) -> None:
    leaf = certificate(organization=organization, issuer_cn=issuer_cn)
    assert acme_directory_for(leaf) == expected


async def test_a_window_is_read_and_cached_per_certificate(tmp_path: Path) -> None:
    acme = FakeAcme([httpx.Response(200, json={"suggestedWindow": WINDOW})])
    client = make_client(acme, tmp_path)
    first = await client.renewal_info(certificate())
    second = await client.renewal_info(certificate())
    assert (
        first
        == second
        == RenewalInfo(datetime(2026, 12, 20, tzinfo=UTC), datetime(2026, 12, 22, tzinfo=UTC), None)
    )
    assert acme.paths == ["/directory", "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"]
    # A new run (a new client) reads the disk cache: no request.
    again = make_client(acme, tmp_path)
    assert await again.renewal_info(certificate()) == first
    assert len(acme.paths) == 2


async def test_the_cache_expires_at_retry_after(tmp_path: Path) -> None:
    now = [NOW]
    answer = httpx.Response(200, json={"suggestedWindow": WINDOW}, headers={"Retry-After": "60"})
    acme = FakeAcme([answer])
    client = make_client(acme, tmp_path, clock=lambda: now[0])
    await client.renewal_info(certificate())
    now[0] = NOW + timedelta(seconds=59)
    await client.renewal_info(certificate())
    assert len(acme.paths) == 2
    now[0] = NOW + timedelta(seconds=61)
    await client.renewal_info(certificate())
    assert len(acme.paths) == 3


async def test_explanation_url_is_kept(tmp_path: Path) -> None:
    body = {"suggestedWindow": WINDOW, "explanationURL": "https://ca.example/why"}
    client = make_client(FakeAcme([httpx.Response(200, json=body)]), tmp_path)
    info = await client.renewal_info(certificate())
    assert info is not None and info.explanation_url == "https://ca.example/why"


async def test_a_short_retry_after_is_waited_for_once(tmp_path: Path) -> None:
    sleeps: list[float] = []
    acme = FakeAcme(
        [
            httpx.Response(503, headers={"Retry-After": "2"}),
            httpx.Response(200, json={"suggestedWindow": WINDOW}),
        ]
    )
    info = await make_client(acme, tmp_path, sleeps=sleeps).renewal_info(certificate())
    assert info is not None
    assert sleeps == [2.0]
    assert len(acme.paths) == 3  # directory, 503, 200


async def test_a_second_short_retry_after_is_not_waited_for_again(tmp_path: Path) -> None:
    sleeps: list[float] = []
    acme = FakeAcme([httpx.Response(503, headers={"Retry-After": "1"})])
    client = make_client(acme, tmp_path, sleeps=sleeps)
    assert await client.renewal_info(certificate()) is None
    assert sleeps == [1.0]
    assert len(acme.paths) == 3


async def test_a_long_retry_after_is_remembered(tmp_path: Path) -> None:
    now = [NOW]
    sleeps: list[float] = []
    acme = FakeAcme([httpx.Response(429, headers={"Retry-After": "3600"})])
    client = make_client(acme, tmp_path, sleeps=sleeps, clock=lambda: now[0])
    assert await client.renewal_info(certificate()) is None
    assert await client.renewal_info(certificate()) is None
    assert (
        await make_client(acme, tmp_path, clock=lambda: now[0]).renewal_info(certificate()) is None
    )
    assert sleeps == []
    assert len(acme.paths) == 2  # directory and one refusal; then nothing until later
    now[0] = NOW + timedelta(hours=1, seconds=1)
    await client.renewal_info(certificate())
    assert len(acme.paths) == 3


async def test_404_means_no_renewal_information(tmp_path: Path) -> None:
    acme = FakeAcme([httpx.Response(404, json={"type": "urn:ietf:params:acme:error:malformed"})])
    assert await make_client(acme, tmp_path).renewal_info(certificate()) is None


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, json={"suggestedWindow": {"start": "yesterday"}}),
        httpx.Response(
            200, json={"suggestedWindow": {"start": WINDOW["end"], "end": WINDOW["start"]}}
        ),
        httpx.Response(500),
        httpx.Response(200, content=b"x" * 100_000),
    ],
)
async def test_bad_answers_give_no_renewal_information(
    tmp_path: Path, answer: httpx.Response
) -> None:
    assert await make_client(FakeAcme([answer]), tmp_path).renewal_info(certificate()) is None


async def test_an_unreachable_server_gives_none_and_is_asked_once_per_run(
    tmp_path: Path,
) -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        raise httpx.ConnectError("refused", request=request)

    client = make_client(refuse, tmp_path)
    assert await client.renewal_info(certificate()) is None
    assert await client.renewal_info(certificate(serial=2)) is None
    assert calls == [DIRECTORY]
    # The next run asks again: nothing was cached.
    assert await make_client(refuse, tmp_path).renewal_info(certificate()) is None
    assert calls == [DIRECTORY, DIRECTORY]


async def test_unknown_issuers_are_not_asked_without_a_directory(tmp_path: Path) -> None:
    calls: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(500)

    client = make_client(record, tmp_path, directory=None)
    assert await client.renewal_info(certificate(organization="Example CA")) is None
    assert calls == []


async def test_a_directory_without_renewal_info_gives_none(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"newOrder": "x"}).encode())

    assert await make_client(handler, tmp_path).renewal_info(certificate()) is None
