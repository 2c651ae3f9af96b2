"""Values that flow unchanged from the core to the CLI, the desktop and the backend.

Everything here is a frozen dataclass or an enum, and the status arithmetic is a
set of pure functions of a result and ``now`` (the time the check ran), so the
same result always classifies the same way wherever it is shown.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable
from datetime import UTC, datetime

DEFAULT_THRESHOLD_DAYS = 30
DEFAULT_PORT = 443
_SECONDS_PER_DAY = 86_400


def _reduce_by_fields(value: object) -> tuple[type, tuple[object, ...]]:
    """``__reduce__`` of the frozen dataclasses below: "call the class with the fields".

    What ``dataclass(slots=True)`` pickles by default goes through Python-level
    ``__getstate__``/``__setstate__`` and costs ~4 µs a value to write and ~8 µs to
    read; this is about a quarter of that. Results cross a process boundary in the
    desktop (thousands of them, in the GUI's process), so it adds up.
    """
    return type(value), tuple([getattr(value, name) for name in value.__match_args__])  # type: ignore[attr-defined]


class Status(enum.Enum):
    """How a domain (or one component of it) stands."""

    #: Certificate/registration valid for longer than the threshold.
    VALID = "valid"
    #: Valid, but expires within the threshold (0 <= days_left <= threshold).
    EXPIRING = "expiring"
    #: Already expired (days_left < 0).
    EXPIRED = "expired"
    #: Certificate problem other than its dates: untrusted, wrong host, not yet valid.
    INVALID = "invalid"
    #: The check could not be done (DNS, refused, timeout, RDAP server failure).
    ERROR = "error"
    #: Registration data is not published (404, TLD without RDAP, IP literal).
    #: Never changes the overall status.
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        """Rank for "worst of": expired > invalid > expiring > error > valid > unknown."""
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        """Human label, e.g. ``Expiring``."""
        return self.value.capitalize()


_SEVERITY = {
    Status.UNKNOWN: 0,
    Status.VALID: 1,
    Status.ERROR: 2,
    Status.EXPIRING: 3,
    Status.INVALID: 4,
    Status.EXPIRED: 5,
}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status of ``statuses`` (``UNKNOWN`` when empty)."""
    return max(statuses, key=lambda s: s.severity, default=Status.UNKNOWN)


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One thing to check: a host name (A-label, lower case) or IP literal, and a port."""

    __reduce__ = _reduce_by_fields

    #: A-label, lower case, no trailing dot; or an IP literal without brackets.
    host: str
    port: int = DEFAULT_PORT
    #: Unicode form for people (same as ``host`` for ASCII names and IPs).
    display: str = ""
    #: True for IP literals: TLS without SNI, no RDAP.
    is_ip: bool = False

    def __post_init__(self) -> None:
        if not self.display:
            object.__setattr__(self, "display", self.host)

    @property
    def key(self) -> tuple[str, int]:
        """Identity for de-duplication: same host and port are the same target."""
        return (self.host, self.port)

    def __str__(self) -> str:
        return _with_port(self.host, self.port)

    @property
    def label(self) -> str:
        """The Unicode form for people, with the port when it is not 443."""
        return _with_port(self.display, self.port)


def _with_port(host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host else host
    return host if port == DEFAULT_PORT else f"{host}:{port}"


@dataclasses.dataclass(frozen=True, slots=True)
class InputError:
    """A line of a domain list that was rejected, and why."""

    __reduce__ = _reduce_by_fields

    #: Where the line came from: a file path, ``<stdin>``, ``<paste>``, ``<args>``.
    source: str
    #: 1-based line number in ``source``.
    line: int
    #: The offending text as the user wrote it (stripped).
    text: str
    #: Plain-English reason, e.g. "empty label (two dots in a row)".
    error: str


@dataclasses.dataclass(frozen=True, slots=True)
class CertInfo:
    """What the TLS check learned about a host's certificate.

    ``error`` is set (and the rest is mostly ``None``) when no certificate could be
    read at all. When the certificate was read but failed verification, the dates and
    names are filled in and ``trusted``/``hostname_match``/``verify_error`` say why.
    """

    __reduce__ = _reduce_by_fields

    not_after: datetime | None = None
    not_before: datetime | None = None
    subject: str | None = None
    issuer: str | None = None
    sans: tuple[str, ...] = ()
    fingerprint_sha256: str | None = None
    #: Chain verified against the trust store (system + extra CA file).
    trusted: bool | None = None
    #: The certificate's names cover the host (RFC 6125 matching).
    hostname_match: bool | None = None
    #: OpenSSL's reason when verification failed, e.g. "certificate has expired".
    verify_error: str | None = None
    #: Earliest not-after among the verified chain (leaf, intermediates, root).
    chain_earliest_not_after: datetime | None = None
    #: Why the certificate could not be read at all (DNS, refused, timeout, ...).
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Registration:
    """What RDAP said about the registrable domain."""

    __reduce__ = _reduce_by_fields

    registrable_domain: str | None = None
    expires: datetime | None = None
    registrar: str | None = None
    #: The RDAP URL the answer came from.
    source: str | None = None
    #: Why no expiry is known (set for both "unknown" and real failures).
    error: str | None = None
    #: True when the registry simply publishes no data (404, no RDAP for the TLD,
    #: no expiration event, IP literal): "unknown", not a failed check.
    unknown: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything known about one target after one check."""

    __reduce__ = _reduce_by_fields

    target: Target
    #: ``None`` only when TLS checking was switched off.
    tls: CertInfo | None
    #: ``None`` only when RDAP checking was switched off.
    registration: Registration | None
    checked_at: datetime
    threshold_days: int = DEFAULT_THRESHOLD_DAYS

    @property
    def tls_expiry(self) -> datetime | None:
        """The date the site stops working: the earliest expiry in the served chain."""
        return effective_cert_expiry(self.tls)

    @property
    def tls_days_left(self) -> int | None:
        return days_left(self.tls_expiry, self.checked_at)

    @property
    def registration_days_left(self) -> int | None:
        expires = self.registration.expires if self.registration else None
        return days_left(expires, self.checked_at)

    @property
    def tls_status(self) -> Status | None:
        return tls_status(self.tls, self.checked_at, self.threshold_days)

    @property
    def registration_status(self) -> Status | None:
        return registration_status(self.registration, self.checked_at, self.threshold_days)

    @property
    def status(self) -> Status:
        """Worst of the components; an unknown registration does not count."""
        parts = [s for s in (self.tls_status, self.registration_status) if s is not None]
        return worst(parts) if parts else Status.UNKNOWN

    @property
    def days_left(self) -> int | None:
        """The smaller of the known days-left figures."""
        known = [d for d in (self.tls_days_left, self.registration_days_left) if d is not None]
        return min(known) if known else None

    @property
    def problem(self) -> str:
        """One short sentence about what is wrong, or ``""`` when nothing is."""
        return describe_problem(self)


def utcnow() -> datetime:
    """Aware UTC now; the single clock the core reads (tests pass their own ``now``)."""
    return datetime.now(UTC)


def days_left(expiry: datetime | None, now: datetime) -> int | None:
    """``floor((expiry - now) / 1 day)``; ``None`` when the expiry is unknown.

    A certificate that expires in 3 hours has 0 days left (expiring today); one that
    expired 1 second ago has -1 (expired).
    """
    if expiry is None:
        return None
    return math.floor((expiry - now).total_seconds() / _SECONDS_PER_DAY)


def classify_days(days: int, threshold_days: int) -> Status:
    """expired (< 0), expiring (0..threshold inclusive) or valid."""
    if days < 0:
        return Status.EXPIRED
    if days <= threshold_days:
        return Status.EXPIRING
    return Status.VALID


def effective_cert_expiry(tls: CertInfo | None) -> datetime | None:
    """The leaf's not-after, or an earlier expiry in its chain."""
    if tls is None or tls.not_after is None:
        return None
    if tls.chain_earliest_not_after is not None:
        return min(tls.not_after, tls.chain_earliest_not_after)
    return tls.not_after


def tls_status(tls: CertInfo | None, now: datetime, threshold_days: int) -> Status | None:
    """Classify a certificate. ``None`` when TLS was not checked."""
    if tls is None:
        return None
    expiry = effective_cert_expiry(tls)
    if tls.error is not None or expiry is None:
        return Status.ERROR
    days = days_left(expiry, now)
    assert days is not None
    if days < 0:
        return Status.EXPIRED
    if tls.not_before is not None and tls.not_before > now:
        return Status.INVALID
    if tls.trusted is False or tls.hostname_match is False:
        return Status.INVALID
    return classify_days(days, threshold_days)


def registration_status(
    registration: Registration | None, now: datetime, threshold_days: int
) -> Status | None:
    """Classify a registration. ``None`` when RDAP was not checked."""
    if registration is None:
        return None
    if registration.expires is None:
        return Status.UNKNOWN if registration.unknown else Status.ERROR
    days = days_left(registration.expires, now)
    assert days is not None
    return classify_days(days, threshold_days)


#: OpenSSL reasons that only restate a date or name problem already described.
_RESTATED_VERIFY_ERRORS = ("expired", "not yet valid", "hostname mismatch", "IP address mismatch")


def _plural_days(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "in 1 day"
    return f"in {days} days"


def describe_problem(result: CheckResult) -> str:
    """Plain-English summary of what needs attention, most urgent first."""
    problems: list[str] = []
    tls = result.tls
    if tls is not None:
        if tls.error is not None:
            problems.append(tls.error)
        else:
            days = result.tls_days_left
            leaf_days = days_left(tls.not_after, result.checked_at)
            if days is not None and days < 0:
                what = "certificate" if days == leaf_days else "a certificate in the chain"
                problems.append(f"{what} expired {-days} day{'s' if days != -1 else ''} ago")
            elif tls.not_before is not None and tls.not_before > result.checked_at:
                problems.append("certificate is not valid yet")
            if tls.hostname_match is False:
                problems.append(f"certificate does not cover {result.target.display}")
            if (
                tls.trusted is False
                and tls.verify_error
                and not any(m in tls.verify_error for m in _RESTATED_VERIFY_ERRORS)
            ):
                problems.append(tls.verify_error)
            if days is not None and 0 <= days <= result.threshold_days:
                what = "certificate" if days == leaf_days else "a certificate in the chain"
                problems.append(f"{what} expires {_plural_days(days)}")
    reg = result.registration
    if reg is not None:
        rdays = result.registration_days_left
        if rdays is not None and rdays < 0:
            problems.append(f"domain registration expired {-rdays} days ago")
        elif rdays is not None and rdays <= result.threshold_days:
            problems.append(f"domain registration expires {_plural_days(rdays)}")
        elif reg.expires is None and not reg.unknown and reg.error:
            problems.append(f"registration: {reg.error}")
    return "; ".join(problems)


def summarize(statuses: Iterable[Status]) -> dict[Status, int]:
    """Count results per status, every status present (zeros included)."""
    counts = dict.fromkeys(Status, 0)
    for status in statuses:
        counts[status] += 1
    return counts
