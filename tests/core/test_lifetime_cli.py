"""End to end: lifetime-aware thresholds, ARI and revocation through the CLI (issue 15).

Every case runs ``domaincheck check`` against the loopback world: short-lived
certificates at several points of their lives, the ACME server's renewal windows
(``--acme-directory``), the CRL and the OCSP responder the certificates name.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from core.checker import check_all
from core.cli import main
from core.models import RevocationStatus, Status, Target
from core.report import iso
from tests.helpers.lifetime_world import (
    ARI_HOSTS,
    CRL_REVOKED_DAYS_AGO,
    EXPLANATION_URL,
    LIFETIME_CASES,
    OCSP_REVOKED_DAYS_AGO,
    REVOCATION_HOSTS,
)
from tests.helpers.world import LoopbackWorld


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def results(self) -> dict[str, dict[str, Any]]:
        return {r["domain"]: r for r in json.loads(self.out)["results"]}


@pytest.fixture
def cli(world: LoopbackWorld, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOMAINCHECK_TIMEOUT", "3")

    def run(*args: str, stdin: str = "") -> Run:
        out, err = io.StringIO(), io.StringIO()
        stream = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
        code = main(["check", "--no-rdap", *args], stdout=out, stderr=err, stdin=stream)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def _date(world: LoopbackWorld, days_ago: int) -> str:
    return (world.pki.now - timedelta(days=days_ago)).date().isoformat()


# --------------------------------------------------------------------------- lifetime


def test_short_lived_certificates_at_several_points_of_their_lives(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("--format", "json", *(name for name, _, _ in LIFETIME_CASES))
    results = run.results()
    assert {name: r["status"] for name, r in results.items()} == {
        "fresh6.test": "valid",
        "late6.test": "expiring",
        "mid45.test": "valid",
        "late45.test": "expiring",
        "mid90.test": "valid",
        "late90.test": "expiring",
    }
    assert {name: r["tls"]["lifetime_days"] for name, r in results.items()} == {
        name: float(lifetime) for name, lifetime, _ in LIFETIME_CASES
    }
    assert results["late45.test"]["problem"] == (
        "certificate expires in 13 days"
        " (a third of its 45-day lifetime is left: renewal looks overdue)"
    )
    assert results["late6.test"]["problem"] == (
        "certificate expires in 1 day"
        " (a third of its 6-day lifetime is left: renewal looks overdue)"
    )
    assert results["late90.test"]["problem"] == "certificate expires in 24 days"
    assert all(r["problem"] == "" for r in results.values() if r["status"] == "valid")
    assert all(r["threshold_days"] == 30 for r in results.values())
    assert run.code == 1


def test_lifetime_fraction_zero_restores_the_plain_threshold(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("--format", "json", "--lifetime-fraction", "0", "mid45.test", "fresh6.test")
    assert {name: r["status"] for name, r in run.results().items()} == {
        "mid45.test": "expiring",
        "fresh6.test": "expiring",
    }


def test_a_custom_lifetime_fraction(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("--format", "json", "--lifetime-fraction", "0.6", "mid45.test")
    result = run.results()["mid45.test"]
    assert result["status"] == "expiring"
    assert result["problem"] == (
        "certificate expires in 24 days (60% of its 45-day lifetime is left: renewal looks overdue)"
    )


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_a_bad_lifetime_fraction_is_a_usage_error(cli, value: str) -> None:  # type: ignore[no-untyped-def]
    run = cli("--lifetime-fraction", value, "mid45.test")
    assert run.code == 64
    assert "Traceback" not in run.err
    assert "lifetime" in run.err


def test_a_lifetime_fraction_that_is_no_number_is_a_usage_error(  # type: ignore[no-untyped-def]
    cli, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli("--lifetime-fraction", "a third", "mid45.test")
    assert stopped.value.code == 64
    assert "--lifetime-fraction: invalid float value" in capsys.readouterr().err


def test_per_target_thresholds_from_a_csv_list(cli) -> None:  # type: ignore[no-untyped-def]
    csv_text = "domain,threshold_days\nmid90.test,45\nlate90.test,7\nvalid.test,\n"
    run = cli("--format", "json", "-f", "-", stdin=csv_text)
    results = run.results()
    assert {name: (r["status"], r["threshold_days"]) for name, r in results.items()} == {
        # 39 days left of 90: its own 45 days, but a third of its lifetime is 30.
        "mid90.test": ("valid", 45),
        "late90.test": ("valid", 7),  # 24 days left, its own threshold is 7
        "valid.test": ("valid", 30),  # no threshold of its own: the run's default
    }
    assert json.loads(run.out)["threshold_days"] == 30
    plain = cli("--format", "json", "--lifetime-fraction", "0", "-f", "-", stdin=csv_text)
    assert plain.results()["mid90.test"]["status"] == "expiring"
    assert plain.results()["late90.test"]["status"] == "valid"


# --------------------------------------------------------------------------- ARI


def test_renewal_information_cases(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    run = cli("--format", "json", "--acme-directory", world.acme_directory, *ARI_HOSTS)
    results = run.results()
    assert {name: r["status"] for name, r in results.items()} == {
        "arinormal.test": "valid",
        "ariended.test": "expiring",
        "arimoved.test": "expiring",
        "ari404.test": "valid",
        "ariretry.test": "valid",
        "arilater.test": "valid",
    }
    now = world.pki.now
    assert results["arinormal.test"]["tls"]["renewal"] == {
        "window_start": iso(now + timedelta(days=29.5)),
        "window_end": iso(now + timedelta(days=31.5)),
        "explanation_url": None,
    }
    assert results["arinormal.test"]["problem"] == ""
    ended = _date(world, 1)
    assert results["ariended.test"]["problem"] == (
        f"the CA's suggested renewal window ended on {ended}: renewal looks overdue"
    )
    assert results["arimoved.test"]["tls"]["renewal"]["explanation_url"] == EXPLANATION_URL
    assert results["arimoved.test"]["problem"] == (
        f"the CA moved its suggested renewal window into the past (ended on {ended}):"
        f" renew this certificate now, see {EXPLANATION_URL}"
    )
    assert results["ari404.test"]["tls"]["renewal"] is None
    assert results["arilater.test"]["tls"]["renewal"] is None
    # Retry-After: 1 was waited for, once, and the second answer used.
    assert results["ariretry.test"]["tls"]["renewal"] is not None


def test_a_short_retry_after_is_honoured_within_the_run(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    acme = world.acme_server
    path = acme.renewal_path(world.lifetime_certs["ariretry.test"])
    before = acme.requests_for(path)
    run = cli("--format", "json", "--acme-directory", world.acme_directory, "ariretry.test")
    assert run.results()["ariretry.test"]["tls"]["renewal"] is not None
    assert acme.requests_for(path) == before + 2  # the 503, then the answer


def test_a_long_retry_after_is_remembered_across_runs(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    acme = world.acme_server
    later = acme.renewal_path(world.lifetime_certs["arilater.test"])
    normal = acme.renewal_path(world.lifetime_certs["arinormal.test"])
    before_later, before_normal = acme.requests_for(later), acme.requests_for(normal)
    for _ in range(2):
        run = cli("--format", "json", "--acme-directory", world.acme_directory, "arilater.test")
        assert run.results()["arilater.test"]["tls"]["renewal"] is None
        cli("--format", "json", "--acme-directory", world.acme_directory, "arinormal.test")
    # One request each: the 503's hour and the answer's Retry-After are remembered.
    assert acme.requests_for(later) == before_later + 1
    assert acme.requests_for(normal) == before_normal + 1


def test_without_acme_directory_unknown_cas_are_not_asked(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    before = len(world.acme_server.request_log)
    run = cli("--format", "json", "ariended.test")
    result = run.results()["ariended.test"]
    assert result["status"] == "valid"
    assert result["tls"]["renewal"] is None
    assert len(world.acme_server.request_log) == before


# --------------------------------------------------------------------------- revocation


def test_revocation_cases(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    run = cli("--format", "json", *REVOCATION_HOSTS)
    results = run.results()
    revocation = {name: r["tls"]["revocation"] for name, r in results.items()}
    assert {name: r["status"] for name, r in results.items()} == {
        "crlrevoked.test": "invalid",
        "crlgood.test": "valid",
        "crlunreachable.test": "valid",
        "ocsprevoked.test": "invalid",
        "ocspgood.test": "valid",
    }
    crl_revoked_at = iso(world.pki.now - timedelta(days=CRL_REVOKED_DAYS_AGO))
    assert revocation["crlrevoked.test"] == {
        "status": "revoked",
        "method": "crl",
        "revoked_at": crl_revoked_at,
        "reason": "keyCompromise",
    }
    assert results["crlrevoked.test"]["problem"] == (
        f"revoked on {_date(world, CRL_REVOKED_DAYS_AGO)}: keyCompromise"
    )
    assert revocation["crlgood.test"] == {
        "status": "good",
        "method": "crl",
        "revoked_at": None,
        "reason": None,
    }
    assert revocation["crlunreachable.test"] == {
        "status": "unknown",
        "method": None,
        "revoked_at": None,
        "reason": None,
    }
    assert results["crlunreachable.test"]["problem"] == ""
    assert revocation["ocsprevoked.test"]["method"] == "ocsp"
    assert revocation["ocsprevoked.test"]["reason"] == "superseded"
    assert results["ocsprevoked.test"]["problem"] == (
        f"revoked on {_date(world, OCSP_REVOKED_DAYS_AGO)}: superseded"
    )
    assert revocation["ocspgood.test"]["status"] == "good"
    assert run.code == 2


def test_no_revocation_turns_it_off(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    before = len(world.revocation_server.request_log)
    run = cli("--format", "json", "--no-revocation", "crlrevoked.test", "ocsprevoked.test")
    results = run.results()
    assert {r["status"] for r in results.values()} == {"valid"}
    assert all(r["tls"]["revocation"] is None for r in results.values())
    assert all("renewal" in r["tls"] for r in results.values())
    assert len(world.revocation_server.request_log) == before
    assert run.code == 0


def test_every_checked_certificate_carries_renewal_and_revocation(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("--format", "json", "valid.test", "expired.test", "selfsigned.test")
    for result in run.results().values():
        assert result["tls"]["renewal"] is None
        assert result["tls"]["revocation"]["status"] == "unknown"


def test_the_table_shows_revocation_and_lifetime_problems(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("crlrevoked.test", "late45.test")
    assert "revoked on" in run.out and "keyCompromise" in run.out
    assert "a third of its 45-day lifetime is left" in run.out


def test_csv_carries_the_new_columns(cli) -> None:  # type: ignore[no-untyped-def]
    import csv

    run = cli("--format", "csv", "crlrevoked.test", "late45.test")
    rows = {row["domain"]: row for row in csv.DictReader(io.StringIO(run.out))}
    assert rows["crlrevoked.test"]["tls_revocation_status"] == "revoked"
    assert rows["crlrevoked.test"]["tls_revocation_reason"] == "keyCompromise"
    assert rows["late45.test"]["tls_lifetime_days"] == "45.0"
    assert rows["late45.test"]["threshold_days"] == "30"


# --------------------------------------------------------------------------- routing


def test_connect_to_never_steers_the_downloads(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    """A rule for the CA servers' own address would break them if it applied."""
    dead = world.closed_port
    rules = [
        "--connect-to",
        f"127.0.0.1:{world.revocation_server.port}:127.0.0.1:{dead}",
        "--connect-to",
        f"127.0.0.1:{world.acme_server.port}:127.0.0.1:{dead}",
    ]
    run = cli(
        "--format",
        "json",
        *rules,
        "--acme-directory",
        world.acme_directory,
        "crlrevoked.test",
        "ariended.test",
    )
    results = run.results()
    assert results["crlrevoked.test"]["tls"]["revocation"]["status"] == "revoked"
    assert results["ariended.test"]["tls"]["renewal"] is not None


async def test_public_addresses_only_refuses_loopback_downloads(world: LoopbackWorld) -> None:
    """The backend's rule: the target may be steered by the operator's connect-to
    rule, but the CRL, OCSP and a certificate's ARI server on 127.0.0.1 may not be
    fetched."""
    settings = world.settings(public_addresses_only=True, check_rdap=False, timeout_seconds=3)
    before = len(world.revocation_server.request_log)
    results = await check_all([Target("crlrevoked.test"), Target("ocsprevoked.test")], settings)
    for result in results:
        assert result.tls is not None and result.tls.revocation is not None
        assert result.tls.revocation.status is RevocationStatus.UNKNOWN
        assert result.status is Status.VALID
    assert len(world.revocation_server.request_log) == before


async def test_the_operators_acme_directory_is_allowed_under_the_public_rule(
    world: LoopbackWorld,
) -> None:
    settings = world.settings(
        public_addresses_only=True,
        check_rdap=False,
        timeout_seconds=3,
        acme_directory=world.acme_directory,
    )
    (result,) = await check_all([Target("ariended.test")], settings)
    assert result.tls is not None and result.tls.renewal is not None
    assert result.status is Status.EXPIRING


def test_a_watchlist_threshold_reaches_the_check(world: LoopbackWorld) -> None:
    """Targets carry their own threshold through the engine, whatever the default."""
    import asyncio

    targets = [
        Target("late90.test", threshold_days=7),
        Target("mid90.test", threshold_days=45),
    ]
    settings = world.settings(check_rdap=False, timeout_seconds=3, lifetime_fraction=0)
    results = {r.target.host: r for r in asyncio.run(check_all(targets, settings))}
    assert results["late90.test"].status is Status.VALID
    assert results["mid90.test"].status is Status.EXPIRING
    assert results["mid90.test"].threshold_days == 45
