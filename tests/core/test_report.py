"""The JSON/CSV documents and the exit code (core/report.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from core.models import CertInfo, CheckResult, InputError, Registration, Status, Target
from core.report import (
    CSV_FIELDS,
    csv_row,
    exit_code,
    iso,
    report_document,
    result_from_dict,
    result_to_dict,
    write_csv,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def full_result(tls_days: int = 90, reg_days: int = 200) -> CheckResult:
    tls = CertInfo(
        not_after=NOW + timedelta(days=tls_days),
        not_before=NOW - timedelta(days=10),
        subject="bücher.example",
        issuer="Test CA Intermediate",
        sans=("xn--bcher-kva.example", "www.xn--bcher-kva.example"),
        fingerprint_sha256="AB:CD",
        trusted=True,
        hostname_match=True,
        chain_earliest_not_after=NOW + timedelta(days=400),
    )
    reg = Registration(
        registrable_domain="xn--bcher-kva.example",
        expires=NOW + timedelta(days=reg_days),
        registrar="Test Registrar, Inc.",
        source="http://127.0.0.1:1/domain/xn--bcher-kva.example",
    )
    target = Target("xn--bcher-kva.example", 8443, "bücher.example")
    return CheckResult(target, tls, reg, NOW, 30)


def test_result_dict_has_the_contract_fields() -> None:
    data = result_to_dict(full_result())
    assert {"domain", "display", "port", "status", "days_left", "tls", "registration"} <= set(data)
    assert data["domain"] == "xn--bcher-kva.example"
    assert data["display"] == "bücher.example"
    assert data["port"] == 8443
    assert data["status"] == "valid"
    assert data["days_left"] == 90
    assert set(data["tls"]) >= {
        "not_after",
        "not_before",
        "days_left",
        "issuer",
        "subject",
        "sans",
        "fingerprint_sha256",
        "trusted",
        "hostname_match",
        "verify_error",
        "chain_earliest_not_after",
        "error",
    }
    assert set(data["registration"]) >= {
        "registrable_domain",
        "expires",
        "days_left",
        "registrar",
        "source",
        "error",
    }
    assert data["tls"]["not_after"] == "2027-02-21T12:00:00Z"
    assert data["tls"]["sans"] == ["xn--bcher-kva.example", "www.xn--bcher-kva.example"]
    assert data["registration"]["days_left"] == 200


def test_null_components_only_when_switched_off() -> None:
    result = CheckResult(Target("a.example"), None, None, NOW, 30)
    data = result_to_dict(result)
    assert data["tls"] is None and data["registration"] is None


def test_document_shape() -> None:
    errors = [InputError("list.txt", 3, "a..b.com", "empty label")]
    doc = report_document([full_result()], errors, 30, NOW.replace(microsecond=123456))
    assert doc["checked_at"] == "2026-11-23T12:00:00Z"
    assert doc["threshold_days"] == 30
    assert len(doc["results"]) == 1
    assert doc["input_errors"] == [
        {"source": "list.txt", "line": 3, "text": "a..b.com", "error": "empty label"}
    ]


@pytest.mark.parametrize(
    "result",
    [
        full_result(),
        full_result(tls_days=-2, reg_days=5),
        CheckResult(
            Target("a.example"),
            CertInfo(error="connection refused"),
            Registration(error="not found", unknown=True),
            NOW,
            14,
        ),
        CheckResult(
            Target("192.0.2.1", 443, is_ip=True), None, Registration(error="HTTP 500"), NOW, 30
        ),
    ],
)
def test_dict_round_trip(result: CheckResult) -> None:
    data = result_to_dict(result)
    back = result_from_dict(
        data, checked_at=result.checked_at, threshold_days=result.threshold_days
    )
    assert result_to_dict(back) == data
    assert back.status is result.status


def test_csv_has_one_flat_row_per_result() -> None:
    out = io.StringIO()
    write_csv([full_result(), full_result(tls_days=3)], out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_FIELDS
    assert len(rows) == 2
    assert rows[0]["tls_sans"] == "xn--bcher-kva.example www.xn--bcher-kva.example"
    assert rows[0]["tls_trusted"] == "true"
    assert rows[1]["status"] == "expiring"
    assert rows[1]["problem"] == "certificate expires in 3 days"
    assert csv_row(CheckResult(Target("a.example"), None, None, NOW, 30))["tls_not_after"] == ""


def _with_status(status: Status) -> CheckResult:
    tls = {
        Status.VALID: CertInfo(
            not_after=NOW + timedelta(days=90), trusted=True, hostname_match=True
        ),
        Status.EXPIRING: CertInfo(
            not_after=NOW + timedelta(days=9), trusted=True, hostname_match=True
        ),
        Status.EXPIRED: CertInfo(not_after=NOW - timedelta(days=9), trusted=False),
        Status.INVALID: CertInfo(not_after=NOW + timedelta(days=90), trusted=False),
        Status.ERROR: CertInfo(error="refused"),
    }[status]
    result = CheckResult(Target("a.example"), tls, None, NOW, 30)
    assert result.status is status
    return result


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([], 0),
        ([Status.VALID], 0),
        ([Status.VALID, Status.EXPIRING], 1),
        ([Status.ERROR, Status.EXPIRING], 1),
        ([Status.EXPIRING, Status.EXPIRED], 2),
        ([Status.INVALID, Status.ERROR], 2),
        ([Status.VALID, Status.ERROR], 3),
    ],
)
def test_exit_code(statuses: list[Status], code: int) -> None:
    assert exit_code([_with_status(s) for s in statuses]) == code


def test_nothing_learned_is_unchecked() -> None:
    result = CheckResult(Target("a.example"), None, Registration(unknown=True), NOW, 30)
    assert exit_code([result]) == 3


def test_iso_is_utc_with_z() -> None:
    from datetime import timezone

    moment = datetime(2026, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-01-01T03:00:00Z"
    assert iso(None) is None
