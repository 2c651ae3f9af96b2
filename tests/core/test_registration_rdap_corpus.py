"""The 30 real RDAP answers of ``../shared/corpora/rdap/`` through the loopback server.

One case per captured answer, with the values read from each by hand: the expiration
event (UTC), the registrar (``fn``, else ``org`` before the IANA id or handle; the
entity also marked ``sponsor`` when there are several: airport.fr), the statuses as
EPP codes (RFC 8056: ``client transfer prohibited`` → ``clientTransferProhibited``)
and the name servers. Answers without an expiration event are "unknown".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.models import Target
from core.rdap import RdapClient
from tests.helpers.rdap_server import RdapServer, write_bootstrap

RDAP_CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared/corpora/rdap/responses"

pytestmark = pytest.mark.skipif(not RDAP_CORPUS_DIR.is_dir(), reason="the shared corpus is missing")


@dataclasses.dataclass(frozen=True)
class RdapCase:
    domain: str
    expires: str | None
    registrar: str | None = None
    statuses: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()


CASES = (
    RdapCase(
        "abc.xyz",
        "2025-03-20T07:00:00",
        registrar="MarkMonitor Inc.",
        statuses=("clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    RdapCase(
        "afnic.fr",
        "2029-07-18T08:26:59",
        registrar="Registry Operations",
        statuses=("active",),
        nameservers=("ns2.nic.fr", "ns1.nic.fr", "ns3.nic.fr"),
    ),
    RdapCase("airport.fr", "2023-01-27T00:33:10", registrar="EXCEPTIONNEL", statuses=("inactive",)),
    RdapCase(
        "amazon.cyou",
        "2021-05-14T00:00:00",
        registrar="NOM-IQ Ltd dba Com Laude",
        statuses=("clientDeleteProhibited", "clientUpdateProhibited"),
        nameservers=("nsgbr.comlaude.co.uk", "nssui.comlaude.ch", "nsusa.comlaude.net"),
    ),
    RdapCase(
        "amazon.ooo",
        "2021-10-23T00:00:00",
        registrar="NOM-IQ Ltd dba Com Laude",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=("nsgbr.comlaude.co.uk", "nssui.comlaude.ch", "nsusa.comlaude.net"),
    ),
    RdapCase(
        "bitcoin.org",
        "2029-08-18T13:19:55",
        registrar="NAMECHEAP INC",
        statuses=("clientTransferProhibited",),
        nameservers=("dns1.registrar-servers.com", "dns2.registrar-servers.com"),
    ),
    RdapCase(
        "bitcoin.top",
        "2021-11-17T16:00:29",
        registrar="成都西维数码科技有限公司",
        statuses=("active",),
        nameservers=("ns1.72dns.com", "ns2.idc1.cn"),
    ),
    RdapCase(
        "bugatti.app",
        "2022-07-29T00:48:50.113000",
        registrar="Google LLC.",
        statuses=("clientTransferProhibited",),
        nameservers=(
            "ns-cloud-b1.googledomains.com",
            "ns-cloud-b2.googledomains.com",
            "ns-cloud-b3.googledomains.com",
            "ns-cloud-b4.googledomains.com",
        ),
    ),
    RdapCase(
        "deep.surf",
        "2021-07-01T14:05:58",
        registrar="NAMECHEAP INC",
        statuses=("clientTransferProhibited",),
        nameservers=(
            "ns-2005.awsdns-58.co.uk",
            "ns-22.awsdns-02.com",
            "ns-540.awsdns-03.net",
            "ns-1488.awsdns-58.org",
        ),
    ),
    RdapCase(
        "eksempel.dk",
        None,
        registrar=None,
        statuses=("active",),
        nameservers=("auth01.ns.dk-hostmaster.dk", "auth02.ns.dk-hostmaster.dk"),
    ),
    RdapCase("example.com", None, registrar=None, statuses=("active",)),
    RdapCase(
        "example.cz",
        "2019-08-30T12:00:00",
        registrar="REG-INTERNET-CZ",
        statuses=("active",),
        nameservers=("ns2.pipni.cz", "ns3.pipni.cz", "ns.pipni.cz"),
    ),
    RdapCase(
        "google.com",
        "2028-09-13T07:00:00",
        registrar="MarkMonitor Inc.",
        statuses=(
            "clientUpdateProhibited",
            "clientTransferProhibited",
            "clientDeleteProhibited",
            "serverUpdateProhibited",
            "serverTransferProhibited",
            "serverDeleteProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    RdapCase(
        "google.pw",
        "2022-02-10T08:00:00",
        registrar="MarkMonitor Inc.",
        statuses=("clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"),
    ),
    RdapCase(
        "hhgames.com",
        "2026-07-04T19:21:02",
        registrar="Sea Wasp, LLC",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=(
            "ns1.fabulous.com",
            "ns2.fabulous.com",
            "ns3.fabulous.com",
            "ns4.fabulous.com",
        ),
    ),
    RdapCase(
        "home.moscow",
        "2024-10-19T19:28:12",
        registrar='Limited Liability Company "Registrar of domain names REG.RU"',
        statuses=("clientTransferProhibited",),
        nameservers=("ns1.reg.ru", "ns2.reg.ru"),
    ),
    RdapCase(
        "iana.org",
        "2027-12-08T17:00:53",
        registrar="CSC Corporate Domains, Inc.",
        statuses=("serverDeleteProhibited", "serverTransferProhibited", "serverUpdateProhibited"),
        nameservers=(
            "ns.icann.org",
            "a.iana-servers.net",
            "b.iana-servers.net",
            "c.iana-servers.net",
        ),
    ),
    RdapCase(
        "identity.digital",
        "2026-09-10T16:00:01.587000",
        registrar="Name.com, Inc.",
        statuses=("clientTransferProhibited",),
        nameservers=(
            "ns-525.awsdns-01.net",
            "ns-1272.awsdns-31.org",
            "ns-1583.awsdns-05.co.uk",
            "ns-341.awsdns-42.com",
        ),
    ),
    RdapCase("jsiqpmcurt.design", None, registrar=None),
    RdapCase(
        "lemonde.fr",
        "2025-06-09T22:08:09",
        registrar="NAMESHIELD",
        statuses=("serverUpdateProhibited", "serverTransferProhibited", "serverDeleteProhibited"),
        nameservers=(
            "ns-cloud-b4.googledomains.com",
            "ns-cloud-b2.googledomains.com",
            "ns-cloud-b3.googledomains.com",
            "ns-cloud-b1.googledomains.com",
        ),
    ),
    RdapCase(
        "microsoft.click",
        "2024-11-12T19:15:55.283000",
        registrar="MarkMonitor Inc.",
        statuses=("clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"),
        nameservers=(
            "ns4-08.azure-dns.info",
            "ns2-08.azure-dns.net",
            "ns3-08.azure-dns.org",
            "ns1-08.azure-dns.com",
        ),
    ),
    RdapCase(
        "nic.cz",
        "2027-03-15T13:00:00",
        registrar="REG-CZNIC",
        statuses=("serverTransferProhibited",),
        nameservers=("a.ns.nic.cz", "b.ns.nic.cz", "d.ns.nic.cz"),
    ),
    RdapCase(
        "nic.it",
        "2025-12-31T22:59:59",
        registrar="REGISTRY-REG",
        statuses=("active",),
        nameservers=(
            "dns.nic.it",
            "a.dns.it",
            "v.dns.it",
            "nameserver.cnr.it",
            "m.dns.it",
            "r.dns.it",
        ),
    ),
    RdapCase(
        "nic.xyz",
        "2024-09-11T23:59:59",
        registrar="CentralNic Ltd",
        statuses=(
            "serverTransferProhibited",
            "serverUpdateProhibited",
            "serverDeleteProhibited",
            "serverRenewProhibited",
        ),
        nameservers=("x.nic.xyz", "y.nic.xyz", "z.nic.xyz", "generationxyz.nic.xyz"),
    ),
    RdapCase(
        "nomeo.com",
        "2026-10-10T01:55:12",
        registrar="Nomeo BV",
        statuses=("active",),
        nameservers=("ns53.be",),
    ),
    RdapCase(
        "norway.no",
        None,
        registrar="Domeneshop AS",
        nameservers=(
            "ns1-09.azure-dns.com",
            "ns2-09.azure-dns.net",
            "ns3-09.azure-dns.org",
            "ns4-09.azure-dns.info",
        ),
    ),
    RdapCase(
        "oneuptime.com",
        "2031-11-10T20:55:40",
        registrar="Cloudflare, Inc.",
        statuses=("clientTransferProhibited", "serverDeleteProhibited"),
        nameservers=("alla.ns.cloudflare.com", "bill.ns.cloudflare.com"),
    ),
    RdapCase(
        "something-not-real.com",
        "2024-07-05T00:00:00",
        registrar="IANA Registrar ID 1250",
        statuses=("active",),
    ),
    RdapCase(
        "themarquetry.com",
        "2022-03-16T17:07:37",
        registrar="Hosting Concepts B.V. d/b/a Registrar.eu",
        statuses=("clientTransferProhibited",),
        nameservers=("ns1.dns-parking.com", "ns2.dns-parking.com"),
    ),
    RdapCase(
        "you.tube",
        "2022-04-16T23:59:59",
        registrar="MarkMonitor, Inc.",
        statuses=("clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"),
        nameservers=(
            "ns3.googledomains.com",
            "ns1.googledomains.com",
            "ns2.googledomains.com",
            "ns4.googledomains.com",
        ),
    ),
)


@pytest.fixture(scope="module")
def server() -> Iterator[RdapServer]:
    with RdapServer() as rdap_server:
        for path in RDAP_CORPUS_DIR.glob("*.json"):
            rdap_server.add_raw(path.name[: -len(".json")], path.read_bytes())
        yield rdap_server


def test_every_corpus_answer_has_a_case() -> None:
    files = {path.name[: -len(".json")] for path in RDAP_CORPUS_DIR.glob("*.json")}
    assert files == {case.domain for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.domain)
async def test_corpus_answer(case: RdapCase, server: RdapServer, tmp_path: Path) -> None:
    tld = case.domain.rsplit(".", 1)[-1]
    bootstrap = write_bootstrap(tmp_path / "dns.json", {tld: server.base_url})
    async with RdapClient(
        bootstrap=str(bootstrap), cache_dir=tmp_path, refresh_bootstrap=False
    ) as client:
        registration = await client.lookup(Target(case.domain))
    assert registration.method == "rdap"
    assert registration.source == server.domain_url(case.domain)
    if case.expires is None:
        assert registration.unknown
        assert registration.error == "registry publishes no expiry date"
    else:
        assert registration.error is None
        expected = datetime.fromisoformat(case.expires).replace(tzinfo=UTC)
        assert registration.expires == expected
    assert registration.registrar == case.registrar
    assert registration.statuses == case.statuses
    assert registration.nameservers == case.nameservers
