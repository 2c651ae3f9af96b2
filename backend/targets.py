"""Domain lists from API requests, validated by the core parser.

The messages are the core's (the same a user sees in the CLI and the desktop). On
top of that the service refuses entries with line breaks (one entry is one line)
and, unless allowed, IP literals that :func:`core.addresses.is_public_address`
refuses (private, loopback, and IPv6 forms carrying such an IPv4 address): a
public service must not probe its own network on a stranger's behalf.

Every form the CLI takes is accepted (``smtp://mx.example.com``,
``imaps://mail.example.com:993``, ``host:port``, ``mx:example.com``). Names are
checked against the address rule when they are resolved (the core refuses to
connect to private addresses), and so are the MX hosts of an ``mx:`` entry, which
are looked up at every run rather than when subscribing, so a domain that moves
its mail keeps being watched.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from datetime import date, datetime

from backend.schemas import DomainOptions
from core.addresses import is_public_address
from core.domains import ParseResult, parse_line, parse_lines
from core.models import DEFAULT_PROTOCOL, HTTPS_PROTOCOL, MX_PROTOCOL, InputError, Target
from core.registration import parse_manual_expiry

SOURCE = "domains"
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


@dataclasses.dataclass(frozen=True, slots=True)
class Watched:
    """One entry of a subscription request: the target and its own settings."""

    target: Target
    #: False for a plain string: the domain keeps the settings it already has.
    explicit: bool = False
    threshold_days: int | None = None
    #: A hand-entered registration expiry (the end of that day, UTC).
    registration_expires: datetime | None = None


def manual_expiry_of(day: date) -> datetime:
    """The end of ``day`` in UTC, as the CLI reads ``--registration-expires``."""
    expires = parse_manual_expiry(day.isoformat())
    assert expires is not None
    return expires


def stored_protocol(target: Target) -> str:
    """``https://`` is checked exactly as a bare name: stored as one (``tls``)."""
    return DEFAULT_PROTOCOL if target.protocol == HTTPS_PROTOCOL else target.protocol


def parse_watch_entries(
    entries: Sequence[str | DomainOptions], *, allow_private: bool
) -> tuple[list[Watched], list[InputError]]:
    """The targets of a subscription request with their settings, or the errors.

    Two entries naming one target: the first one's settings win, like the core's
    de-duplication keeps the first line.
    """
    texts = [entry if isinstance(entry, str) else entry.domain for entry in entries]
    parsed = parse_domains(texts, allow_private=allow_private)
    if parsed.errors:
        return [], parsed.errors
    options: dict[tuple[str, int], DomainOptions] = {}
    errors: list[InputError] = []
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, str):
            continue
        target = _parse_or_none(entry.domain)
        if target is None:
            continue
        if target.protocol == MX_PROTOCOL and entry.registration_expires is not None:
            errors.append(
                InputError(
                    SOURCE,
                    number,
                    entry.domain.strip(),
                    "an mx: entry has no registration date of its own;"
                    f" set it on {target.display} itself",
                )
            )
        options.setdefault(target.key, entry)
    if errors:
        return [], errors
    watched: list[Watched] = []
    for target in parsed.targets:
        option = options.get(target.key)
        if option is None:
            watched.append(Watched(target))
            continue
        expires = option.registration_expires
        watched.append(
            Watched(
                dataclasses.replace(target, threshold_days=option.threshold_days),
                explicit=True,
                threshold_days=option.threshold_days,
                registration_expires=None if expires is None else manual_expiry_of(expires),
            )
        )
    return watched, []


def _parse_or_none(text: str) -> Target | None:
    try:
        return parse_line(text)
    except ValueError:
        return None


def parse_domains(entries: Sequence[str], *, allow_private: bool) -> ParseResult:
    clean: list[str] = []
    errors: list[InputError] = []
    for number, entry in enumerate(entries, start=1):
        if any(mark in entry for mark in _LINE_BREAKS):
            errors.append(InputError(SOURCE, number, entry.strip(), "contains a line break"))
            clean.append("")  # keeps the line numbers of later entries right
        else:
            clean.append(entry)
    parsed = parse_lines(clean, SOURCE)
    errors.extend(parsed.errors)
    targets: list[Target] = []
    for target in parsed.targets:
        if target.is_ip and not allow_private and not is_public_address(target.host):
            number = _line_of(entries, target)
            text = entries[number - 1].strip() if number else str(target)
            errors.append(
                InputError(SOURCE, number, text, "private and loopback addresses are not checked")
            )
        else:
            targets.append(target)
    errors.sort(key=lambda error: error.line)
    return ParseResult(targets, errors)


def _line_of(entries: Sequence[str], target: Target) -> int:
    """The first entry that parses to ``target`` (the one the core kept)."""
    for number, entry in enumerate(entries, start=1):
        parsed = _parse_or_none(entry)
        if parsed is not None and parsed.key == target.key:
            return number
    return 0


def subscription_target(
    *, protocol: str, host: str, port: int, display: str, threshold_days: int | None = None
) -> Target:
    """The target a stored subscription stands for (the inverse of what is stored)."""
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    return Target(
        host=host,
        port=port,
        display=display or host,
        is_ip=is_ip,
        protocol=protocol or DEFAULT_PROTOCOL,
        threshold_days=threshold_days,
    )


def target_label(target: Target) -> str:
    """``example.com`` or ``example.com:8443`` (A-label): how the API names a domain."""
    return str(target)
