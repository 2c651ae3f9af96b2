"""Domain lists from API requests, validated by the core parser.

The messages are the core's (the same a user sees in the CLI and the desktop). On
top of that the service refuses entries with line breaks (one entry is one line)
and, unless allowed, private/loopback IP literals: a public service must not
probe its own network on a stranger's behalf.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from core.domains import ParseResult, parse_line, parse_lines
from core.models import InputError, Target

SOURCE = "domains"
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


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
        if target.is_ip and not allow_private and not ipaddress.ip_address(target.host).is_global:
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
        try:
            parsed = parse_line(entry)
        except ValueError:
            continue
        if parsed is not None and parsed.key == target.key:
            return number
    return 0


def target_label(target: Target) -> str:
    """``example.com`` or ``example.com:8443`` (A-label): how the API names a domain."""
    return str(target)
