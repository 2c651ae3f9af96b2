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

from core.errors import ErrorKind
from core.thresholds import (
    DEFAULT_LIFETIME_FRACTION,
    expiring_limit,
    is_expiring,
    lifetime_days,
)

DEFAULT_THRESHOLD_DAYS = 30
DEFAULT_PORT = 443
#: ``Target.protocol`` of bare names and ``host:port``: TLS from the first byte.
DEFAULT_PROTOCOL = "tls"
#: ``Target.protocol`` of an ``mx:domain`` entry, before :mod:`core.mx` expands it.
MX_PROTOCOL = "mx"
#: ``Target.protocol`` of ``https://`` URLs: direct TLS, the same target as a bare name.
HTTPS_PROTOCOL = "https"
SMTP_PORT = 25
_SECONDS_PER_DAY = 86_400
_SECONDS_PER_HOUR = 3_600
_SECONDS_PER_MINUTE = 60


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
    #: Valid, but expires within the threshold (0 <= days_left <= threshold; for a
    #: certificate, also within its share of its lifetime, see core.thresholds), or
    #: its CA's suggested renewal window (ARI) has ended.
    EXPIRING = "expiring"
    #: Already expired (days_left < 0).
    EXPIRED = "expired"
    #: Certificate problem other than its dates: untrusted, wrong host, not yet valid,
    #: revoked.
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
    #: The group (a client, a project) it belongs to in the watchlist; "" = none.
    #: Not part of equality or the hash: the same host and port is the same target,
    #: whatever group a list puts it in.
    group: str = dataclasses.field(default="", compare=False)
    #: Days before expiry that count as expiring for this target (a CSV list's
    #: ``threshold_days`` column, ``watch add --threshold``); ``None`` = the run's
    #: default. Not part of equality either.
    threshold_days: int | None = dataclasses.field(default=None, compare=False)
    #: How to reach the certificate: ``"tls"`` (direct TLS: bare names, ``host:port``),
    #: a URL scheme of :mod:`core.starttls` (``"https"``, ``"smtp"``, ``"imaps"``...),
    #: or ``"mx"`` for an ``mx:domain`` entry not yet expanded by :mod:`core.mx`.
    protocol: str = DEFAULT_PROTOCOL
    #: The mail domain an MX host was found for (``mx:example.com``); "" = none.
    #: Shown next to the host, not part of equality.
    serves: str = dataclasses.field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.display:
            object.__setattr__(self, "display", self.host)

    def __eq__(self, other: object) -> bool:
        # ``https://`` is direct TLS, the same check as a bare name: the same target.
        if type(other) is not Target:
            return NotImplemented
        return (
            self.host == other.host
            and self.port == other.port
            and self.display == other.display
            and self.is_ip == other.is_ip
            and _same_check(self.protocol) == _same_check(other.protocol)
        )

    def __hash__(self) -> int:
        return hash((self.host, self.port, self.display, self.is_ip, _same_check(self.protocol)))

    @property
    def key(self) -> tuple[str, int]:
        """Identity for de-duplication: same protocol, host and port are the same target.

        ``(host, port)`` for direct TLS, bare names and ``https://`` URLs alike (so
        keys stored before protocols existed stay valid); for any other protocol the
        first element carries it as a URL prefix, ``("smtp://mx1.example.com", 25)``,
        and ``("mx:example.com", 25)`` for an unexpanded MX entry.
        """
        if _same_check(self.protocol) == DEFAULT_PROTOCOL:
            return (self.host, self.port)
        return (f"{_protocol_prefix(self.protocol)}{self.host}", self.port)

    def __str__(self) -> str:
        return self._shown(self.host)

    @property
    def label(self) -> str:
        """The Unicode form for people, with the port when it is not 443 (or the
        protocol's own port), and the protocol unless it is direct TLS."""
        return self._shown(self.display)

    def _shown(self, host: str) -> str:
        if _same_check(self.protocol) == DEFAULT_PROTOCOL:
            return _with_port(host, self.port)
        shown = _with_port(host, self.port, _default_port_of(self.protocol))
        return f"{_protocol_prefix(self.protocol)}{shown}"


def _with_port(host: str, port: int, default_port: int = DEFAULT_PORT) -> str:
    host = f"[{host}]" if ":" in host else host
    return host if port == default_port else f"{host}:{port}"


def _same_check(protocol: str) -> str:
    """``https`` is checked exactly as direct TLS: it counts as ``tls`` for identity."""
    return DEFAULT_PROTOCOL if protocol == HTTPS_PROTOCOL else protocol


def _protocol_prefix(protocol: str) -> str:
    """``smtp://`` for URL schemes, ``mx:`` for an unexpanded MX entry."""
    return "mx:" if protocol == MX_PROTOCOL else f"{protocol}://"


def _default_port_of(protocol: str) -> int:
    """The port a protocol's URLs imply (443 when unknown)."""
    if protocol == MX_PROTOCOL:
        return SMTP_PORT
    from core.starttls import SCHEMES  # late: starttls builds on core.errors only

    scheme = SCHEMES.get(protocol)
    return DEFAULT_PORT if scheme is None else scheme.default_port


def split_key_host(text: str) -> tuple[str, str]:
    """``(protocol, host)`` of a :attr:`Target.key`'s first element (inverse of it)."""
    if text.startswith("mx:"):
        return MX_PROTOCOL, text[3:]
    protocol, sep, host = text.partition("://")
    return (protocol, host) if sep else (DEFAULT_PROTOCOL, text)


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


class TrustProblem(enum.Enum):
    """Why a certificate chain failed verification, in terms a site owner can act on.

    Worked out by :mod:`core.tls` from OpenSSL's verify code and the chain the
    server sent; :mod:`core.problems` turns it into words. Stored by value.
    """

    #: The server sends the leaf without the intermediate its issuer needs.
    MISSING_INTERMEDIATE = "missing_intermediate"
    #: The chain leads to a root this system does not trust (a private CA...).
    UNKNOWN_CA = "unknown_ca"
    #: The leaf signed itself.
    SELF_SIGNED = "self_signed"
    #: A certificate of the chain (see ``chain_earliest_*``) is past its not-after.
    EXPIRED = "expired"
    #: A certificate of the chain is not valid yet.
    NOT_YET_VALID = "not_yet_valid"
    #: The authority revoked the certificate.
    REVOKED = "revoked"
    #: A signature of the chain does not verify.
    BAD_SIGNATURE = "bad_signature"
    #: The certificate is not meant for a TLS server, or a CA may not issue it.
    WRONG_PURPOSE = "wrong_purpose"
    #: Any other verification failure (``verify_error`` has OpenSSL's words).
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> TrustProblem | None:
        """The problem stored as ``value`` (``None`` for nothing, OTHER when unknown)."""
        try:
            return cls(value) if value is not None else None
        except ValueError:
            return cls.OTHER


class ChainRole(enum.Enum):
    """What a certificate of a chain is, other than the leaf."""

    #: Issued by another CA, issues the leaf (or another intermediate).
    INTERMEDIATE = "intermediate"
    #: Self-signed: the trust anchor.
    ROOT = "root"


@dataclasses.dataclass(frozen=True, slots=True)
class RenewalInfo:
    """The renewal window a CA suggests through ACME Renewal Information (RFC 9773)."""

    __reduce__ = _reduce_by_fields

    window_start: datetime
    window_end: datetime
    #: A page where the CA explains the window (typically when it moved it).
    explanation_url: str | None = None

    def ended(self, now: datetime) -> bool:
        """The window is over: the certificate should have been renewed by now."""
        return self.window_end < now

    def moved_into_past(self, not_before: datetime | None) -> bool:
        """The CA moved the window into the past: its way of saying "renew now".

        A window that simply ran out lies inside the certificate's life; one that
        comes with an explanation, or ends before the certificate was even issued,
        was moved by the CA (e.g. ahead of a mass revocation).
        """
        if self.explanation_url:
            return True
        return not_before is not None and self.window_end <= not_before


class RevocationStatus(enum.Enum):
    """What the CA's CRL or OCSP responder says about a certificate."""

    #: Not revoked, according to a CRL or OCSP answer that verified.
    GOOD = "good"
    #: Revoked: the certificate is ``invalid``.
    REVOKED = "revoked"
    #: Not known: no CRL or OCSP named, unreachable, or an answer that did not verify.
    #: Never changes the status.
    UNKNOWN = "unknown"


class RevocationMethod(enum.Enum):
    """Where a revocation answer came from."""

    #: The certificate revocation list of the CRL distribution point.
    CRL = "crl"
    #: The OCSP responder named in Authority Information Access.
    OCSP = "ocsp"


@dataclasses.dataclass(frozen=True, slots=True)
class Revocation:
    """Whether the certificate was revoked, and how that is known."""

    __reduce__ = _reduce_by_fields

    status: RevocationStatus = RevocationStatus.UNKNOWN
    method: RevocationMethod | None = None
    revoked_at: datetime | None = None
    #: RFC 5280 reason name, e.g. ``keyCompromise`` (``None`` when not given).
    reason: str | None = None


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
    #: OpenSSL's own words when verification failed, e.g. "unable to get local
    #: issuer certificate": for the details, never for the one-line problem.
    verify_error: str | None = None
    #: Earliest not-after among the chain: the verified one (leaf, intermediates,
    #: root) or, when verification failed, the one the server sent.
    chain_earliest_not_after: datetime | None = None
    #: Why the certificate could not be read at all (DNS, refused, timeout, ...).
    error: str | None = None
    #: What kind of failure ``error`` is (``None`` when unknown or no error).
    error_kind: ErrorKind | None = None
    #: Why verification failed, in terms a site owner can act on.
    verify_problem: TrustProblem | None = None
    #: The certificate that expires first, when it is not the leaf: its name...
    chain_earliest_subject: str | None = None
    #: ... and what it is.
    chain_earliest_role: ChainRole | None = None
    #: The CA's suggested renewal window (ARI); ``None`` when there is no answer.
    renewal: RenewalInfo | None = None
    #: CRL/OCSP answer; ``None`` when revocation was not checked.
    revocation: Revocation | None = None
    #: Every address of the name, each with what it served, ordered by address, when
    #: it has more than one (:mod:`core.endpoints`); the fields above are then the
    #: worst endpoint's. Empty for a name with one address (the fields above are
    #: its), with ``--first-address-only``, or when the name could not be resolved.
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def lifetime_days(self) -> float | None:
        """Validity period in days (see :func:`core.thresholds.lifetime_days`)."""
        return lifetime_days(self.not_before, self.not_after)


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """One address of a name and what it served (its ``tls`` has no endpoints)."""

    __reduce__ = _reduce_by_fields

    #: The IP address connected to, e.g. ``"192.0.2.10"`` or ``"2001:db8::1"``.
    address: str
    tls: CertInfo


@dataclasses.dataclass(frozen=True, slots=True)
class Registration:
    """What the registry (RDAP or WHOIS) or the user said about the registrable domain."""

    __reduce__ = _reduce_by_fields

    registrable_domain: str | None = None
    expires: datetime | None = None
    registrar: str | None = None
    #: The RDAP URL the answer came from, ``whois://server`` or ``manual``.
    source: str | None = None
    #: Why no expiry is known (set for both "unknown" and real failures).
    error: str | None = None
    #: True when the registry simply publishes no data (404, no RDAP for the TLD,
    #: no expiration event, IP literal): "unknown", not a failed check.
    unknown: bool = False
    #: What kind of failure ``error`` is (``None`` when unknown or no error).
    error_kind: ErrorKind | None = None
    #: Where ``expires`` came from: ``"rdap"``, ``"whois"`` or ``"manual"`` (a date
    #: entered by hand); ``None`` when no source answered.
    method: str | None = None
    #: EPP status codes (``clientTransferProhibited``, ``redemptionPeriod``...).
    statuses: tuple[str, ...] = ()
    #: Name servers, lower case, without the trailing dot.
    nameservers: tuple[str, ...] = ()
    #: Short texts saying what changed since the last stored result (new registrar,
    #: name servers, statuses); empty when nothing did or nothing was stored.
    changes: tuple[str, ...] = ()


#: EPP statuses meaning the domain has in effect expired, whatever its date says.
EXPIRED_EPP_STATUSES = frozenset({"redemptionPeriod", "pendingDelete"})
#: EPP statuses that take the domain out of the DNS: the site is off the internet.
HOLD_EPP_STATUSES = frozenset({"clientHold", "serverHold"})


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
    #: Share of a certificate's lifetime left at which it is expiring (0 = rule off).
    lifetime_fraction: float = DEFAULT_LIFETIME_FRACTION

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
        return tls_status(self.tls, self.checked_at, self.threshold_days, self.lifetime_fraction)

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


def classify_days(days: int, threshold_days: float) -> Status:
    """expired (< 0), expiring (0..threshold inclusive) or valid."""
    if days < 0:
        return Status.EXPIRED
    if is_expiring(days, threshold_days):
        return Status.EXPIRING
    return Status.VALID


def effective_cert_expiry(tls: CertInfo | None) -> datetime | None:
    """The leaf's not-after, or an earlier expiry in its chain."""
    if tls is None or tls.not_after is None:
        return None
    if tls.chain_earliest_not_after is not None:
        return min(tls.not_after, tls.chain_earliest_not_after)
    return tls.not_after


def tls_status(
    tls: CertInfo | None,
    now: datetime,
    threshold_days: int,
    lifetime_fraction: float = DEFAULT_LIFETIME_FRACTION,
) -> Status | None:
    """Classify a certificate. ``None`` when TLS was not checked.

    Expired beats everything; then not yet valid, untrusted, wrong name or revoked
    make it invalid; then it is expiring when its days left are at most the limit
    of :func:`core.thresholds.expiring_limit`, or when its CA's renewal window
    (ARI) has ended.
    """
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
    if tls.revocation is not None and tls.revocation.status is RevocationStatus.REVOKED:
        return Status.INVALID
    limit, _ = expiring_limit(threshold_days, tls.lifetime_days, lifetime_fraction)
    status = classify_days(days, limit)
    if status is Status.VALID and tls.renewal is not None and tls.renewal.ended(now):
        return Status.EXPIRING
    return status


def registration_status(
    registration: Registration | None, now: datetime, threshold_days: int
) -> Status | None:
    """Classify a registration. ``None`` when RDAP was not checked.

    EPP statuses come first: ``redemptionPeriod``/``pendingDelete`` is expired and
    ``clientHold``/``serverHold`` invalid, whatever the expiry date says.
    """
    if registration is None:
        return None
    if EXPIRED_EPP_STATUSES.intersection(registration.statuses):
        return Status.EXPIRED
    if HOLD_EPP_STATUSES.intersection(registration.statuses):
        return Status.INVALID
    if registration.expires is None:
        return Status.UNKNOWN if registration.unknown else Status.ERROR
    days = days_left(registration.expires, now)
    assert days is not None
    return classify_days(days, threshold_days)


def expiry_phrase(expiry: datetime, now: datetime) -> str:
    """When ``expiry`` is, as people say it: "expires in 10 hours", "expired 3 days ago".

    Under a day it speaks in hours, under an hour in minutes, so a certificate that
    ends tonight never reads "today" after midnight UTC. Whole units are counted down
    (a certificate 3 days and 23 hours away "expires in 3 days"; one that expired
    3 days and an hour ago "expired 3 days ago"). The JSON's ``days_left`` keeps its
    floor rule (-4 for the latter): see :func:`days_left`.
    """
    seconds = (expiry - now).total_seconds()
    if seconds == 0:
        return "expires now"
    amount = _amount(abs(seconds))
    if seconds > 0:
        return "expires in under a minute" if amount is None else f"expires in {amount}"
    return "expired less than a minute ago" if amount is None else f"expired {amount} ago"


def _amount(seconds: float) -> str | None:
    """``3 days`` / ``1 hour`` / ``5 minutes`` (counted down); ``None`` under a minute."""
    for unit, size in (
        ("day", _SECONDS_PER_DAY),
        ("hour", _SECONDS_PER_HOUR),
        ("minute", _SECONDS_PER_MINUTE),
    ):
        count = math.floor(seconds / size)
        if count >= 1:
            return f"{count:,} {unit}{'s' if count != 1 else ''}"
    return None


def describe_problem(result: CheckResult) -> str:
    """Plain-English summary of what needs attention, most urgent first.

    The words live in :mod:`core.problems` (imported here late: it builds on this
    module).
    """
    from core.problems import describe_problem as describe

    return describe(result)


def summarize(statuses: Iterable[Status]) -> dict[Status, int]:
    """Count results per status, every status present (zeros included)."""
    counts = dict.fromkeys(Status, 0)
    for status in statuses:
        counts[status] += 1
    return counts
