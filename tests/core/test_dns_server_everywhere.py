"""``DOMAINCHECK_DNS_SERVER`` answers every name, not only the targets' (issue 13).

RDAP servers, CRL and OCSP responders are named here only in the loopback DNS
server; the system resolver (guarded in ``tests/conftest.py``) knows none of them,
so a lookup that reached it would fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from core.config import Settings
from core.dns import settings_resolver
from core.fetch import FetchFailed, fetch_bounded, make_client
from core.followup import FollowUp
from core.models import CertInfo, Revocation, RevocationMethod, RevocationStatus, Target
from core.rdap import RdapClient
from core.tls import Handshake
from tests.helpers.dns_server import DnsServer
from tests.helpers.pki import Pki, make_pki
from tests.helpers.rdap_server import RdapServer, write_bootstrap
from tests.helpers.revocation_server import CRL_PATH, OCSP_PATH, RevocationServer

IN_A_YEAR = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("dns-everywhere-pki"))


async def test_rdap_servers_are_resolved_through_the_dns_server(tmp_path: Path) -> None:
    with RdapServer() as server, DnsServer() as dns:
        dns.add_address("rdap.registry.test", "127.0.0.1")
        server.add_domain("example.test", IN_A_YEAR)
        bootstrap = write_bootstrap(
            tmp_path / "bootstrap.json", {"test": f"http://rdap.registry.test:{server.port}/rdap/"}
        )
        settings = Settings(dns_server=("127.0.0.1", dns.port), rdap_bootstrap=str(bootstrap))
        async with RdapClient.from_settings(
            settings, cache_dir=tmp_path, refresh_bootstrap=False
        ) as client:
            registration = await client.lookup(Target("www.example.test"))
    assert registration.error is None
    assert registration.expires == IN_A_YEAR


async def test_the_public_rule_applies_to_what_the_dns_server_answers(pki: Pki) -> None:
    """The backend's rule: a name the DNS server puts on loopback is refused."""
    with RevocationServer(pki.intermediate) as revocation, DnsServer() as dns:
        dns.add_address("crl.ca.test", "127.0.0.1")
        settings = Settings(dns_server=("127.0.0.1", dns.port))
        client = make_client(
            public_addresses_only=True,
            trusted_origins=frozenset(),
            resolve=settings_resolver(settings),
        )
        async with client:
            with pytest.raises(FetchFailed, match="private or local address"):
                await fetch_bounded(
                    client,
                    f"http://crl.ca.test:{revocation.port}{CRL_PATH}",
                    max_bytes=1024,
                    timeout_seconds=5,
                )
        assert dns.queries[("crl.ca.test", "A")] == 1
    assert revocation.request_log == []


async def test_crl_and_ocsp_responders_are_resolved_through_the_dns_server(
    pki: Pki, tmp_path: Path
) -> None:
    with RevocationServer(pki.intermediate) as revocation, DnsServer() as dns:
        dns.add_address("crl.ca.test", "127.0.0.1")
        dns.add_address("ocsp.ca.test", "127.0.0.1")
        port = revocation.port
        by_crl = pki.issue("dns-crl", ["c.test"], crl_url=f"http://crl.ca.test:{port}{CRL_PATH}")
        by_ocsp = pki.issue(
            "dns-ocsp", ["o.test"], ocsp_url=f"http://ocsp.ca.test:{port}{OCSP_PATH}"
        )
        settings = Settings(dns_server=("127.0.0.1", dns.port))
        followup = FollowUp.from_settings(settings, cache_dir=tmp_path)
        try:
            answers = [await followup.enrich(handshake(pki, f)) for f in (by_crl, by_ocsp)]
        finally:
            await followup.aclose()
    assert [a.revocation for a in answers] == [
        Revocation(RevocationStatus.GOOD, RevocationMethod.CRL),
        Revocation(RevocationStatus.GOOD, RevocationMethod.OCSP),
    ]
    assert revocation.requests_for(CRL_PATH) == 1
    assert revocation.requests_for(OCSP_PATH) == 1


def handshake(pki: Pki, files: object) -> Handshake:
    leaf = x509.load_pem_x509_certificate(files.cert_file.read_bytes())  # type: ignore[attr-defined]
    info = CertInfo(
        not_after=files.not_after,  # type: ignore[attr-defined]
        not_before=files.not_before,  # type: ignore[attr-defined]
        trusted=True,
    )
    return Handshake(info, leaf, pki.intermediate.cert)
