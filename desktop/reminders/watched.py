"""What the reminders dialog offers to watch: each watchlist target as the backend takes it.

The service watches every form the CLI takes (``example.com:8443``,
``smtp://mx1.example.com``, ``mx:example.com``) and, per domain, its own threshold
and a registration expiry typed by hand. A :class:`WatchlistItem` carries one
watched target in that shape, so the pages can show it (with its group and
settings), send it (a plain string, or :class:`core.api.DomainSettings` when it has
settings of its own) and compare it with what the backend reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from core.api import DomainEntry, DomainSettings, WatchedDomain
from core.models import Target

#: Protocols that need no word next to the name (the name says it all).
_PLAIN_PROTOCOLS = frozenset({"tls", "https"})


@dataclasses.dataclass(frozen=True, slots=True)
class WatchlistItem:
    """One watched target, in the form the backend takes and with its own settings."""

    #: What the backend takes and reports: ``example.com``, ``example.com:8443``,
    #: ``smtp://mx1.example.com`` (A-labels).
    domain: str
    #: The same for people (Unicode names).
    display: str = ""
    group: str = ""
    #: The target's own threshold (``None``: the subscription's).
    threshold_days: int | None = None
    #: A registration expiry typed by hand.
    registration_expires: date | None = None
    #: The mail domain an MX host serves ("" = none).
    serves: str = ""

    @classmethod
    def of(
        cls, target: Target, *, group: str = "", expires: datetime | None = None
    ) -> WatchlistItem:
        """The item for a watchlist target (``expires``: its typed registration expiry)."""
        return cls(
            domain=str(target),
            display=target.label,
            group=group,
            threshold_days=target.threshold_days,
            registration_expires=None if expires is None else _day_of(expires),
            serves=target.serves,
        )

    @property
    def has_settings(self) -> bool:
        return self.threshold_days is not None or self.registration_expires is not None

    def entry(self, *, explicit: bool = False) -> DomainEntry:
        """What to send: settings when it has its own (or ``explicit``, to clear them)."""
        if not (explicit or self.has_settings):
            return self.domain
        return DomainSettings(self.domain, self.threshold_days, self.registration_expires)

    def text(self) -> str:
        """The list's line: the name, then what is particular about it."""
        shown = self.display or self.domain
        name = shown if shown == self.domain else f"{shown}  ({self.domain})"
        extras = []
        if self.serves:
            extras.append(f"mail server of {self.serves}")
        if self.group:
            extras.append(f"group {self.group}")
        extras.extend(settings_words(self.threshold_days, self.registration_expires))
        return " · ".join([name, *extras])

    def differs_from(self, detail: WatchedDomain) -> bool:
        """The backend has other settings for this domain than the watchlist."""
        return (
            self.threshold_days != detail.threshold_days
            or self.registration_expires != detail.registration_expires
        )


def settings_words(threshold_days: int | None, registration_expires: date | None) -> list[str]:
    """``["14 days", "registration expires 2027-03-01 (typed)"]``; empty without settings."""
    words = []
    if threshold_days is not None:
        words.append(f"{threshold_days} day{'s' if threshold_days != 1 else ''}")
    if registration_expires is not None:
        words.append(f"registration expires {registration_expires.isoformat()} (typed)")
    return words


def detail_words(detail: WatchedDomain) -> list[str]:
    """A watched domain's protocol (unless its name shows it) and own settings."""
    words = []
    protocol = detail.protocol or "tls"
    shown = detail.display or detail.domain
    if protocol not in _PLAIN_PROTOCOLS and not shown.startswith(protocol + ":"):
        words.append("MX hosts" if protocol == "mx" else protocol.upper())
    return words + settings_words(detail.threshold_days, detail.registration_expires)


def as_items(watchlist: Iterable[WatchlistItem | tuple[str, str]]) -> list[WatchlistItem]:
    """Items from items or ``(domain, display)`` pairs (targets without settings)."""
    return [
        entry if isinstance(entry, WatchlistItem) else WatchlistItem(entry[0], entry[1])
        for entry in watchlist
    ]


#: What the dialog and its pages take as a watchlist.
WatchlistLike = Sequence[WatchlistItem | tuple[str, str]]


def _day_of(expires: datetime) -> date:
    """The day a typed expiry stands for (it is stored as the end of that day, UTC)."""
    if expires.tzinfo is None:
        return expires.date()
    return expires.astimezone(UTC).date()
