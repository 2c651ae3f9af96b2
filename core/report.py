"""Results as documents: the JSON and CSV shapes, and the monitoring exit code.

One definition of the ``domaincheck check --format json`` document, used by the
CLI, the desktop's export and the backend's ``POST /api/check``. Dates are ISO 8601
in UTC with a ``Z``. Beyond the documented fields, each component carries its own
``status`` and each result a one-line ``problem``, so a consumer never has to
re-derive them (and the document can be loaded back with ``result_from_dict``).

The document only grows: new keys are added (``tls.error_kind``,
``tls.verify_problem``, ``tls.chain_earliest_subject``, ``tls.chain_earliest_role``,
``registration.error_kind``), existing ones never change name or meaning, and in
CSV the new columns come after all the old ones. ``tls.verify_error`` stays
OpenSSL's own words (for the details); the one-line ``problem`` never quotes them.

Lifetime-aware thresholds, ARI and revocation added ``threshold_days`` per result
(the target's own, else the run's default), ``tls.lifetime_days`` (days, fractions
allowed), ``tls.renewal`` (``{"window_start", "window_end", "explanation_url"}`` or
null when the CA gave no ARI answer) and ``tls.revocation`` (``{"status": "good" |
"revoked" | "unknown", "method": "crl" | "ocsp" | null, "revoked_at", "reason"}``,
null when revocation was not checked). In CSV they are flattened into the last
columns (``tls_renewal_window_end``, ``tls_revocation_status``...).

Registration expiry for every TLD added ``registration.method`` (``"rdap"``,
``"whois"``, ``"manual"`` or null), ``registration.statuses`` (EPP status codes),
``registration.nameservers`` and ``registration.changes`` (short texts, empty when
nothing changed since the last stored result); they are JSON-only, CSV keeps its
columns.

Every endpoint a name serves added ``protocol`` per result (``"tls"`` for bare names
and ``host:port``, else the URL's scheme: ``"https"``, ``"smtp"``, ``"imaps"``...),
``serves`` (the mail domain of an MX host found through ``mx:example.com``, else
null) and ``endpoints``: ``[{"address": "192.0.2.10", "tls": {...}}, ...]``, every
address of a name with more than one, ordered by address, each ``tls`` shaped like
the result's (which is the worst endpoint's); an empty list for a name with one
address, with ``--first-address-only``, or without TLS. In CSV they are the last
three columns, ``endpoints`` flattened to ``192.0.2.10=valid 192.0.2.11=expiring``.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from core.errors import ErrorKind
from core.models import (
    DEFAULT_PROTOCOL,
    CertInfo,
    ChainRole,
    CheckResult,
    Endpoint,
    InputError,
    Registration,
    RenewalInfo,
    Revocation,
    RevocationMethod,
    RevocationStatus,
    Status,
    Target,
    TrustProblem,
    days_left,
    effective_cert_expiry,
    tls_status,
)
from core.thresholds import DEFAULT_LIFETIME_FRACTION

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
    "error_kind",
    "verify_problem",
    "chain_earliest_subject",
    "chain_earliest_role",
)
REGISTRATION_FIELDS = (
    "registrable_domain",
    "expires",
    "days_left",
    "registrar",
    "source",
    "error",
    "status",
    "error_kind",
)
#: Fields added after the CSV layout was first published: their columns go last.
_LATER_TLS_FIELDS = TLS_FIELDS[-4:]
_LATER_REGISTRATION_FIELDS = REGISTRATION_FIELDS[-1:]
CSV_FIELDS = (
    "domain",
    "display",
    "port",
    "status",
    "days_left",
    "problem",
    *(f"tls_{name}" for name in TLS_FIELDS if name not in _LATER_TLS_FIELDS),
    *(
        f"registration_{name}"
        for name in REGISTRATION_FIELDS
        if name not in _LATER_REGISTRATION_FIELDS
    ),
    "checked_at",
    *(f"tls_{name}" for name in _LATER_TLS_FIELDS),
    *(f"registration_{name}" for name in _LATER_REGISTRATION_FIELDS),
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


def _enum_value(
    value: ErrorKind | TrustProblem | ChainRole | RevocationStatus | RevocationMethod | None,
) -> str | None:
    return None if value is None else value.value


def renewal_to_dict(renewal: RenewalInfo | None) -> dict[str, Any] | None:
    """``tls.renewal``: the CA's suggested window, or ``None`` without an ARI answer."""
    if renewal is None:
        return None
    return {
        "window_start": iso(renewal.window_start),
        "window_end": iso(renewal.window_end),
        "explanation_url": renewal.explanation_url,
    }


def revocation_to_dict(revocation: Revocation | None) -> dict[str, Any] | None:
    """``tls.revocation``, or ``None`` when it was not checked."""
    if revocation is None:
        return None
    return {
        "status": revocation.status.value,
        "method": _enum_value(revocation.method),
        "revoked_at": iso(revocation.revoked_at),
        "reason": revocation.reason,
    }


def _tls_to_dict(cert: CertInfo, result: CheckResult) -> dict[str, Any]:
    """A ``tls`` object: the result's, or one endpoint's (with the result's thresholds)."""
    status = tls_status(cert, result.checked_at, result.threshold_days, result.lifetime_fraction)
    return {
        "not_after": iso(cert.not_after),
        "not_before": iso(cert.not_before),
        "days_left": days_left(effective_cert_expiry(cert), result.checked_at),
        "issuer": cert.issuer,
        "subject": cert.subject,
        "sans": list(cert.sans),
        "fingerprint_sha256": cert.fingerprint_sha256,
        "trusted": cert.trusted,
        "hostname_match": cert.hostname_match,
        "verify_error": cert.verify_error,
        "chain_earliest_not_after": iso(cert.chain_earliest_not_after),
        "error": cert.error,
        "status": _status_value(status),
        "error_kind": _enum_value(cert.error_kind),
        "verify_problem": _enum_value(cert.verify_problem),
        "chain_earliest_subject": cert.chain_earliest_subject,
        "chain_earliest_role": _enum_value(cert.chain_earliest_role),
        "lifetime_days": cert.lifetime_days,
        "renewal": renewal_to_dict(cert.renewal),
        "revocation": revocation_to_dict(cert.revocation),
    }


def result_to_dict(result: CheckResult) -> dict[str, Any]:
    """One entry of the document's ``results`` list."""
    tls = None if result.tls is None else _tls_to_dict(result.tls, result)
    endpoints = [
        {"address": endpoint.address, "tls": _tls_to_dict(endpoint.tls, result)}
        for endpoint in (result.tls.endpoints if result.tls is not None else ())
    ]
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
            "error_kind": _enum_value(reg.error_kind),
            "method": reg.method,
            "statuses": list(reg.statuses),
            "nameservers": list(reg.nameservers),
            "changes": list(reg.changes),
        }
    return {
        "domain": result.target.host,
        "display": result.target.display,
        "port": result.target.port,
        "status": result.status.value,
        "days_left": result.days_left,
        "threshold_days": result.threshold_days,
        "problem": result.problem,
        "tls": tls,
        "registration": registration,
        "protocol": result.target.protocol,
        "serves": result.target.serves or None,
        "endpoints": endpoints,
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
    data: Mapping[str, Any],
    *,
    checked_at: datetime,
    threshold_days: int,
    lifetime_fraction: float = DEFAULT_LIFETIME_FRACTION,
) -> CheckResult:
    """Inverse of ``result_to_dict`` (for stored results and the backend's answers).

    The result's own ``threshold_days`` wins over ``threshold_days`` (which is for
    documents written before results carried one).
    """
    from core.config import is_ip_literal

    host = str(data["domain"])
    protocol, serves = data.get("protocol"), data.get("serves")
    target = Target(
        host=host,
        port=int(data.get("port", 443)),
        display=str(data.get("display") or host),
        is_ip=is_ip_literal(host),
        protocol=protocol if isinstance(protocol, str) and protocol else DEFAULT_PROTOCOL,
        serves=serves if isinstance(serves, str) else "",
    )
    tls_data = data.get("tls")
    tls = None
    if tls_data is not None:
        tls = _cert_from_dict(tls_data)
        endpoints = tuple(
            Endpoint(str(item["address"]), _cert_from_dict(item["tls"]))
            for item in data.get("endpoints") or ()
            if isinstance(item, Mapping)
            and item.get("address")
            and isinstance(item.get("tls"), Mapping)
        )
        if endpoints:
            tls = dataclasses.replace(tls, endpoints=endpoints)
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
            error_kind=ErrorKind.parse(reg_data.get("error_kind")),
            method=_optional_text(reg_data.get("method")),
            statuses=_texts(reg_data.get("statuses")),
            nameservers=_texts(reg_data.get("nameservers")),
            changes=_texts(reg_data.get("changes")),
        )
    return CheckResult(
        target=target,
        tls=tls,
        registration=registration,
        checked_at=checked_at,
        threshold_days=_threshold(data.get("threshold_days"), threshold_days),
        lifetime_fraction=lifetime_fraction,
    )


def _cert_from_dict(tls_data: Mapping[str, Any]) -> CertInfo:
    """Inverse of :func:`_tls_to_dict` (``status`` and ``days_left`` are derived)."""
    return CertInfo(
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
        error_kind=ErrorKind.parse(tls_data.get("error_kind")),
        verify_problem=TrustProblem.parse(tls_data.get("verify_problem")),
        chain_earliest_subject=tls_data.get("chain_earliest_subject"),
        chain_earliest_role=_chain_role(tls_data.get("chain_earliest_role")),
        renewal=_renewal(tls_data.get("renewal")),
        revocation=_revocation(tls_data.get("revocation")),
    )


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: object) -> tuple[str, ...]:
    """A JSON list of strings as a tuple; anything else (older documents) as ``()``."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _threshold(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def _renewal(data: object) -> RenewalInfo | None:
    if not isinstance(data, Mapping):
        return None
    try:
        start = parse_iso(data.get("window_start"))
        end = parse_iso(data.get("window_end"))
    except (TypeError, ValueError):
        return None
    if start is None or end is None:
        return None
    url = data.get("explanation_url")
    return RenewalInfo(start, end, url if isinstance(url, str) else None)


def _revocation(data: object) -> Revocation | None:
    if not isinstance(data, Mapping):
        return None
    try:
        status = RevocationStatus(data.get("status"))
    except ValueError:
        status = RevocationStatus.UNKNOWN
    try:
        method = RevocationMethod(data["method"]) if data.get("method") else None
        revoked_at = parse_iso(data.get("revoked_at"))
    except (TypeError, ValueError):
        method, revoked_at = None, None
    reason = data.get("reason")
    return Revocation(status, method, revoked_at, reason if isinstance(reason, str) else None)


def _chain_role(value: object) -> ChainRole | None:
    try:
        return ChainRole(value) if value is not None else None
    except ValueError:
        return None


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
    row["threshold_days"] = str(result.threshold_days)
    tls = data["tls"] or {}
    row["tls_lifetime_days"] = _flat_value(tls.get("lifetime_days"))
    for prefix, names in (
        ("renewal", ("window_start", "window_end", "explanation_url")),
        ("revocation", ("status", "method", "revoked_at", "reason")),
    ):
        part = tls.get(prefix) or {}
        for name in names:
            row[f"tls_{prefix}_{name}"] = _flat_value(part.get(name))
    row["protocol"] = data["protocol"]
    row["serves"] = _flat_value(data["serves"])
    row["endpoints"] = " ".join(
        f"{endpoint['address']}={endpoint['tls']['status']}" for endpoint in data["endpoints"]
    )
    return {field: row[field] for field in CSV_FIELDS}


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
