"""The one-line summary of the watchlist, for the window's status line and the tray tooltip.

One function, so the two places always say the same thing in the same words.
"""

from __future__ import annotations

from core.models import Status


def summary_text(counts: dict[Status, int], unchecked: int = 0) -> str:
    """``12 valid · 3 expiring · 1 expired · 2 errors`` (zero counts left out)."""
    parts = []
    for status, label in (
        (Status.VALID, "valid"),
        (Status.EXPIRING, "expiring"),
        (Status.EXPIRED, "expired"),
        (Status.INVALID, "invalid"),
    ):
        if counts.get(status):
            parts.append(f"{counts[status]:,} {label}")
    errors = counts.get(Status.ERROR, 0) + counts.get(Status.UNKNOWN, 0)
    if errors:
        parts.append(f"{errors:,} error{'s' if errors != 1 else ''}")
    if unchecked:
        parts.append(f"{unchecked:,} not checked")
    return " · ".join(parts)
