"""Results as documents: the JSON and CSV shapes, and the monitoring exit code.

One definition of the ``domaincheck check --format json`` document, used by the
CLI, the desktop's export and the backend's ``POST /api/check``. Dates are ISO 8601
in UTC with a ``Z``. Beyond the documented fields, each component carries its own
``status`` and each result a one-line ``problem``, so a consumer never has to
re-derive them (and the document can be loaded back with ``result_from_dict``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from core.models import (
    CertInfo,
    CheckResult,
    InputError,
    Registration,
    Status,
    Target,
)

EXIT_OK = 0
EXIT_EXPIRING = 1
EXIT_EXPIRED_OR_INVALID = 2
EXIT_UNCHECKED = 3
EXIT_USAGE = 64

TLS_FIELDS = (
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
    "status",
)
REGISTRATION_FIELDS = (
    "registrable_domain",
    "expires",
    "days_left",
    "registrar",
    "source",
    "error",
    "status",
)
CSV_FIELDS = (
    "domain",
    "display",
    "port",
    "status",
    "days_left",
    "problem",
    *(f"tls_{name}" for name in TLS_FIELDS),
    *(f"registration_{name}" for name in REGISTRATION_FIELDS),
    "checked_at",
)


def iso(moment: datetime | None) -> str | None:
    """``2026-11-23T02:13:14Z`` (UTC, whole seconds), or ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status_value(status: Status | None) -> str | None:
    return None if status is None else status.value


def result_to_dict(result: CheckResult) -> dict[str, Any]:
    """One entry of the document's ``results`` list."""
    tls: dict[str, Any] | None = None
    if result.tls is not None:
        cert = result.tls
        tls = {
            "not_after": iso(cert.not_after),
            "not_before": iso(cert.not_before),
            "days_left": result.tls_days_left,
            "issuer": cert.issuer,
            "subject": cert.subject,
            "sans": list(cert.sans),
            "fingerprint_sha256": cert.fingerprint_sha256,
            "trusted": cert.trusted,
            "hostname_match": cert.hostname_match,
            "verify_error": cert.verify_error,
            "chain_earliest_not_after": iso(cert.chain_earliest_not_after),
            "error": cert.error,
            "status": _status_value(result.tls_status),
        }
    registration: dict[str, Any] | None = None
    if result.registration is not None:
        reg = result.registration
        registration = {
            "registrable_domain": reg.registrable_domain,
            "expires": iso(reg.expires),
            "days_left": result.registration_days_left,
            "registrar": reg.registrar,
            "source": reg.source,
            "error": reg.error,
            "status": _status_value(result.registration_status),
        }
    return {
        "domain": result.target.host,
        "display": result.target.display,
        "port": result.target.port,
        "status": result.status.value,
        "days_left": result.days_left,
        "problem": result.problem,
        "tls": tls,
        "registration": registration,
    }


def input_error_to_dict(error: InputError) -> dict[str, Any]:
    return {"source": error.source, "line": error.line, "text": error.text, "error": error.error}


def report_document(
    results: Sequence[CheckResult],
    input_errors: Sequence[InputError],
    threshold_days: int,
    checked_at: datetime,
) -> dict[str, Any]:
    """The whole ``--format json`` document."""
    return {
        "checked_at": iso(checked_at),
        "threshold_days": threshold_days,
        "results": [result_to_dict(r) for r in results],
        "input_errors": [input_error_to_dict(e) for e in input_errors],
    }


def result_from_dict(
    data: Mapping[str, Any], *, checked_at: datetime, threshold_days: int
) -> CheckResult:
    """Inverse of ``result_to_dict`` (for stored results and the backend's answers)."""
    from core.config import is_ip_literal

    host = str(data["domain"])
    target = Target(
        host=host,
        port=int(data.get("port", 443)),
        display=str(data.get("display") or host),
        is_ip=is_ip_literal(host),
    )
    tls_data = data.get("tls")
    tls = None
    if tls_data is not None:
        tls = CertInfo(
            not_after=parse_iso(tls_data.get("not_after")),
            not_before=parse_iso(tls_data.get("not_before")),
            subject=tls_data.get("subject"),
            issuer=tls_data.get("issuer"),
            sans=tuple(tls_data.get("sans") or ()),
            fingerprint_sha256=tls_data.get("fingerprint_sha256"),
            trusted=tls_data.get("trusted"),
            hostname_match=tls_data.get("hostname_match"),
            verify_error=tls_data.get("verify_error"),
            chain_earliest_not_after=parse_iso(tls_data.get("chain_earliest_not_after")),
            error=tls_data.get("error"),
        )
    reg_data = data.get("registration")
    registration = None
    if reg_data is not None:
        registration = Registration(
            registrable_domain=reg_data.get("registrable_domain"),
            expires=parse_iso(reg_data.get("expires")),
            registrar=reg_data.get("registrar"),
            source=reg_data.get("source"),
            error=reg_data.get("error"),
            unknown=reg_data.get("status") == Status.UNKNOWN.value,
        )
    return CheckResult(
        target=target,
        tls=tls,
        registration=registration,
        checked_at=checked_at,
        threshold_days=threshold_days,
    )


def _flat_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def csv_row(result: CheckResult) -> dict[str, str]:
    """The result as one flat CSV row (``tls_*`` and ``registration_*`` prefixed)."""
    data = result_to_dict(result)
    row = {key: _flat_value(data[key]) for key in CSV_FIELDS[:6]}
    for prefix, fields in (("tls", TLS_FIELDS), ("registration", REGISTRATION_FIELDS)):
        part = data[prefix] or {}
        for name in fields:
            row[f"{prefix}_{name}"] = _flat_value(part.get(name))
    row["checked_at"] = iso(result.checked_at) or ""
    return row


def write_csv(results: Iterable[CheckResult], stream: TextIO) -> None:
    """Header plus one row per result, RFC 4180 quoting."""
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow(csv_row(result))


def exit_code(results: Iterable[CheckResult]) -> int:
    """Monitoring-plugin convention: 0 valid, 1 expiring, 2 expired/invalid, 3 unchecked."""
    statuses = {result.status for result in results}
    if statuses & {Status.EXPIRED, Status.INVALID}:
        return EXIT_EXPIRED_OR_INVALID
    if Status.EXPIRING in statuses:
        return EXIT_EXPIRING
    if statuses & {Status.ERROR, Status.UNKNOWN}:  # UNKNOWN overall: nothing was learned
        return EXIT_UNCHECKED
    return EXIT_OK
