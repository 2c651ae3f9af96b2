"""The chain of registration sources, hand-entered dates, EPP status effects and changes.

Chain logic is tested with small fakes of the two clients; the end-to-end tests run
the real engine and CLI against the loopback RDAP and WHOIS servers.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.checker import Checker
from core.cli import main, watched_registrations
from core.config import Settings
from core.config import WhoisServer as WhoisServerSetting
from core.errors import ErrorKind, UsageError
from core.models import CheckResult, Registration, Status, Target
from core.registration import (
    MANUAL_SOURCE,
    RegistrationChain,
    parse_manual_expiry,
    registration_changes,
)
from core.report import result_from_dict, result_to_dict
from core.storage import Watchlist
from core.whois import no_expiry_message
from tests.helpers.rdap_server import RdapServer, write_bootstrap
from tests.helpers.whois_server import CORPUS_DIR, WhoisServer

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
IN_A_YEAR = NOW + timedelta(days=365)
TARGET = Target("www.example.io")


class FakeSource:
    """Answers every lookup with one registration and counts the calls."""

    def __init__(self, answer: Registration) -> None:
        self.answer = answer
        self.asked: list[object] = []

    async def lookup(self, what: object) -> Registration:
        self.asked.append(what)
        return self.answer


def chain(
    rdap: Registration | None, whois: Registration | None = None, **kwargs: Any
) -> tuple[RegistrationChain, FakeSource | None, FakeSource | None]:
    rdap_source = FakeSource(rdap) if rdap is not None else None
    whois_source = FakeSource(whois) if whois is not None else None
    built = RegistrationChain(rdap=rdap_source, whois=whois_source, **kwargs)  # type: ignore[arg-type]
    return built, rdap_source, whois_source


NO_RDAP = Registration("example.io", error="no RDAP service for .io", unknown=True)
WHOIS_FOUND = Registration(
    "example.io",
    expires=IN_A_YEAR,
    registrar="Registrar A",
    source="whois://whois.nic.io",
    method="whois",
    statuses=("clientTransferProhibited",),
    nameservers=("ns1.example.net", "ns2.example.net"),
)


# --------------------------------------------------------------------------- the chain


async def test_an_rdap_expiry_is_used_without_asking_whois() -> None:
    found = Registration(
        "example.io", expires=IN_A_YEAR, source="https://rdap.test/", method="rdap"
    )
    registrations, _, whois = chain(found, WHOIS_FOUND)
    assert await registrations.lookup(TARGET) == found
    assert whois is not None and whois.asked == []


async def test_whois_answers_where_rdap_has_no_service() -> None:
    registrations, _, whois = chain(NO_RDAP, WHOIS_FOUND)
    assert await registrations.lookup(TARGET) == WHOIS_FOUND
    assert whois is not None and whois.asked == ["example.io"]  # the registrable domain


async def test_whois_fills_in_an_rdap_answer_without_an_expiry() -> None:
    rdap = Registration(
        "example.io",
        registrar="RDAP Registrar",
        source="https://rdap.test/domain/example.io",
        error="registry publishes no expiry date",
        unknown=True,
        method="rdap",
    )
    whois = Registration("example.io", expires=IN_A_YEAR, source="whois://w", method="whois")
    registrations, _, _ = chain(rdap, whois)
    result = await registrations.lookup(TARGET)
    assert (result.method, result.expires, result.registrar) == (
        "whois",
        IN_A_YEAR,
        "RDAP Registrar",
    )


async def test_a_registry_that_publishes_no_expiry_says_so() -> None:
    rdap = Registration("example.de", error="no RDAP service for .de", unknown=True)
    whois = Registration(
        "example.de",
        source="whois://whois.denic.de",
        error="the .de registry does not publish expiry dates",
        unknown=True,
        method="whois",
        nameservers=("ns1.example.de",),
    )
    registrations, _, _ = chain(rdap, whois)
    result = await registrations.lookup(Target("example.de"))
    assert result.error == "the .de registry does not publish expiry dates"
    check = CheckResult(Target("example.de"), None, result, NOW)
    assert check.registration_status is Status.UNKNOWN
    assert check.problem == ""


async def test_an_rdap_failure_is_kept_when_whois_knows_nothing_either() -> None:
    rdap = Registration("example.test", error="cannot connect", error_kind=ErrorKind.REFUSED)
    whois = Registration("example.test", error="no WHOIS service for .test", unknown=True)
    registrations, _, _ = chain(rdap, whois)
    assert await registrations.lookup(Target("example.test")) == rdap


async def test_no_whois_means_rdap_alone() -> None:
    registrations, _, _ = chain(NO_RDAP, None)
    assert await registrations.lookup(TARGET) == NO_RDAP


async def test_ip_addresses_and_public_suffixes_ask_nobody() -> None:
    registrations, rdap, whois = chain(NO_RDAP, WHOIS_FOUND)
    ip = await registrations.lookup(Target("192.0.2.1", is_ip=True))
    suffix = await registrations.lookup(Target("co.uk"))
    assert ip.unknown and ip.error == "IP addresses have no domain registration"
    assert suffix.unknown and suffix.error == "co.uk is a public suffix"
    assert rdap is not None and whois is not None
    assert rdap.asked == whois.asked == []


# --------------------------------------------------------------------------- by hand


async def test_a_date_entered_by_hand_is_used_where_the_registry_has_none() -> None:
    typed = datetime(2027, 3, 1, 23, 59, 59, tzinfo=UTC)
    whois = Registration(
        "example.de",
        registrar="Registrar B",
        error="the .de registry does not publish expiry dates",
        unknown=True,
        method="whois",
        nameservers=("ns1.example.de",),
    )
    no_rdap = Registration("example.de", error="no RDAP service for .de", unknown=True)
    registrations, _, _ = chain(no_rdap, whois, manual_expiry={Target("example.de").key: typed})
    result = await registrations.lookup(Target("example.de"))
    assert result == Registration(
        "example.de",
        expires=typed,
        registrar="Registrar B",
        source=MANUAL_SOURCE,
        method="manual",
        nameservers=("ns1.example.de",),
    )


async def test_the_registrys_date_wins_over_a_typed_one() -> None:
    typed = datetime(2020, 1, 1, tzinfo=UTC)
    registrations, _, _ = chain(NO_RDAP, WHOIS_FOUND, manual_expiry={TARGET.key: typed})
    result = await registrations.lookup(TARGET)
    assert (result.method, result.expires) == ("whois", IN_A_YEAR)


def test_a_typed_date_nearing_expiry_reminds_to_update_it() -> None:
    registration = Registration("example.de", expires=NOW + timedelta(days=10), method="manual")
    result = CheckResult(Target("example.de"), None, registration, NOW)
    assert result.status is Status.EXPIRING
    assert result.problem == (
        "domain registration expires in 10 days (date entered by hand: update it after renewing)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-12-31", datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2027-12-31T10:00:00+02:00", datetime(2027, 12, 31, 8, tzinfo=UTC)),
        ("", None),
    ],
)
def test_typed_dates_are_read(text: str, expected: datetime | None) -> None:
    assert parse_manual_expiry(text) == expected


def test_a_typed_date_that_is_not_a_date_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"expected a date such as 2027-12-31"):
        parse_manual_expiry("31/12/2027")


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("status", "expected", "problem"),
    [
        (
            "redemptionPeriod",
            Status.EXPIRED,
            "the registry has put the domain in redemptionPeriod: it has in effect expired",
        ),
        (
            "pendingDelete",
            Status.EXPIRED,
            "the registry has put the domain in pendingDelete: it has in effect expired",
        ),
        (
            "clientHold",
            Status.INVALID,
            "the registry has put the domain on clientHold: it is off the internet",
        ),
        (
            "serverHold",
            Status.INVALID,
            "the registry has put the domain on serverHold: it is off the internet",
        ),
        ("clientTransferProhibited", Status.VALID, ""),
    ],
)
def test_epp_statuses_override_the_date(status: str, expected: Status, problem: str) -> None:
    registration = Registration("example.io", expires=IN_A_YEAR, statuses=(status,))
    result = CheckResult(TARGET, None, registration, NOW)
    assert result.registration_status is expected
    assert result.status is expected
    assert result.problem == problem


async def test_a_pending_delete_from_the_corpus_is_expired(tmp_path: Path) -> None:
    """killianestates.com (Verisign's old thin format) is in pendingDelete."""
    if not CORPUS_DIR.is_dir():
        pytest.skip("the shared corpus is missing")
    with WhoisServer() as server:
        settings = Settings(check_tls=False, connect_to=server.connect_rules())
        from core.whois import WhoisClient

        whois = WhoisClient.from_settings(settings, cache_dir=tmp_path, pace_seconds=0)
        registrations = RegistrationChain(rdap=None, whois=whois)
        registration = await registrations.lookup(Target("killianestates.com"))
        await whois.aclose()
    result = CheckResult(Target("killianestates.com"), None, registration, NOW)
    assert registration.statuses == ("pendingDelete",)
    assert result.status is Status.EXPIRED


# --------------------------------------------------------------------------- changes


def test_a_new_registrar_name_servers_and_statuses_are_news() -> None:
    previous = WHOIS_FOUND
    current = Registration(
        "example.io",
        expires=IN_A_YEAR,
        registrar="Registrar Z",
        method="whois",
        statuses=("clientHold",),
        nameservers=("ns1.evil.example",),
    )
    assert registration_changes(previous, current) == (
        "registrar changed from Registrar A to Registrar Z"
        " (if nobody here moved the domain, this may be a hijack)",
        "new status clientHold: the domain is off the internet",
        "status clientTransferProhibited removed",
        "name servers changed to ns1.evil.example (were ns1.example.net, ns2.example.net)",
    )


def test_a_renewal_is_news_and_nothing_new_is_no_news() -> None:
    renewed = Registration(**{**_fields(WHOIS_FOUND), "expires": IN_A_YEAR + timedelta(days=365)})
    assert registration_changes(WHOIS_FOUND, renewed) == (
        f"renewed: now expires {IN_A_YEAR + timedelta(days=365):%Y-%m-%d}",
    )
    assert registration_changes(WHOIS_FOUND, WHOIS_FOUND) == ()


def test_a_failed_lookup_or_an_old_stored_result_reports_no_change() -> None:
    failed = Registration("example.io", error="cannot connect", error_kind=ErrorKind.REFUSED)
    assert registration_changes(WHOIS_FOUND, failed) == ()
    stored_before_statuses = Registration("example.io", expires=IN_A_YEAR, registrar="Registrar A")
    assert registration_changes(stored_before_statuses, WHOIS_FOUND) == ()


@pytest.mark.parametrize(
    "flake",
    [
        Registration(
            "example.io",
            source="whois://whois.nic.io",
            error="not found in the registry's WHOIS",
            unknown=True,
            method="whois",
        ),
        Registration("example.io", error="no WHOIS service for .io", unknown=True, method="whois"),
        Registration(
            "example.io", error="not found in the registry's RDAP", unknown=True, method="rdap"
        ),
    ],
)
def test_a_flaky_unknown_answer_between_two_good_ones_is_no_news(flake: Registration) -> None:
    assert registration_changes(WHOIS_FOUND, flake) == ()
    assert registration_changes(flake, WHOIS_FOUND) == ()


def test_a_registry_that_publishes_no_expiry_is_still_compared() -> None:
    """.de answers are "unknown" (no expiry) but are the registry's record."""
    before = Registration(
        "example.de",
        registrar="Registrar A",
        error=no_expiry_message("de"),
        unknown=True,
        method="whois",
        nameservers=("ns1.example.net",),
    )
    after = Registration(**{**_fields(before), "registrar": "Registrar Z"})
    assert registration_changes(before, after) == (
        "registrar changed from Registrar A to Registrar Z"
        " (if nobody here moved the domain, this may be a hijack)",
    )


async def test_the_chain_compares_with_the_previous_result() -> None:
    previous = {TARGET.key: Registration(**{**_fields(WHOIS_FOUND), "registrar": "Old"})}
    registrations, _, _ = chain(NO_RDAP, WHOIS_FOUND, previous=previous)
    result = await registrations.lookup(TARGET)
    assert result.changes == (
        "registrar changed from Old to Registrar A"
        " (if nobody here moved the domain, this may be a hijack)",
    )
    check = CheckResult(TARGET, None, result, NOW)
    assert "registrar changed from Old to Registrar A" in check.problem


def _fields(registration: Registration) -> dict[str, Any]:
    return {name: getattr(registration, name) for name in registration.__match_args__}


# --------------------------------------------------------------------------- documents


def test_the_json_document_carries_method_statuses_nameservers_and_changes() -> None:
    registration = Registration(**{**_fields(WHOIS_FOUND), "changes": ("new status ok",)})
    data = result_to_dict(CheckResult(TARGET, None, registration, NOW))
    assert data["registration"]["method"] == "whois"
    assert data["registration"]["source"] == "whois://whois.nic.io"
    assert data["registration"]["statuses"] == ["clientTransferProhibited"]
    assert data["registration"]["nameservers"] == ["ns1.example.net", "ns2.example.net"]
    assert data["registration"]["changes"] == ["new status ok"]
    loaded = result_from_dict(json.loads(json.dumps(data)), checked_at=NOW, threshold_days=30)
    assert loaded.registration == registration


def test_stored_documents_without_the_new_keys_still_load() -> None:
    data = result_to_dict(CheckResult(TARGET, None, WHOIS_FOUND, NOW))
    for key in ("method", "statuses", "nameservers", "changes"):
        del data["registration"][key]
    loaded = result_from_dict(data, checked_at=NOW, threshold_days=30)
    assert loaded.registration is not None
    assert (loaded.registration.method, loaded.registration.statuses) == (None, ())


def test_the_watchlist_keeps_dates_entered_by_hand(tmp_path: Path) -> None:
    typed = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
    with Watchlist(tmp_path / "w.sqlite3") as watchlist:
        watchlist.add([Target("example.de"), Target("example.ch")])
        revision = watchlist.revision()
        assert (
            watchlist.set_registration_expiry([("example.de", 443), ("nope.de", 443)], typed) == 1
        )
        assert watchlist.revision() > revision
        assert watchlist.registration_expiries() == {("example.de", 443): typed}
        watchlist.set_registration_expiry([("example.de", 443)], None)
        assert watchlist.registration_expiries() == {}


def test_undoing_a_removal_keeps_the_typed_date(tmp_path: Path) -> None:
    typed = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
    with Watchlist(tmp_path / "w.sqlite3") as watchlist:
        watchlist.add([Target("example.de")])
        watchlist.set_registration_expiry([("example.de", 443)], typed)
        taken = watchlist.take([("example.de", 443)])
        assert watchlist.registration_expiries() == {}
        assert watchlist.restore(taken) == 1
        assert watchlist.registration_expiries() == {("example.de", 443): typed}


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def registries(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A loopback RDAP server for .test only, and the WHOIS corpus for the rest."""
    if not CORPUS_DIR.is_dir():
        pytest.skip("the shared corpus is missing")
    with RdapServer() as rdap, WhoisServer() as whois:
        rdap.add_domain("example.test", IN_A_YEAR)
        bootstrap = write_bootstrap(tmp_path / "dns.json", {"test": rdap.base_url})
        yield rdap, whois, bootstrap


async def test_the_engine_falls_back_to_whois(registries, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _rdap, whois, bootstrap = registries
    settings = Settings(
        check_tls=False,
        rdap_bootstrap=str(bootstrap),
        whois_servers=(WhoisServerSetting("io", "127.0.0.1", whois.port),),
        whois_pace_seconds=0,
    )
    typed = {Target("facebook.de").key: datetime(2027, 1, 31, tzinfo=UTC)}
    async with Checker(settings, manual_expiry=typed, clock=lambda: NOW) as checker:
        io_result = await checker.check(Target("www.google.io"))
        test_result = await checker.check(Target("example.test"))
    assert io_result.registration is not None
    assert io_result.registration.method == "whois"
    assert io_result.registration.source == f"whois://127.0.0.1:{whois.port}"
    assert io_result.registration.expires == datetime(2018, 9, 30, 1, tzinfo=UTC)
    assert io_result.status is Status.EXPIRED
    assert test_result.registration is not None
    assert test_result.registration.method == "rdap"
    assert whois.queries == ["google.io"]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def test_cli_whois_options_and_manual_dates(  # type: ignore[no-untyped-def]
    registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rdap, whois, bootstrap = registries
    watchlist_path = tmp_path / "watchlist.sqlite3"
    monkeypatch.setenv("DOMAINCHECK_WATCHLIST", str(watchlist_path))
    monkeypatch.setenv("DOMAINCHECK_WHOIS_PACE", "0")
    monkeypatch.setenv("DOMAINCHECK_RDAP_BOOTSTRAP", str(bootstrap))
    server = f"127.0.0.1:{whois.port}"

    code, out, _ = run_cli("watch", "add", "facebook.de", "--registration-expires", "2027-01-31")
    assert code == 0
    assert "Registration expiry set to 2027-01-31" in out

    code, out, err = run_cli(
        "check", "--no-tls", "--format", "json", "--whois-server", f"de={server}",
        "--whois-server", f"co.uk={server}", "facebook.de", "amazon.co.uk",
    )  # fmt: skip
    by_domain = {r["domain"]: r["registration"] for r in json.loads(out)["results"]}
    german = by_domain["facebook.de"]
    assert (german["method"], german["source"]) == ("manual", "manual")
    assert german["expires"] == "2027-01-31T23:59:59Z"
    assert german["nameservers"] == [
        "a.ns.facebook.com",
        "b.ns.facebook.com",
        "c.ns.facebook.com",
        "d.ns.facebook.com",
    ]
    british = by_domain["amazon.co.uk"]
    assert (british["method"], british["source"]) == ("whois", f"whois://{server}")
    assert british["changes"] == []

    monkeypatch.setenv("DOMAINCHECK_WHOIS_SERVERS", f"de={server}")
    code, out, _ = run_cli("check", "--no-tls", "--no-whois", "--format", "json", "facebook.de")
    registration = json.loads(out)["results"][0]["registration"]
    assert registration["method"] == "manual"  # no registry answered: only the typed date
    assert registration["nameservers"] == []

    code, _, err = run_cli("check", "--no-tls", "--whois-server", "de", "facebook.de")
    assert code == 64
    assert "--whois-server 'de': expected TLD=HOST:PORT" in err
    assert "Traceback" not in err

    code, _, err = run_cli("watch", "add", "x.de", "--registration-expires", "soon")
    assert code == 64
    assert "expected a date such as 2027-12-31" in err


def test_cli_reports_changes_since_the_watchlists_stored_result(  # type: ignore[no-untyped-def]
    registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rdap, whois, bootstrap = registries
    watchlist_path = tmp_path / "watchlist.sqlite3"
    monkeypatch.setenv("DOMAINCHECK_WATCHLIST", str(watchlist_path))
    monkeypatch.setenv("DOMAINCHECK_WHOIS_PACE", "0")
    monkeypatch.setenv("DOMAINCHECK_RDAP_BOOTSTRAP", str(bootstrap))
    monkeypatch.setenv("DOMAINCHECK_WHOIS_SERVERS", f"io=127.0.0.1:{whois.port}")
    target = Target("google.io")
    stored = Registration(
        "google.io",
        expires=datetime(2018, 9, 30, 1, tzinfo=UTC),
        registrar="Some Other Registrar",
        method="whois",
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        nameservers=("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"),
    )
    with Watchlist(watchlist_path) as watchlist:
        watchlist.add([target])
        watchlist.save_results([CheckResult(target, None, stored, NOW - timedelta(days=1))])
    assert watched_registrations([target], watchlist_path)[1][target.key] == stored

    code, out, _ = run_cli("check", "--no-tls", "--format", "json", "google.io")
    assert code == 2  # google.io's corpus answer expired in 2018
    registration = json.loads(out)["results"][0]["registration"]
    assert registration["changes"] == [
        "registrar changed from Some Other Registrar to MarkMonitor Inc."
        " (if nobody here moved the domain, this may be a hijack)"
    ]


def test_checking_never_creates_a_watchlist(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    assert watched_registrations([TARGET], missing) == ({}, {})
    assert not missing.exists()


def test_the_test_world_answers_whois_for_the_corpus_names(  # type: ignore[no-untyped-def]
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI against the loopback world: RDAP for .test, WHOIS for the corpus names."""
    if not CORPUS_DIR.is_dir():
        pytest.skip("the shared corpus is missing")
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    code, out, _ = run_cli("check", "--format", "json", "valid.test", "facebook.de", "google.uk")
    by_domain = {r["domain"]: r for r in json.loads(out)["results"]}
    assert by_domain["valid.test"]["registration"]["method"] == "rdap"
    german = by_domain["facebook.de"]["registration"]
    assert (german["method"], german["status"]) == ("whois", "unknown")
    assert german["error"] == "the .de registry does not publish expiry dates"
    british = by_domain["google.uk"]["registration"]
    assert (british["expires"], british["status"]) == ("2021-06-11T00:00:00Z", "expired")
    assert british["registrar"] == "Markmonitor Inc. t/a MarkMonitor Inc. [Tag = MARKMONITOR]"
    assert code == 2
