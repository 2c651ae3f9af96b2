"""What the details pane says about a row, as plain text per field (no Qt here).

Kept apart from the pane's widgets (:mod:`desktop.details`) so each can be read on
its own: this module decides the words, that one lays them out. Each component has
its own dates and sources: the certificate's lifetime, the CA's renewal window
(ARI) and revocation; the registration's method (RDAP, WHOIS or a date entered by
hand), statuses, name servers and what changed since the last check; and, for a
name served by several addresses, each endpoint with its own status.
"""

from __future__ import annotations

from datetime import datetime

from core.models import (
    CertInfo,
    ChainRole,
    CheckResult,
    Endpoint,
    Registration,
    RevocationStatus,
    tls_status,
)
from core.problems import trust_problem_of, trust_problem_text, uncovered_name_text
from core.thresholds import ExpiryRule, days_text, expiring_limit, fraction_text
from desktop.rows import (
    COLUMN_STATUS,
    WatchRow,
    display_value,
    domain_description,
    format_date,
    short_dn,
    when_phrase,
)

_BYTES_PER_GROUP = 8
#: How many bytes of a fingerprint an endpoint's line shows (enough to tell apart).
_SHORT_FINGERPRINT_BYTES = 3
#: What people call each registration method.
METHOD_NAMES = {"rdap": "RDAP", "whois": "WHOIS", "manual": "entered by hand"}
#: Said next to a date entered by hand, wherever it is shown.
MANUAL_REMINDER = "entered by hand: update it after each renewal"


def format_fingerprint(fingerprint: str | None) -> str:
    """Colon-separated hex pairs in groups of 8 bytes, separated by spaces.

    The spaces are where a narrow pane may wrap the line; a 95-character run
    without one would be cut off.
    """
    if not fingerprint:
        return "—"
    pairs = _hex_pairs(fingerprint)
    return " ".join(
        ":".join(pairs[i : i + _BYTES_PER_GROUP]) for i in range(0, len(pairs), _BYTES_PER_GROUP)
    )


def short_fingerprint(fingerprint: str | None) -> str:
    """``3F:3F:3F…``: the start of a fingerprint, to tell certificates apart."""
    if not fingerprint:
        return "—"
    return ":".join(_hex_pairs(fingerprint)[:_SHORT_FINGERPRINT_BYTES]) + "…"


def _hex_pairs(fingerprint: str) -> list[str]:
    if ":" in fingerprint:
        return fingerprint.upper().split(":")
    return [fingerprint[i : i + 2].upper() for i in range(0, len(fingerprint), 2)]


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def dated(moment: datetime | None, now: datetime) -> str:
    """``2026-05-30 09:00 CEST (in 90 days)``: a date with its own days."""
    if moment is None:
        return "—"
    return f"{when(moment)} ({when_phrase(moment, now)})"


def issuer_name(dn: str | None) -> str:
    """``Sectigo Limited (Sectigo RSA Domain Validation Secure Server CA)``.

    The organisation and the issuing CA's own name, without the DN's syntax.
    """
    if not dn:
        return ""
    organisation = short_dn(dn)
    common = next(
        (part.split("=", 1)[1] for part in dn.split(",") if part.strip().upper().startswith("CN=")),
        "",
    )
    return f"{organisation} ({common})" if common and common != organisation else organisation


def _verification(row: WatchRow, tls: CertInfo) -> str:
    """Core's plain words for why the chain is not trusted (what happened and what to
    do), and whether the certificate covers the name; OpenSSL's own words have a line
    of their own."""
    if tls.trusted and tls.hostname_match is not False:
        return "Trusted, and it covers this name"
    reasons = []
    if tls.trusted is False:
        # Also for results stored before ``verify_problem`` existed: read from OpenSSL's
        # words; ``None`` when those only restate a name mismatch.
        problem = trust_problem_of(tls)
        if problem is not None:
            reasons.append(trust_problem_text(problem, tls.issuer))
    if tls.hostname_match is False:
        reasons.append(uncovered_name_text(row.target.display, tls.sans))
    if not reasons:
        return "Not trusted"
    return "Not trusted: " + "; ".join(reasons)


def _chain_line(tls: CertInfo, now: datetime) -> str:
    """The chain's certificate that expires first, when it is not the leaf."""
    chain = tls.chain_earliest_not_after
    if chain is None or (tls.not_after is not None and chain >= tls.not_after):
        return ""
    role = (tls.chain_earliest_role or ChainRole.INTERMEDIATE).value.capitalize()
    name = f" '{short_dn(tls.chain_earliest_subject)}'" if tls.chain_earliest_subject else ""
    verb = "expires" if chain >= now else "expired"
    return f"{role}{name} {verb} first: {dated(chain, now)}"


def lifetime_line(result: CheckResult, tls: CertInfo) -> str:
    """``45 days; expiring from 15 days left (a third of its lifetime)``."""
    lifetime = tls.lifetime_days
    if lifetime is None:
        return ""
    limit, rule = expiring_limit(result.threshold_days, lifetime, result.lifetime_fraction)
    text = f"{days_text(lifetime)} days"
    if rule is ExpiryRule.LIFETIME:
        share = fraction_text(result.lifetime_fraction)
        return f"{text}; expiring from {days_text(limit)} days left ({share} of its lifetime)"
    return text


def renewal_line(tls: CertInfo, now: datetime) -> str:
    """The CA's suggested renewal window (ARI): start – end, and whether it has ended."""
    renewal = tls.renewal
    if renewal is None:
        return ""
    text = f"{when(renewal.window_start)} – {when(renewal.window_end)}"
    if renewal.moved_into_past(tls.not_before):
        return f"{text}: the CA asks for renewal now"
    if renewal.ended(now):
        return f"{text}: ended, renewal is overdue"
    return text


def revocation_line(tls: CertInfo) -> str:
    """``Revoked on 2026-05-12 (CRL): keyCompromise``, ``Not revoked (OCSP)``."""
    revocation = tls.revocation
    if revocation is None:
        return ""
    method = f" ({revocation.method.value.upper()})" if revocation.method is not None else ""
    if revocation.status is RevocationStatus.REVOKED:
        on = f" on {format_date(revocation.revoked_at)}" if revocation.revoked_at else ""
        reason = f": {revocation.reason}" if revocation.reason else ""
        return f"Revoked{on}{method}{reason}"
    if revocation.status is RevocationStatus.GOOD:
        return f"Not revoked{method}"
    return "Unknown (no CRL or OCSP answer)"


def _certificate_values(row: WatchRow, result: CheckResult, tls: CertInfo) -> dict[str, str]:
    now = result.checked_at
    if tls.error:
        return {"verification": f"Could not check: {tls.error}"}
    return {
        "subject": short_dn(tls.subject) or "—",
        "sans": ", ".join(tls.sans) or "—",
        "issuer": issuer_name(tls.issuer) or "—",
        "valid_from": when(tls.not_before),
        "valid_until": dated(tls.not_after, now),
        "lifetime": lifetime_line(result, tls),
        "chain": _chain_line(tls, now),
        "renewal": renewal_line(tls, now),
        "revocation": revocation_line(tls),
        "fingerprint": format_fingerprint(tls.fingerprint_sha256),
        "verification": _verification(row, tls),
        # OpenSSL's own words: here and nowhere else.
        "openssl": tls.verify_error or "",
    }


def method_name(registration: Registration) -> str:
    return METHOD_NAMES.get(registration.method or "", registration.method or "")


def _registration_values(result: CheckResult) -> dict[str, str]:
    registration = result.registration
    if registration is None:
        return {"registration": "Not checked"}
    source = registration.source or ""
    method = method_name(registration)
    values = {
        "registrable": registration.registrable_domain or "",
        "registrar": registration.registrar or "",
        "registration_source": f"{method} ({source})" if method and source else method or source,
        "statuses": ", ".join(registration.statuses),
        "nameservers": ", ".join(registration.nameservers),
        "changes": "\n".join(registration.changes),
    }
    if registration.method == "manual":
        values["registration_source"] = MANUAL_REMINDER.capitalize()
    if registration.expires is not None:
        values["registration"] = dated(registration.expires, result.checked_at)
    elif registration.unknown:
        values["registration"] = f"Not published ({registration.error or 'no data'})"
    else:
        values["registration"] = f"Could not check: {registration.error or 'no data'}"
    return values


def threshold_line(row: WatchRow, default_days: int | None) -> str:
    """``14 days (this domain's own)`` or ``30 days (the default)``."""
    own = row.target.threshold_days
    if own is not None:
        return f"{own:,} day{'s' if own != 1 else ''} before expiry (this domain's own)"
    if default_days is None:
        default_days = row.result.threshold_days if row.result is not None else None
    if default_days is None:
        return ""
    return f"{default_days:,} day{'s' if default_days != 1 else ''} before expiry (the default)"


def details_of(row: WatchRow, default_threshold: int | None = None) -> dict[str, str]:
    """Text of each details field for a row ("" or missing: the field is hidden)."""
    result = row.result
    target = row.target
    values = {
        "domain": domain_description(target),
        "status": display_value(row, COLUMN_STATUS),
        "group": row.group,
        "threshold": threshold_line(row, default_threshold),
    }
    if result is None:
        values["problem"] = "Not checked yet."
        return values
    values["problem"] = row.problem or "None"
    values["checked"] = when(result.checked_at)
    if result.tls is None:
        values["verification"] = "Certificate not checked"
    else:
        values.update(_certificate_values(row, result, result.tls))
    values.update(_registration_values(result))
    return values


def endpoint_lines(result: CheckResult | None) -> list[str]:
    """One short line per address of a name served by several: its own status,
    expiry date and certificate (fingerprint's start, to tell them apart), e.g.
    ``192.0.2.10: Expiring, 2026-12-04, 9E:5E:4A…``; none for one address."""
    if result is None or result.tls is None or len(result.tls.endpoints) < 2:
        return []
    return [_endpoint_line(result, endpoint) for endpoint in result.tls.endpoints]


def _endpoint_line(result: CheckResult, endpoint: Endpoint) -> str:
    tls = endpoint.tls
    status = tls_status(tls, result.checked_at, result.threshold_days, result.lifetime_fraction)
    label = status.label if status is not None else "Not checked"
    if tls.error:
        return f"{endpoint.address}: {label}: {tls.error}"
    expiry = format_date(tls.not_after) or "no expiry"
    return f"{endpoint.address}: {label}, {expiry}, {short_fingerprint(tls.fingerprint_sha256)}"
