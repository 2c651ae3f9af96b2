"""Every real WHOIS answer of ``../shared/corpora/whois/`` through the loopback server.

One case per corpus file (117 answers, 70 TLDs), with the values read from each
answer by hand: expiry (UTC), registrar, EPP statuses and name servers where the
answer has them, "not found" answers, and registered names whose registry publishes
no expiry. The client asks the loopback "IANA" for the TLD's server first, then the
"registry" (the same loopback server, reached through a connect-to rule).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.whois import WhoisClient
from core.whois_parse import NO_EXPIRY_TLDS
from tests.helpers.whois_server import CORPUS_DIR, WhoisServer

pytestmark = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(), reason=f"the shared corpus is not beside the project: {CORPUS_DIR}"
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A registered name: its expiry (``None``: the answer has none) and details."""

    domain: str
    expires: str | None
    registrar: str | None = None
    statuses: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class NotFound:
    """An answer saying the registry has no such name."""

    domain: str


CASES: tuple[Case | NotFound, ...] = (
    Case(
        "amazon.co.uk",
        "2020-12-05T00:00:00",
        registrar="Amazon.com, Inc. t/a Amazon.com, Inc. [Tag = AMAZON-COM]",
        nameservers=(
            "ns1.p31.dynect.net",
            "ns2.p31.dynect.net",
            "ns3.p31.dynect.net",
            "ns4.p31.dynect.net",
            "pdns1.ultradns.net",
            "pdns2.ultradns.net",
            "pdns3.ultradns.org",
            "pdns4.ultradns.org",
            "pdns5.ultradns.info",
            "pdns6.ultradns.co.uk",
        ),
    ),
    Case(
        "amazon.it",
        "2022-01-12T00:00:00",
        registrar="Hogan Lovells (Paris) LLP",
        statuses=("ok",),
        nameservers=(
            "pdns1.ultradns.net",
            "pdns3.ultradns.org",
            "pdns4.ultradns.org",
            "pdns5.ultradns.info",
            "ns1.p31.dynect.net",
            "ns2.p31.dynect.net",
        ),
    ),
    Case(
        "app.nl",
        None,
        registrar="Hosting Secure",
        statuses=("active",),
        nameservers=("ns1.hoasted.nl", "ns2.hoasted.eu", "ns3.hoasted.com"),
    ),
    Case(
        "domena.pl",
        "2032-05-19T00:00:00",
        registrar="Domena.pl sp. z o.o.",
        nameservers=("ns1.domena.pl",),
    ),
    NotFound("dsfasdfasdfasdfasdfgdarstasdasdf.br"),
    NotFound("dsfasdfsdfasdfasdfsadfsadtrwedfs.pl"),
    NotFound("dsfasdfsdfsadfrterfdsgdf.it"),
    NotFound("dsfdsafasdfasdfsadf.com"),
    NotFound("dsfsadfasdfsaftsdfasdfgadfgf.be"),
    NotFound("dsfsdfasdfasdfasdfasdf.co.uk"),
    Case(
        "eurid.eu",
        None,
        registrar="EURid vzw",
        nameservers=(
            "ns3.eurid.eu",
            "nsx.eurid.eu",
            "ns1.eurid.eu",
            "ns2.eurid.eu",
            "ns4.eurid.eu",
            "nsp.netnod.se",
        ),
    ),
    Case(
        "facebook.de",
        None,
        registrar=None,
        nameservers=(
            "a.ns.facebook.com",
            "b.ns.facebook.com",
            "c.ns.facebook.com",
            "d.ns.facebook.com",
        ),
    ),
    Case(
        "github.io",
        "2023-03-08T08:00:00",
        registrar="MarkMonitor, Inc.",
        statuses=("clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"),
        nameservers=(
            "dns3.p05.nsone.net",
            "dns1.p05.nsone.net",
            "ns-692.awsdns-22.net",
            "dns2.p05.nsone.net",
            "ns-1622.awsdns-10.co.uk",
        ),
    ),
    Case(
        "google.ai",
        "2025-09-25T05:37:20",
        registrar="MarkMonitor Inc.",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=("ns2.zdns.google", "ns3.zdns.google", "ns4.zdns.google", "ns1.zdns.google"),
    ),
    Case(
        "google.be",
        None,
        registrar="Markmonitor Inc.",
        nameservers=("ns3.google.com", "ns1.google.com", "ns2.google.com", "ns4.google.com"),
    ),
    Case(
        "google.ca",
        "2020-04-28T04:00:00",
        registrar="MarkMonitor International Canada Ltd.",
        statuses=(
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.cc",
        "2018-06-07T04:00:00",
        registrar="MARKMONITOR INC.",
        statuses=(
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.ch",
        None,
        registrar="MarkMonitor",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.cl",
        "2025-11-20T17:48:02",
        registrar="MarkMonitor Inc.",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.cn",
        "2026-03-17T12:48:36",
        registrar="厦门易名科技股份有限公司",
        statuses=(
            "clientDeleteProhibited",
            "serverDeleteProhibited",
            "serverUpdateProhibited",
            "clientTransferProhibited",
            "serverTransferProhibited",
        ),
        nameservers=("ns2.google.com", "ns1.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.co.il",
        "2026-06-05T00:00:00",
        registrar="Domain The Net Technologies Ltd",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.co",
        "2021-02-24T23:59:59",
        registrar="MarkMonitor, Inc.",
        statuses=("clientUpdateProhibited", "clientDeleteProhibited", "clientTransferProhibited"),
        nameservers=("ns3.google.com", "ns1.google.com", "ns2.google.com", "ns4.google.com"),
    ),
    Case(
        "google.co.za",
        "2017-06-25T20:37:59",
        registrar="MarkMonitor",
        statuses=("ok",),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.com.br",
        "2020-05-18T00:00:00",
        registrar=None,
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.com.sg",
        "2025-07-04T16:00:00",
        registrar="MarkMonitor Inc.",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.com.tr",
        "2020-08-22T00:00:00",
        registrar=None,
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.com",
        "2020-09-14T04:00:00",
        registrar="MarkMonitor Inc.",
        statuses=(
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.dk",
        "2026-03-31T00:00:00",
        registrar="MarkMonitor Inc.",
        statuses=("active",),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.ee",
        "2025-11-09T00:00:00",
        registrar="Zone Media OÜ",
        statuses=("ok",),
        nameservers=("ns4.google.com", "ns3.google.com", "ns2.google.com", "ns1.google.com"),
    ),
    Case("google.es", None, registrar=None),
    Case(
        "google.fi",
        "2023-07-04T10:15:55",
        registrar="MarkMonitor Inc.",
        nameservers=("ns3.google.com", "ns4.google.com", "ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.fr",
        "2026-12-30T17:16:48",
        registrar="MARKMONITOR Inc.",
        statuses=(
            "active",
            "serverUpdateProhibited",
            "serverTransferProhibited",
            "serverDeleteProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.hk",
        "2026-03-31T00:00:00",
        registrar="MARKMONITOR INC.",
        statuses=("active",),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.hr",
        "2025-09-20T22:00:00",
        registrar="Sayber d.o.o.",
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    Case("google.hu", None, registrar=None),
    Case(
        "google.ie",
        "2022-03-21T14:13:27",
        registrar="Markmonitor Inc",
        statuses=("serverDeleteProhibited", "serverTransferProhibited", "serverUpdateProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com"),
    ),
    Case(
        "google.im",
        "2025-08-14T23:59:41",
        registrar=None,
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.in",
        "2020-02-14T20:35:14",
        registrar="MarkMonitor Inc.",
        statuses=("clientTransferProhibited", "clientDeleteProhibited", "clientUpdateProhibited"),
        nameservers=("ns4.google.com", "ns2.google.com", "ns1.google.com", "ns3.google.com"),
    ),
    Case(
        "google.info",
        "2021-07-31T23:57:50",
        registrar="MarkMonitor Inc.",
        statuses=(
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.io",
        "2018-09-30T01:00:00",
        registrar="MarkMonitor Inc.",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.is",
        "2026-05-22T00:00:00",
        registrar=None,
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.jp",
        "2026-05-31T00:00:00",
        registrar=None,
        statuses=("active",),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.kg",
        "2026-03-28T23:59:00",
        registrar=None,
        nameservers=("ns1.google.com", "ns2.google.com", "ns4.google.com"),
    ),
    Case(
        "google.kr",
        "2026-03-02T00:00:00",
        registrar="Whois Corp.",
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.kz",
        None,
        registrar="KAZNIC",
        statuses=("ok",),
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.lt",
        "2025-12-08T00:00:00",
        registrar="MarkMonitor, Inc.",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com"),
    ),
    Case(
        "google.lu",
        None,
        registrar="Markmonitor",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.lv",
        None,
        registrar="MarkMonitor Inc.",
        statuses=("active",),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.md",
        "2026-05-02T00:00:00",
        registrar=None,
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.me",
        "2021-06-13T17:17:40",
        registrar="MarkMonitor Inc.",
        statuses=(
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns4.google.com", "ns3.google.com"),
    ),
    Case(
        "google.mk",
        "2026-05-13T00:00:00",
        registrar="UNET-REG",
        nameservers=("ns2.google.com", "ns1.google.com"),
    ),
    Case(
        "google.mx",
        "2026-05-11T00:00:00",
        registrar="Markmonitor",
        nameservers=("ns2.google.com", "ns4.google.com", "ns3.google.com", "ns1.google.com"),
    ),
    Case(
        "google.net",
        "2018-03-15T04:00:00",
        registrar="MarkMonitor Inc.",
        statuses=(
            "clientDeleteProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case("google.no", None, registrar="REG466-NORID"),
    Case(
        "google.nu",
        "2026-06-07T00:00:00",
        registrar="MarkMonitor Inc",
        statuses=("active", "ok"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.pt",
        "2026-02-28T23:59:00",
        registrar=None,
        nameservers=("ns3.google.com", "ns4.google.com", "ns1.google.com", "ns2.google.com"),
    ),
    Case(
        "google.ro",
        "2025-09-15T00:00:00",
        registrar="MarkMonitor Inc.",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.rs",
        "2026-03-10T12:31:19",
        registrar="Webglobe d.o.o.",
        statuses=("active", "clientUpdateProhibited"),
    ),
    Case(
        "google.ru",
        "2022-03-04T21:00:00",
        registrar="RU-CENTER-RU",
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.se",
        "2025-10-20T00:00:00",
        registrar="MarkMonitor Inc",
        statuses=(
            "active",
            "serverUpdateProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
        ),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.si",
        "2026-07-19T00:00:00",
        registrar="Markmonitor Inc.",
        statuses=("clientDeleteProhibited", "clientUpdateProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.sk",
        "2025-07-24T00:00:00",
        registrar="MARK-0292",
        statuses=("clientTransferProhibited", "clientUpdateProhibited", "clientDeleteProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    ),
    Case(
        "google.su",
        "2025-10-15T21:00:00",
        registrar="RUCENTER-SU",
        nameservers=("ns3.nic.ru", "ns4.nic.ru", "ns8.nic.ru"),
    ),
    Case(
        "google.tr",
        "2025-08-25T00:00:00",
        registrar="ODTÜ GELİŞTİRME VAKFI BİLGİ TEKNOLOJİLERİ SAN. VE TİC. A.Ş.",
        statuses=("active",),
        nameservers=(
            "ns1.googledomains.com",
            "ns2.googledomains.com",
            "ns3.googledomains.com",
            "ns4.googledomains.com",
        ),
    ),
    Case(
        "google.tv",
        "2020-08-02T07:00:00",
        registrar="MarkMonitor, Inc.",
        statuses=(
            "clientUpdateProhibited",
            "clientTransferProhibited",
            "clientDeleteProhibited",
            "serverUpdateProhibited",
            "serverTransferProhibited",
            "serverDeleteProhibited",
        ),
        nameservers=("ns1.google.com", "ns3.google.com", "ns2.google.com"),
    ),
    Case(
        "google.tz",
        "2026-03-05T00:00:00",
        registrar="REG-ITFARM",
        nameservers=(
            "ns1.googledomains.com",
            "ns2.googledomains.com",
            "ns3.googledomains.com",
            "ns4.googledomains.com",
        ),
    ),
    Case(
        "google.ug",
        "2026-03-18T00:00:00",
        registrar=None,
        statuses=("active",),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com"),
    ),
    Case(
        "google.uk",
        "2021-06-11T00:00:00",
        registrar="Markmonitor Inc. t/a MarkMonitor Inc. [Tag = MARKMONITOR]",
        nameservers=(
            "ns1.googledomains.com",
            "ns2.googledomains.com",
            "ns3.googledomains.com",
            "ns4.googledomains.com",
        ),
    ),
    Case(
        "google.us",
        "2021-04-18T23:59:59",
        registrar="MarkMonitor, Inc.",
        statuses=("clientUpdateProhibited", "clientTransferProhibited", "clientDeleteProhibited"),
        nameservers=("ns2.google.com", "ns4.google.com", "ns3.google.com", "ns1.google.com"),
    ),
    Case(
        "google.uz",
        "2026-05-01T00:00:00",
        registrar="Tomas",
        statuses=("active",),
        nameservers=("ns1.google.com", "ns2.google.com"),
    ),
    NotFound("haha-baba-mama.cl"),
    NotFound("haha-baba-mama.cn"),
    NotFound("haha-baba-mama.de"),
    NotFound("haha-baba-mama.dk"),
    NotFound("haha-baba-mama.ee"),
    NotFound("haha-baba-mama.hu"),
    NotFound("haha-baba-mama.im"),
    NotFound("haha-baba-mama.is"),
    NotFound("haha-baba-mama.jp"),
    NotFound("haha-baba-mama.kr"),
    NotFound("haha-baba-mama.lt"),
    NotFound("haha-baba-mama.mx"),
    NotFound("haha-baba-mama.no"),
    NotFound("haha-baba-mama.nu"),
    NotFound("haha-baba-mama.pt"),
    NotFound("haha-baba-mama.ro"),
    NotFound("haha-baba-mama.se"),
    NotFound("haha-baba-mama.tr"),
    Case(
        "killianestates.com",
        "2013-05-26T00:00:00",
        registrar="GODADDY.COM, LLC",
        statuses=("pendingDelete",),
        nameservers=("ns75.domaincontrol.com", "ns76.domaincontrol.com"),
    ),
    Case(
        "liechtenstein.li",
        None,
        registrar="switchplus AG",
        nameservers=("pdns.llv.li", "scsnms.switch.ch"),
    ),
    NotFound("likexian-have-no-money-to-register.ch"),
    NotFound("likexian-have-no-money-to-register.co"),
    NotFound("likexian-have-no-money-to-register.eu"),
    NotFound("likexian-have-no-money-to-register.info"),
    NotFound("likexian-have-no-money-to-register.io"),
    NotFound("likexian-have-no-money-to-register.me"),
    NotFound("likexian-have-no-money-to-register.org"),
    NotFound("likexian-have-no-money-to-register.ru"),
    NotFound("likexian-have-no-money-to-register.us"),
    Case(
        "linux.org",
        "2018-05-11T04:00:00",
        registrar="Network Solutions, LLC",
        statuses=("clientTransferProhibited",),
        nameservers=("mark.ns.cloudflare.com", "lia.ns.cloudflare.com"),
    ),
    Case(
        "mezure.be",
        None,
        registrar="Registrar.nl B.V.",
        nameservers=("ns2.server.eu", "ns.coredns.org", "ns1.server.eu"),
    ),
    Case(
        "name.com",
        "2019-11-04T00:00:00",
        registrar="Name.com, Inc.",
        statuses=(
            "clientTransferProhibited",
            "serverDeleteProhibited",
            "serverTransferProhibited",
            "serverUpdateProhibited",
        ),
        nameservers=(
            "asia3.akam.net",
            "usw5.akam.net",
            "use4.akam.net",
            "aus1.akam.net",
            "ns1-35.akam.net",
            "usw1.akam.net",
            "eur4.akam.net",
            "ns1-242.akam.net",
            "eur2.akam.net",
        ),
    ),
    Case(
        "nic.dk",
        "2027-06-30T00:00:00",
        registrar=None,
        statuses=("active",),
        nameservers=("b.nic.dk", "c.nic.dk", "h.nic.dk", "l.nic.dk", "s.nic.dk", "t.nic.dk"),
    ),
    Case(
        "nyx.cz",
        "2025-12-17T00:00:00",
        registrar="REG-IGNUM",
        nameservers=("ns2.ignum.cz", "ns1.ignum.com"),
    ),
    Case(
        "pakenhamsc.vic.edu.au",
        None,
        registrar="EDUCATION SERVICES AUSTRALIA LIMITED",
        statuses=("serverRenewProhibited",),
        nameservers=(
            "ns3.iinethosting.net.au",
            "ns1.iinethosting.net.au",
            "ns2.iinethosting.net.au",
        ),
    ),
    Case(
        "samsung.at",
        None,
        registrar="ANEXIA Internetdienstleistungs GmbH",
        nameservers=(
            "anexia.fifthns.com",
            "anexia.firstns.cc",
            "anexia.fourthns.systems",
            "anexia.secondns.at",
            "anexia.thirdns.de",
        ),
    ),
    NotFound("sdfsdafasdtsdvxcvrtsdfd.nl"),
    Case(
        "speedtest.net",
        "2022-06-25T05:27:48",
        registrar="eNom, Inc.",
        statuses=("clientTransferProhibited",),
        nameservers=(
            "ns-1071.awsdns-05.org",
            "ns-1643.awsdns-13.co.uk",
            "ns-372.awsdns-46.com",
            "ns-787.awsdns-34.net",
        ),
    ),
    Case(
        "steamp.com.ar",
        "2022-04-30T00:00:00",
        registrar="nicar",
        nameservers=("ns3.hostmar.com", "ns4.hostmar.com"),
    ),
    Case(
        "t-mobile.nl",
        None,
        registrar="Deutsche Telekom AG",
        statuses=("active",),
        nameservers=(
            "ns-201.awsdns-25.com",
            "ns-837.awsdns-40.net",
            "ns-1880.awsdns-43.co.uk",
            "ns-1395.awsdns-46.org",
        ),
    ),
    Case(
        "titech.ac.jp",
        "2026-03-31T00:00:00",
        registrar=None,
        nameservers=(
            "ns.fujisawa.wide.ad.jp",
            "titechns2-o.noc.titech.ac.jp",
            "titechns2-s.noc.titech.ac.jp",
        ),
    ),
    Case(
        "ucla.edu",
        "2027-07-31T00:00:00",
        registrar=None,
        nameservers=(
            "ns3.dns.ucla.edu",
            "ns1.dns.ucla.edu",
            "ns2.dns.ucla.edu",
            "ns4.dns.ucla.edu",
        ),
    ),
    Case(
        "univ-paris8.fr",
        "2026-12-31T23:00:00",
        registrar="GIP RENATER",
        statuses=("active",),
        nameservers=("ns.univ-paris8.fr", "ns2.univ-paris8.fr"),
    ),
    Case("wp.pl", "2027-04-27T14:00:00", registrar="AZ.pl Sp. z o.o.", nameservers=("ns1.wp.pl",)),
    Case(
        "xn--sisministeri-icb5x.fi",
        "2023-01-05T10:46:30",
        registrar="Valtion tieto- ja viestintäkeskus, Tuve-yksikkö",
        nameservers=("ns2.inet.intermin.fi", "ns1.inet.intermin.fi"),
    ),
    Case(
        "yahoo.co.nz",
        None,
        registrar="MarkMonitor. Inc",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=("ns1.yahoo.com", "ns3.yahoo.com", "ns4.yahoo.com", "ns5.yahoo.com"),
    ),
    Case(
        "youngtube.tw",
        "2022-04-19T02:54:59",
        registrar="101 Domain Inc.",
        statuses=("clientTransferProhibited",),
        nameservers=("keenan.ns.cloudflare.com", "maisie.ns.cloudflare.com"),
    ),
)


@pytest.fixture(scope="module")
def server() -> Iterator[WhoisServer]:
    with WhoisServer() as whois_server:
        yield whois_server


def test_every_corpus_answer_has_a_case() -> None:
    files = {path.name[: -len(".txt")] for path in CORPUS_DIR.glob("*.txt")}
    assert files == {case.domain for case in CASES}
    assert len({name.rsplit(".", 1)[-1] for name in files}) == 70


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.domain)
async def test_corpus_answer(case: Case | NotFound, server: WhoisServer, tmp_path: Path) -> None:
    async with WhoisClient(
        connect_to=server.connect_rules(), pace_seconds=0, cache_dir=tmp_path
    ) as client:
        registration = await client.lookup(case.domain)

    tld = case.domain.rsplit(".", 1)[-1]
    assert registration.method == "whois"
    assert registration.source == f"whois://whois.nic.{tld}"
    assert registration.registrable_domain == case.domain
    if isinstance(case, NotFound):
        assert registration.unknown
        assert registration.error == "not found in the registry's WHOIS"
        assert registration.expires is None
        return
    if case.expires is None:
        assert tld in NO_EXPIRY_TLDS
        assert registration.unknown
        assert registration.error == f"the .{tld} registry does not publish expiry dates"
        assert registration.expires is None
    else:
        assert registration.error is None
        assert registration.expires == datetime.fromisoformat(case.expires).replace(tzinfo=UTC)
    assert registration.registrar == case.registrar
    assert registration.statuses == case.statuses
    assert registration.nameservers == case.nameservers
