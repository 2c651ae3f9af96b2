"""When a certificate counts as "expiring": the fixed threshold and the lifetime rule.

A fixed 30-day threshold means nothing for short-lived certificates: a 45-day
certificate would be "expiring" two weeks after it was issued, and a 6-day one
always. An ACME client renews with a third of the lifetime left, so a certificate
below that line is one whose renewal has not happened. A certificate is therefore
expiring when its days left are at most::

    min(threshold_days, lifetime_days * lifetime_fraction)

with the lifetime counted as RFC 5280 counts a validity period, both ends
inclusive (``not_after - not_before + 1 second``), in days rounded to 1/100.
A 398-day or 90-day certificate behaves as with the threshold alone (default
30); a 45-day one becomes expiring at 15 days left, a 6-day one at 2. A fraction
of 0 turns the lifetime rule off. Registrations have no lifetime: they keep the
plain threshold.

These are pure functions of numbers (no model types), so :mod:`core.models` and
:mod:`core.problems` share one definition and the tests can probe the boundaries.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

__all__ = [
    "DEFAULT_LIFETIME_FRACTION",
    "ExpiryRule",
    "days_text",
    "expiring_limit",
    "fraction_text",
    "is_expiring",
    "lifetime_days",
]

#: The share of its lifetime left at which a certificate counts as expiring.
DEFAULT_LIFETIME_FRACTION = 1 / 3
_SECONDS_PER_DAY = 86_400
#: X.509 validity is inclusive of both ends: a certificate "valid for 90 days" says
#: ``not_after = not_before + 90 days - 1 second``.
_INCLUSIVE_END = timedelta(seconds=1)
#: Float slack when comparing whole days with a fraction of a lifetime (45 * 1/3).
_EPSILON = 1e-9
_FRACTION_WORDS = {1 / 2: "half", 1 / 3: "a third", 1 / 4: "a quarter", 1 / 5: "a fifth"}


class ExpiryRule(enum.Enum):
    """Which limit made (or would make) a certificate "expiring"."""

    #: The fixed number of days (``--threshold``, per target or the default).
    THRESHOLD = enum.auto()
    #: The share of the certificate's lifetime (``--lifetime-fraction``).
    LIFETIME = enum.auto()


def lifetime_days(not_before: datetime | None, not_after: datetime | None) -> float | None:
    """A certificate's validity period in days (1/100 precision), ``None`` if unknown.

    Both ends count (RFC 5280), so ``2026-01-01T00:00:00Z`` to
    ``2026-03-31T23:59:59Z`` is exactly 90 days.
    """
    if not_before is None or not_after is None or not_after < not_before:
        return None
    seconds = (not_after - not_before + _INCLUSIVE_END).total_seconds()
    return round(seconds / _SECONDS_PER_DAY, 2)


def expiring_limit(
    threshold_days: int, lifetime: float | None, fraction: float
) -> tuple[float, ExpiryRule]:
    """The most days left at which a certificate is "expiring", and which rule set it.

    The threshold wins ties, so a 90-day certificate with the default 30 days says
    what it always said.
    """
    if lifetime is None or fraction <= 0:
        return float(threshold_days), ExpiryRule.THRESHOLD
    share = lifetime * fraction
    if share < threshold_days - _EPSILON:
        return share, ExpiryRule.LIFETIME
    return float(threshold_days), ExpiryRule.THRESHOLD


def is_expiring(days_left: int, limit: float) -> bool:
    """``0 <= days_left <= limit`` (whole days against a possibly fractional limit)."""
    return 0 <= days_left <= limit + _EPSILON


def fraction_text(fraction: float) -> str:
    """``1/3`` as people say it: "a third"; other shares as a percentage ("40%")."""
    for value, words in _FRACTION_WORDS.items():
        if abs(fraction - value) < 1e-6:
            return words
    return f"{round(fraction * 100, 1):g}%"


def days_text(days: float) -> str:
    """``45`` for a whole number of days, else one decimal (``6.7``)."""
    rounded = round(days, 1)
    return f"{rounded:g}" if rounded != int(rounded) else str(int(rounded))
