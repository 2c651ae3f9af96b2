"""The WHOIS client: discovery, referral, encodings, etiquette and caches, on loopback.

Real answers come from the shared corpus through :class:`WhoisServer`; the pace and
backoff are made small so that the tests are quick, and nothing here measures time:
the servers count what they saw (queries, refusals, queries in flight at once).
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.config import ConnectRule, Settings
from core.config import WhoisServer as WhoisServerSetting
from core.errors import ErrorKind
from core.whois import (
    IANA_SERVER,
    SLOW_SERVERS,
    WhoisClient,
    WhoisError,
    no_expiry_message,
)
from core.whois_parse import decode_whois, is_rate_limited, parse_whois, parse_whois_date
from tests.helpers.tls_server import HangingServer, closed_port
from tests.helpers.whois_server import (
    CORPUS_DIR,
    RATE_LIMITED_ANSWER,
    ThrottlingWhoisServer,
    WhoisServer,
)

pytestmark = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason="the shared corpus is missing")

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def corpus(name: str) -> bytes:
    return (CORPUS_DIR / f"{name}.txt").read_bytes()


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def client_for(server: WhoisServer, tmp_path: Path, **kwargs: object) -> WhoisClient:
    options: dict[str, object] = {
        "connect_to": server.connect_rules(),
        "pace_seconds": 0,
        "cache_dir": tmp_path,
    }
    options.update(kwargs)
    return WhoisClient(**options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- discovery


async def test_the_tld_server_is_found_through_iana_and_kept_a_week(tmp_path: Path) -> None:
    clock = Clock()
    with WhoisServer() as server:
        async with client_for(server, tmp_path, clock=clock) as client:
            first = await client.lookup("google.io")
            await client.lookup("github.io")
        assert client.sent[0] == (IANA_SERVER, "io")
        assert server.queries == ["io", "google.io", "github.io"]
        assert first.source == "whois://whois.nic.io"

        clock.now = NOW + timedelta(days=6)  # a new run: IANA's answer comes from disk
        async with client_for(server, tmp_path, clock=clock) as client:
            await client.lookup("likexian-have-no-money-to-register.io")
        assert server.queries[3:] == ["likexian-have-no-money-to-register.io"]

        clock.now = NOW + timedelta(days=8)  # older than a week: IANA is asked again
        async with client_for(server, tmp_path, clock=clock) as client:
            await client.lookup("github.io")
        assert server.queries[4:] == ["io", "github.io"]


async def test_a_tld_iana_names_no_server_for_is_unknown(tmp_path: Path) -> None:
    with WhoisServer(no_whois=frozenset({"zz"})) as server:
        async with client_for(server, tmp_path) as client:
            registration = await client.lookup("example.zz")
    assert registration.unknown
    assert registration.error == "no WHOIS service for .zz"
    assert server.queries == ["zz"]


async def test_iana_naming_no_server_is_kept_a_day_not_a_week(tmp_path: Path) -> None:
    clock = Clock()
    with WhoisServer(no_whois=frozenset({"zz"})) as server:
        async with client_for(server, tmp_path, clock=clock) as client:
            await client.lookup("example.zz")
        clock.now = NOW + timedelta(hours=12)
        async with client_for(server, tmp_path, clock=clock) as client:
            await client.lookup("other.zz")
        assert server.queries == ["zz"]  # within the day: from the disk cache
        clock.now = NOW + timedelta(days=2)
        async with client_for(server, tmp_path, clock=clock) as client:
            registration = await client.lookup("example.zz")
    assert server.queries == ["zz", "zz"]
    assert registration.error == "no WHOIS service for .zz"


@pytest.mark.parametrize(
    "answer",
    [
        b"",  # the connection closed without a word
        b"% Error: internal server failure\n",
        b"domain:       COM\n\nstatus:       ACTIVE\n",  # a record of another TLD
    ],
)
async def test_an_iana_answer_that_is_no_record_of_the_tld_is_an_error_not_cached(
    tmp_path: Path, answer: bytes
) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(answer)
        await writer.drain()
        writer.close()

    broken = await asyncio.start_server(reply, "127.0.0.1", 0)
    port = broken.sockets[0].getsockname()[1]
    async with broken:
        rules = (ConnectRule("", 43, "127.0.0.1", port),)
        async with WhoisClient(connect_to=rules, cache_dir=tmp_path, pace_seconds=0) as client:
            first = await client.lookup("google.io")
    assert first.error == "whois.iana.org sent no record for .io"
    assert not first.unknown
    with WhoisServer() as server:
        async with client_for(server, tmp_path) as client:
            second = await client.lookup("google.io")
    assert server.queries == ["io", "google.io"]  # IANA was asked again
    assert second.expires == datetime(2018, 9, 30, 1, tzinfo=UTC)


async def test_reserved_names_are_never_asked_about(tmp_path: Path) -> None:
    with WhoisServer() as server:
        async with client_for(server, tmp_path) as client:
            registration = await client.lookup("valid.test")
    assert registration.unknown
    assert registration.error == "no WHOIS service for .test"
    assert server.queries == []


async def test_an_override_replaces_iana_longest_suffix_first(tmp_path: Path) -> None:
    with WhoisServer() as registry, WhoisServer() as other:
        overrides = (
            WhoisServerSetting("uk", "127.0.0.1", other.port),
            WhoisServerSetting("co.uk", "127.0.0.1", registry.port),
        )
        async with WhoisClient(servers=overrides, cache_dir=tmp_path, pace_seconds=0) as client:
            registration = await client.lookup("amazon.co.uk")
            google = await client.lookup("google.uk")
    assert registry.queries == ["amazon.co.uk"]
    assert other.queries == ["google.uk"]
    assert registration.source == f"whois://127.0.0.1:{registry.port}"
    assert registration.expires == datetime(2020, 12, 5, tzinfo=UTC)
    assert google.expires == datetime(2021, 6, 11, tzinfo=UTC)


def test_whois_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DOMAINCHECK_WHOIS_SERVERS": "io=127.0.0.1:4343, co.uk=[::1]",
            "DOMAINCHECK_WHOIS_PACE": "5",
        }
    )
    assert settings.whois_servers == (
        WhoisServerSetting("io", "127.0.0.1", 4343),
        WhoisServerSetting("co.uk", "::1", 43),
    )
    assert settings.whois_pace_seconds == 5.0


# --------------------------------------------------------------------------- referral


THIN_REGISTRY_ANSWER = b"""\
   Domain Name: NAME.COM
   Registrar WHOIS Server: whois.name.com
   Registrar: Name.com, Inc.
   Name Server: NS1-35.AKAM.NET
   DNSSEC: unsigned
>>> Last update of whois database: 2019-04-18T11:55:41Z <<<
"""


async def test_a_thin_registry_is_followed_to_the_registrars_whois(tmp_path: Path) -> None:
    with WhoisServer({"name.com": THIN_REGISTRY_ANSWER}) as registry, WhoisServer() as registrar:
        rules = (
            ConnectRule("whois.name.com", 43, "127.0.0.1", registrar.port),
            ConnectRule("", 43, "127.0.0.1", registry.port),
        )
        async with WhoisClient(connect_to=rules, cache_dir=tmp_path, pace_seconds=0) as client:
            registration = await client.lookup("name.com")
    assert registry.queries == ["com", "name.com"]
    assert registrar.queries == ["name.com"]
    # The date is the registrar's (corpus name.com); registrar and name server the registry's.
    assert registration.expires == datetime(2019, 11, 4, tzinfo=UTC)
    assert registration.source == "whois://whois.name.com"
    assert registration.registrar == "Name.com, Inc."
    assert registration.nameservers == ("ns1-35.akam.net",)
    assert registration.statuses == (
        "clientTransferProhibited",
        "serverDeleteProhibited",
        "serverTransferProhibited",
        "serverUpdateProhibited",
    )


async def test_a_registry_with_its_own_date_is_not_referred_on(tmp_path: Path) -> None:
    with WhoisServer() as server:
        async with client_for(server, tmp_path) as client:
            registration = await client.lookup("google.com")  # names whois.markmonitor.com
    assert server.queries == ["com", "google.com"]
    assert registration.expires == datetime(2020, 9, 14, 4, tzinfo=UTC)


# --------------------------------------------------------------------------- encodings


async def test_shift_jis_answers_from_jprs_are_read(tmp_path: Path) -> None:
    answer = corpus("google.jp").decode("utf-8").encode("cp932")
    with WhoisServer({"google.jp": answer}) as server:
        async with client_for(server, tmp_path) as client:
            registration = await client.lookup("google.jp")
    assert registration.expires == datetime(2026, 5, 31, tzinfo=UTC)
    assert registration.nameservers == (
        "ns1.google.com",
        "ns2.google.com",
        "ns3.google.com",
        "ns4.google.com",
    )
    assert decode_whois(answer, "jp") == corpus("google.jp").decode("utf-8")


def test_latin1_answers_are_read() -> None:
    raw = corpus("xn--sisministeri-icb5x.fi")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    record = parse_whois(decode_whois(raw, "fi"))
    assert record.registrar == "Valtion tieto- ja viestintäkeskus, Tuve-yksikkö"


def test_utf8_answers_stay_utf8() -> None:
    assert parse_whois(decode_whois(corpus("google.cn"), "cn")).registrar == (
        "厦门易名科技股份有限公司"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-09-14T04:00:00Z", datetime(2020, 9, 14, 4, tzinfo=UTC)),
        ("2023-03-08T00:00:00-0800", datetime(2023, 3, 8, 8, tzinfo=UTC)),
        ("2032.05.19 00:00:00", datetime(2032, 5, 19, tzinfo=UTC)),
        ("05-Dec-2020", datetime(2020, 12, 5, tzinfo=UTC)),
        ("26-may-2013", datetime(2013, 5, 26, tzinfo=UTC)),
        ("2020-Aug-22.", datetime(2020, 8, 22, tzinfo=UTC)),
        ("20200518", datetime(2020, 5, 18, tzinfo=UTC)),
        ("May 22 2026", datetime(2026, 5, 22, tzinfo=UTC)),
        ("Sat Mar 28 23:59:00 2026", datetime(2026, 3, 28, 23, 59, tzinfo=UTC)),
        ("2026. 03. 02.", datetime(2026, 3, 2, tzinfo=UTC)),
        ("4.7.2023 10:15:55", datetime(2023, 7, 4, 10, 15, 55, tzinfo=UTC)),
        ("14/08/2025 23:59:41", datetime(2025, 8, 14, 23, 59, 41, tzinfo=UTC)),
        ("31-03-2026", datetime(2026, 3, 31, tzinfo=UTC)),
        ("2025-11-20 14:48:02 CLST", datetime(2025, 11, 20, 17, 48, 2, tzinfo=UTC)),
        ("2022-04-19 10:54:59 (UTC+8)", datetime(2022, 4, 19, 2, 54, 59, tzinfo=UTC)),
        ("2026/05/31", datetime(2026, 5, 31, tzinfo=UTC)),
        ("31 May 1999", datetime(1999, 5, 31, tzinfo=UTC)),
        ("not a date", None),
        ("31-02-2026", None),
        ("", None),
    ],
)
def test_date_formats(text: str, expected: datetime | None) -> None:
    assert parse_whois_date(text) == expected


async def test_an_unreadable_expiry_is_an_error_not_unknown(tmp_path: Path) -> None:
    answer = b"Domain Name: odd.io\nRegistry Expiry Date: sometime next year\n"
    with WhoisServer({"odd.io": answer}) as server:
        async with client_for(server, tmp_path) as client:
            registration = await client.lookup("odd.io")
    assert not registration.unknown
    assert registration.error == "registry sent an unreadable expiry date: 'sometime next year'"
    assert registration.error_kind is ErrorKind.SERVER


# --------------------------------------------------------------------------- no data


async def test_not_found_and_no_published_expiry_are_unknown(tmp_path: Path) -> None:
    with WhoisServer() as server:
        async with client_for(server, tmp_path) as client:
            missing = await client.lookup("haha-baba-mama.de")
            german = await client.lookup("facebook.de")
            swiss = await client.lookup("google.ch")
    assert missing.unknown and missing.error == "not found in the registry's WHOIS"
    assert german.unknown and german.error == "the .de registry does not publish expiry dates"
    assert german.error == no_expiry_message("de")
    assert swiss.registrar == "MarkMonitor"
    assert swiss.error == "the .ch registry does not publish expiry dates"


async def test_a_server_that_is_down_is_an_error_with_words(tmp_path: Path) -> None:
    port = closed_port()
    overrides = (WhoisServerSetting("io", "127.0.0.1", port),)
    async with WhoisClient(servers=overrides, cache_dir=tmp_path, pace_seconds=0) as client:
        registration = await client.lookup("google.io")
    assert not registration.unknown
    assert registration.error is not None
    assert registration.error.startswith("cannot connect to 127.0.0.1")
    assert "Errno" not in registration.error
    assert registration.error_kind is ErrorKind.REFUSED


async def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with HangingServer() as server:
        overrides = (WhoisServerSetting("io", "127.0.0.1", server.port),)
        async with WhoisClient(
            servers=overrides, cache_dir=tmp_path, pace_seconds=0, timeout_seconds=0.2
        ) as client:
            registration = await client.lookup("google.io")
    assert registration.error == "127.0.0.1 did not answer in time"
    assert registration.error_kind is ErrorKind.TIMEOUT


async def test_iana_unreachable_is_an_error_and_is_asked_again_next_time(tmp_path: Path) -> None:
    rules = (ConnectRule("", 43, "127.0.0.1", closed_port()),)
    async with WhoisClient(connect_to=rules, cache_dir=tmp_path, pace_seconds=0) as client:
        first = await client.lookup("google.io")
    assert first.error is not None and first.error.startswith("cannot connect to whois.iana.org")
    with WhoisServer() as server:
        async with client_for(server, tmp_path) as client:
            second = await client.lookup("google.io")
    assert server.queries == ["io", "google.io"]  # the failure was not cached
    assert second.expires == datetime(2018, 9, 30, 1, tzinfo=UTC)


def resolver_of(*addresses: str) -> tuple[list[str], Any]:
    """A ``resolve=`` function that answers ``addresses`` and records the names asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(addresses)

    return asked, resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address
        "2002:7f00:1::1",  # 6to4 of loopback
        "::127.0.0.1",  # IPv4-compatible loopback
        "ff0e::1",  # global-scope multicast
    ],
)
async def test_a_referral_to_a_non_public_address_is_refused(tmp_path: Path, address: str) -> None:
    asked, resolve = resolver_of(address)
    async with WhoisClient(
        cache_dir=tmp_path, pace_seconds=0, public_addresses_only=True, resolve=resolve
    ) as client:
        with pytest.raises(WhoisError, match="only private or local addresses") as caught:
            await client.query(("whois.registrar.test", 43), "example.com")
    assert caught.value.kind is ErrorKind.FORBIDDEN_ADDRESS
    assert asked == ["whois.registrar.test"]


async def test_an_address_literal_server_is_checked_by_the_shared_policy(tmp_path: Path) -> None:
    async with WhoisClient(cache_dir=tmp_path, pace_seconds=0, public_addresses_only=True) as c:
        with pytest.raises(WhoisError, match="only private or local addresses"):
            await c.query(("64:ff9b::a9fe:a9fe", 43), "example.com")


async def test_every_public_address_is_tried_and_the_peer_is_checked_after_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name resolves to public addresses; the first refuses, the second "is" one but
    the socket ends up on loopback (rebinding, a NAT): refused after connecting."""
    tried: list[str] = []
    real_open = asyncio.open_connection
    listener = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody answers

    async def open_connection(host: str, port: int) -> Any:
        tried.append(host)
        if host == "8.8.8.8":
            raise ConnectionRefusedError(111, "Connection refused")
        return await real_open("127.0.0.1", listener.getsockname()[1])

    _, resolve = resolver_of("8.8.8.8", "10.0.0.1", "9.9.9.9")
    monkeypatch.setattr(asyncio, "open_connection", open_connection)
    with listener:
        async with WhoisClient(
            cache_dir=tmp_path, pace_seconds=0, public_addresses_only=True, resolve=resolve
        ) as client:
            with pytest.raises(WhoisError, match="only private or local addresses"):
                await client.query(("whois.registrar.test", 43), "google.io")
    assert tried == ["8.8.8.8", "9.9.9.9"]  # every public one in turn, never 10.0.0.1


async def test_the_dns_server_setting_resolves_whois_servers(tmp_path: Path) -> None:
    """``DOMAINCHECK_DNS_SERVER`` answers for WHOIS servers as for everything else."""
    from tests.helpers.dns_server import DnsServer

    with WhoisServer() as whois_server, DnsServer() as dns:
        dns.add_address("whois.nic.io", "127.0.0.1")
        settings = Settings(
            dns_server=("127.0.0.1", dns.port),
            whois_servers=(WhoisServerSetting("io", "whois.nic.io", whois_server.port),),
        )
        async with WhoisClient.from_settings(settings, cache_dir=tmp_path, pace_seconds=0) as c:
            registration = await c.lookup("google.io")
    assert registration.error is None
    assert registration.source == f"whois://whois.nic.io:{whois_server.port}"
    assert whois_server.queries == ["google.io"]


# --------------------------------------------------------------------------- etiquette


async def test_one_query_in_flight_per_server_at_the_servers_pace(tmp_path: Path) -> None:
    with ThrottlingWhoisServer(min_gap_seconds=0.05) as server:
        overrides = (WhoisServerSetting("io", "127.0.0.1", server.port),)
        async with WhoisClient(
            servers=overrides, cache_dir=tmp_path, pace_seconds=0.1, backoff_seconds=0.01
        ) as client:
            names = ["google.io", "github.io", "likexian-have-no-money-to-register.io"]
            results = await asyncio.gather(*(client.lookup(name) for name in names))
    assert [r.error for r in results] == [None, None, "not found in the registry's WHOIS"]
    assert server.refused == 0  # the pace kept every query far enough apart
    assert server.max_in_flight == 1


async def test_limit_exceeded_answers_back_off_and_retry(tmp_path: Path) -> None:
    with ThrottlingWhoisServer(min_gap_seconds=0.1) as server:
        overrides = (WhoisServerSetting("io", "127.0.0.1", server.port),)
        async with WhoisClient(
            servers=overrides, cache_dir=tmp_path, pace_seconds=0, backoff_seconds=0.2
        ) as client:
            names = ["google.io", "github.io"]
            results = await asyncio.gather(*(client.lookup(name) for name in names))
    assert [r.error for r in results] == [None, None]
    assert server.refused >= 1  # no pace: the second query came too soon, and was retried
    assert server.queries.count("github.io") + server.queries.count("google.io") >= 3
    assert server.max_in_flight == 1


async def test_a_server_that_keeps_refusing_is_given_up_on(tmp_path: Path) -> None:
    with ThrottlingWhoisServer(min_gap_seconds=600) as server:
        async with client_for(server, tmp_path, backoff_seconds=0.01) as client:
            first = await client.lookup("google.io")  # IANA answered, then refusals
    assert first.error == "whois.nic.io keeps refusing queries for going too fast; try again later"
    assert first.error_kind is ErrorKind.SERVER
    assert server.queries.count("google.io") == 4  # the first try and three retries


def test_rate_limit_answers_are_recognised() -> None:
    assert is_rate_limited(RATE_LIMITED_ANSWER.decode())
    assert is_rate_limited("Your connection limit exceeded. Please slow down and try again later.")
    assert not is_rate_limited(corpus("google.es").decode("utf-8"))  # mentions limits at length
    assert not is_rate_limited(corpus("google.com").decode("utf-8"))


def test_known_strict_servers_get_a_slower_pace() -> None:
    assert SLOW_SERVERS["whois.denic.de"] > Settings().whois_pace_seconds
    assert SLOW_SERVERS["whois.nic.es"] >= 6.0  # Red.es: 10 queries a minute, then a ban


async def test_denic_is_asked_for_the_ace_form(tmp_path: Path) -> None:
    with WhoisServer() as server:
        rules = (ConnectRule("", 43, "127.0.0.1", server.port),)
        overrides = (WhoisServerSetting("de", "whois.denic.de"),)
        async with WhoisClient(
            servers=overrides, connect_to=rules, cache_dir=tmp_path, pace_seconds=0
        ) as client:
            await client.lookup("facebook.de")
    assert server.raw_queries == ["-T dn,ace facebook.de"]


# --------------------------------------------------------------------------- cache


async def test_answers_are_cached_on_disk(tmp_path: Path) -> None:
    clock = Clock(datetime(2018, 1, 1, tzinfo=UTC))  # google.io expires 2018-09-30
    with WhoisServer() as server:
        async with client_for(server, tmp_path, clock=clock) as client:
            first = await client.lookup("google.io")
            missing = await client.lookup("likexian-have-no-money-to-register.io")
        asked = list(server.queries)

        clock.now += timedelta(hours=23)
        async with client_for(server, tmp_path, clock=clock) as client:
            assert await client.lookup("google.io") == first
            assert await client.lookup("likexian-have-no-money-to-register.io") == missing
        assert server.queries == asked  # both from the disk cache

        clock.now += timedelta(hours=2)  # a negative answer is kept a day, a date a week
        async with client_for(server, tmp_path, clock=clock) as client:
            await client.lookup("google.io")
            await client.lookup("likexian-have-no-money-to-register.io")
        assert server.queries[len(asked) :] == ["likexian-have-no-money-to-register.io"]

        clock.now = datetime(2018, 1, 8, 1, tzinfo=UTC)  # over a week
        async with client_for(server, tmp_path, clock=clock) as client:
            await client.lookup("google.io")
        assert server.queries[-1] == "google.io"


async def test_an_expiry_inside_the_threshold_window_is_asked_again_soon(
    tmp_path: Path,
) -> None:
    clock = Clock(datetime(2018, 9, 10, tzinfo=UTC))  # google.io: 20 days left
    with WhoisServer() as server:
        async with client_for(server, tmp_path, clock=clock, threshold_days=30) as client:
            await client.lookup("google.io")
        clock.now += timedelta(hours=2)
        async with client_for(server, tmp_path, clock=clock, threshold_days=30) as client:
            await client.lookup("google.io")
    assert server.queries.count("google.io") == 2


async def test_subdomain_lookups_of_one_domain_share_one_query(tmp_path: Path) -> None:
    with WhoisServer() as server:
        async with client_for(server, tmp_path) as client:
            results = await asyncio.gather(*(client.lookup("google.io") for _ in range(5)))
    assert len(set(results)) == 1
    assert server.queries == ["io", "google.io"]
