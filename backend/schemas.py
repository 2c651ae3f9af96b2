"""Request and response shapes of the API (input, stored and public kept apart).

The paths and field names are a contract with the desktop app: keep them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

import idna
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from backend.config import MAX_CHECK_DOMAINS, MAX_DOMAINS

MAX_EMAIL_CHARS = 254
MAX_LOCAL_PART_CHARS = 64
MAX_DOMAIN_ENTRY_CHARS = 2_048
MAX_THRESHOLD_DAYS = 365
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_email(value: str) -> str:
    """``Name@Example.COM`` → ``name@example.com``; IDN domains become A-labels.

    Deliberately strict (plain ASCII local part, a real domain name): the address
    ends up in mail headers, so anything exotic is refused rather than escaped.
    """
    value = value.strip()
    if not value:
        raise ValueError("enter an email address")
    if len(value) > MAX_EMAIL_CHARS:
        raise ValueError(f"email address is longer than {MAX_EMAIL_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("email address must not contain spaces or control characters")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an email address (expected name@example.com)")
    if len(local) > MAX_LOCAL_PART_CHARS or not _LOCAL_PART.fullmatch(local):
        raise ValueError("the part before @ is not a valid email user name")
    try:
        a_label = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ValueError("the part after @ is not a valid domain name") from None
    labels = a_label.split(".")
    if len(labels) < 2 or not all(_LDH_LABEL.fullmatch(label) for label in labels):
        raise ValueError("the part after @ is not a valid domain name")
    if labels[-1].isdigit():
        raise ValueError("the part after @ must be a domain name, not an address")
    return f"{local}@{a_label}".lower()


def mask_email(email: str) -> str:
    """``jane@example.com`` → ``j***@example.com`` (enough to recognise, not to harvest)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


EmailAddress = Annotated[
    str,
    StringConstraints(max_length=MAX_EMAIL_CHARS * 2),
    AfterValidator(normalize_email),
]
DomainEntry = Annotated[str, StringConstraints(max_length=MAX_DOMAIN_ENTRY_CHARS)]
ThresholdDays = Annotated[int, Field(ge=0, le=MAX_THRESHOLD_DAYS)]
OtpCodeText = Annotated[str, StringConstraints(max_length=32)]
#: Hand-entered registration dates outside these years are typing mistakes.
MIN_MANUAL_YEAR = 2000
MAX_MANUAL_YEAR = 2200


def _plausible_date(value: date) -> date:
    if not MIN_MANUAL_YEAR <= value.year <= MAX_MANUAL_YEAR:
        raise ValueError(
            f"registration_expires must be a date between {MIN_MANUAL_YEAR} and {MAX_MANUAL_YEAR}"
        )
    return value


ManualDate = Annotated[date, AfterValidator(_plausible_date)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=MAX_DOMAIN_ENTRY_CHARS)


class OtpGenerate(_In):
    email: EmailAddress
    operation: Literal["register", "manage"]
    force_new: bool = False


class OtpGeneratePublic(BaseModel):
    status: Literal["sent", "already_sent"]
    expires_in: int
    resend_after: int


class DomainOptions(_In):
    """A domain with its own settings (issues 14 and 15).

    Any entry of ``domains`` may be this object instead of a plain string. A plain
    string keeps the settings the domain already has (none when it is new); an
    object sets both (``null`` clears one).
    """

    domain: DomainEntry = Field(
        description="Any target form the CLI accepts: example.com, host:port, "
        "smtp://mx.example.com, imaps://mail.example.com:993, mx:example.com"
    )
    threshold_days: ThresholdDays | None = Field(
        default=None, description="Days before expiry that count as expiring for this domain"
    )
    registration_expires: ManualDate | None = Field(
        default=None,
        description="Registration expiry entered by hand (YYYY-MM-DD), used where the "
        "registry publishes none; update it after renewing",
    )


DomainItem = DomainEntry | DomainOptions


class RegisterRequest(_In):
    email: EmailAddress
    domains: Annotated[list[DomainItem], Field(min_length=1, max_length=MAX_DOMAINS)]
    otp: OtpCodeText
    threshold_days: ThresholdDays = 30


class RegisterPublic(BaseModel):
    status: Literal["success"] = "success"
    domains: list[str]
    token: str


class TokenRequest(_In):
    """Exchange a ``manage`` code for a new management token (lost-token recovery)."""

    email: EmailAddress
    otp: OtpCodeText


class TokenPublic(BaseModel):
    status: Literal["success"] = "success"
    token: str


class SubscriptionUpdate(_In):
    """``PUT``: replace what is given; omitted fields stay as they are."""

    domains: Annotated[list[DomainItem], Field(max_length=MAX_DOMAINS)] | None = None
    threshold_days: ThresholdDays | None = None


class DomainStatePublic(BaseModel):
    domain: str
    display: str
    #: ``tls`` (bare names, ``host:port``), a URL scheme (``smtp``...), or ``mx``.
    protocol: str = "tls"
    #: This domain's own threshold; ``null``: the subscription's ``threshold_days``.
    threshold_days: int | None = None
    #: The registration expiry entered by hand, if any.
    registration_expires: date | None = None
    last_status: str | None
    last_days_left: int | None
    last_checked_at: datetime | None


class SubscriptionPublic(BaseModel):
    status: Literal["success"] = "success"
    email: str
    domains: list[str]
    threshold_days: int
    details: list[DomainStatePublic]


class StatusPublic(BaseModel):
    status: Literal["success"] = "success"
    message: str


class CheckRequest(_In):
    domains: Annotated[list[DomainEntry], Field(min_length=1, max_length=MAX_CHECK_DOMAINS)]
    threshold_days: ThresholdDays = 30


class ErrorPublic(BaseModel):
    """Every 4xx/5xx body: ``status`` is always ``"error"``; extra keys per case."""

    model_config = ConfigDict(extra="allow")

    status: Literal["error"] = "error"
    message: str
    require_otp: bool | None = None
    errors: list[dict[str, Any]] | None = None


class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"
