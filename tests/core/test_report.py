"""The JSON/CSV documents and the exit code (core/report.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ErrorKind
from core.models import (
    CertInfo,
    ChainRole,
    CheckResult,
    InputError,
    Registration,
    Status,
    Target,
    TrustProblem,
)
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
        # A long-lived certificate: the plain threshold decides (not its lifetime).
        not_before=NOW - timedelta(days=365),
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
        CheckResult(
            Target("chain.example"),
            CertInfo(
                not_after=NOW + timedelta(days=199),
                not_before=NOW - timedelta(days=10),
                trusted=False,
                hostname_match=True,
                verify_error="certificate has expired",
                verify_problem=TrustProblem.EXPIRED,
                chain_earliest_not_after=NOW - timedelta(days=3),
                chain_earliest_subject="Test Intermediate",
                chain_earliest_role=ChainRole.INTERMEDIATE,
            ),
            Registration(error="cannot connect", error_kind=ErrorKind.DNS_TEMPORARY),
            NOW,
            30,
        ),
        CheckResult(
            Target("offline.example"),
            CertInfo(error="could not resolve", error_kind=ErrorKind.NO_SUCH_DOMAIN),
            None,
            NOW,
            30,
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
    assert back == result


def test_new_keys_are_added_and_the_raw_openssl_words_kept_for_details() -> None:
    tls = CertInfo(
        not_after=NOW + timedelta(days=90),
        trusted=False,
        hostname_match=True,
        verify_error="unable to get local issuer certificate",
        verify_problem=TrustProblem.MISSING_INTERMEDIATE,
    )
    registration = Registration(error="cannot connect", error_kind=ErrorKind.NO_ROUTE)
    data = result_to_dict(CheckResult(Target("a.example"), tls, registration, NOW, 30))

    assert data["tls"]["verify_error"] == "unable to get local issuer certificate"
    assert data["tls"]["verify_problem"] == "missing_intermediate"
    assert data["tls"]["error_kind"] is None
    assert data["tls"]["chain_earliest_subject"] is None
    assert data["tls"]["chain_earliest_role"] is None
    assert data["registration"]["error_kind"] == "no_route"
    assert "unable to get" not in data["problem"]
    assert "intermediate certificate" in data["problem"]


def test_documents_without_the_new_keys_still_load_and_read_openssl_words() -> None:
    """Results stored before the keys existed: plain words from OpenSSL's text."""
    data = result_to_dict(full_result())
    for key in ("error_kind", "verify_problem", "chain_earliest_subject", "chain_earliest_role"):
        del data["tls"][key]
    del data["registration"]["error_kind"]
    data["tls"]["trusted"] = False
    data["tls"]["verify_error"] = "self-signed certificate"

    back = result_from_dict(data, checked_at=NOW, threshold_days=30)

    assert back.tls is not None and back.tls.verify_problem is None
    assert back.problem.startswith("certificate is self-signed")


def test_unknown_stored_values_do_not_break_loading() -> None:
    data = result_to_dict(full_result())
    data["tls"].update(error_kind="from_the_future", verify_problem="new", chain_earliest_role="x")

    back = result_from_dict(data, checked_at=NOW, threshold_days=30)

    assert back.tls is not None
    assert back.tls.error_kind is ErrorKind.OTHER
    assert back.tls.verify_problem is TrustProblem.OTHER
    assert back.tls.chain_earliest_role is None


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


def test_new_csv_columns_come_after_the_old_ones() -> None:
    old_layout_ends = CSV_FIELDS.index("checked_at")
    assert CSV_FIELDS[old_layout_ends + 1 :] == (
        "tls_error_kind",
        "tls_verify_problem",
        "tls_chain_earliest_subject",
        "tls_chain_earliest_role",
        "registration_error_kind",
        "threshold_days",
        "tls_lifetime_days",
        "tls_renewal_window_start",
        "tls_renewal_window_end",
        "tls_renewal_explanation_url",
        "tls_revocation_status",
        "tls_revocation_method",
        "tls_revocation_revoked_at",
        "tls_revocation_reason",
        "protocol",
        "serves",
        "endpoints",
    )
    assert CSV_FIELDS[old_layout_ends - 1] == "registration_status"
    row = csv_row(
        CheckResult(
            Target("a.example"),
            CertInfo(error="no route", error_kind=ErrorKind.NO_ROUTE),
            None,
            NOW,
            30,
        )
    )
    assert row["tls_error_kind"] == "no_route"
    assert list(row) == list(CSV_FIELDS)


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
