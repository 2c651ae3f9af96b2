"""One chain of registration sources: RDAP, then WHOIS, then a date entered by hand.

The engine asks :class:`RegistrationChain` and never knows the formats behind it.
Each source produces the same frozen :class:`~core.models.Registration`, and
``method`` says which one answered (``"rdap"``, ``"whois"``, ``"manual"``):

1. **RDAP** (:mod:`core.rdap`) first: structured, and the registries' own future.
2. **WHOIS** (:mod:`core.whois`) when RDAP has no service for the TLD or answered
   without an expiry date. Its answer wins when it has a date; when it has none
   either, the more telling of the two answers is kept (a registry that "does not
   publish expiry dates" says so).
3. **By hand**: where no registry gives a date, a date the user typed for the
   target (``domaincheck watch add --registration-expires``, the desktop's "Set
   registration expiry…", the backend's subscription) is used, marked ``manual``,
   and the problem text reminds them to update it after renewing. A registry's date
   always wins over a typed one, so a stale typed date cannot hide a real one.

Finally the registration is compared with the last stored one for the target
(:func:`registration_changes`): a new registrar, new EPP statuses or other name
servers are news, and go into ``changes``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from core.errors import UsageError
from core.models import EXPIRED_EPP_STATUSES, HOLD_EPP_STATUSES, Registration, Target
from core.psl import is_public_suffix, registrable_domain
from core.whois_parse import NO_EXPIRY_TLDS

if TYPE_CHECKING:  # imported when needed: httpx costs start-up time with --no-rdap
    from core.rdap import RdapClient
    from core.whois import WhoisClient

__all__ = [
    "MANUAL_SOURCE",
    "RegistrationChain",
    "manual_registration",
    "parse_manual_expiry",
    "registration_changes",
]

#: ``source`` of a registration whose expiry was entered by hand.
MANUAL_SOURCE = "manual"

#: A target's identity in the maps below: ``Target.key``, i.e. ``(host, port)``.
TargetKey = tuple[str, int]


class RegistrationChain:
    """Asks RDAP, WHOIS and the hand-entered dates, in that order (module docstring).

    Args:
        rdap: The RDAP client, or ``None`` for no registry lookups at all.
        whois: The WHOIS client for the fallback, or ``None`` (``--no-whois``).
        manual_expiry: Dates entered by hand, per target (``Target.key``).
        previous: The last stored registration per target, to report changes.

    The clients are not closed by the chain: whoever made them closes them.
    """

    def __init__(
        self,
        *,
        rdap: RdapClient | None,
        whois: WhoisClient | None = None,
        manual_expiry: Mapping[TargetKey, datetime] | None = None,
        previous: Mapping[TargetKey, Registration] | None = None,
    ) -> None:
        self._rdap = rdap
        self._whois = whois
        self._manual = manual_expiry or {}
        self._previous = previous or {}

    @property
    def enabled(self) -> bool:
        """False when there is nothing to ask (no client, no typed dates)."""
        return self._rdap is not None or self._whois is not None or bool(self._manual)

    async def lookup(self, target: Target) -> Registration:
        """The registration of ``target``; never raises for network or registry trouble."""
        registration = await self._from_registries(target)
        manual = self._manual.get(target.key)
        if manual is not None and registration.expires is None:
            registration = manual_registration(registration, manual)
        previous = self._previous.get(target.key)
        if previous is not None:
            changes = registration_changes(previous, registration)
            if changes:
                registration = dataclasses.replace(registration, changes=changes)
        return registration

    async def _from_registries(self, target: Target) -> Registration:
        if target.is_ip:
            return Registration(unknown=True, error="IP addresses have no domain registration")
        domain = registrable_domain(target.host)
        if domain is None:
            reason = "is a public suffix" if is_public_suffix(target.host) else "is not a domain"
            return Registration(unknown=True, error=f"{target.display} {reason}")
        rdap = await self._rdap.lookup(target) if self._rdap is not None else None
        if self._whois is None or (rdap is not None and rdap.expires is not None):
            return rdap if rdap is not None else Registration(domain, unknown=True)
        whois = await self._whois.lookup(domain)
        return _pick(rdap, whois)


def _pick(rdap: Registration | None, whois: Registration) -> Registration:
    """The better of an RDAP answer without an expiry and a WHOIS answer."""
    if rdap is None or whois.expires is not None:
        return whois if rdap is None else _completed(whois, rdap)
    if whois.unknown and whois.source is None:  # no WHOIS server to ask either
        return _completed(rdap, whois)
    domain = whois.registrable_domain or rdap.registrable_domain or ""
    if whois.unknown and domain.rsplit(".", 1)[-1] in NO_EXPIRY_TLDS:
        return _completed(whois, rdap)  # "the .de registry does not publish expiry dates"
    if rdap.unknown and rdap.source is None:  # no RDAP service: WHOIS has the word
        return _completed(whois, rdap)
    return _completed(rdap, whois)


def _completed(main: Registration, other: Registration) -> Registration:
    """``main``, with the registrar, statuses and name servers ``other`` knows added."""
    return dataclasses.replace(
        main,
        registrar=main.registrar or other.registrar,
        statuses=main.statuses or other.statuses,
        nameservers=main.nameservers or other.nameservers,
    )


def manual_registration(registry: Registration, expires: datetime) -> Registration:
    """A hand-entered expiry on top of what the registry said (registrar, statuses)."""
    return Registration(
        registrable_domain=registry.registrable_domain,
        expires=expires,
        registrar=registry.registrar,
        source=MANUAL_SOURCE,
        method="manual",
        statuses=registry.statuses,
        nameservers=registry.nameservers,
    )


def registration_changes(previous: Registration, current: Registration) -> tuple[str, ...]:
    """What changed from ``previous`` to ``current``, in short texts for people.

    Only what both answers know is compared: a failed lookup, a "not found" or "no
    WHOIS service" answer on either side, or a result stored before statuses and name
    servers were kept, reports no change (a flaky registry must not make "status X
    removed" news, then "new status X" on the next good answer).
    """
    if not (_comparable(previous) and _comparable(current)):
        return ()
    changes: list[str] = []
    old_registrar, new_registrar = previous.registrar, current.registrar
    if old_registrar and new_registrar and old_registrar.casefold() != new_registrar.casefold():
        changes.append(
            f"registrar changed from {old_registrar} to {new_registrar}"
            " (if nobody here moved the domain, this may be a hijack)"
        )
    if previous.method is not None and current.method is not None:
        for status in current.statuses:
            if status in previous.statuses:
                continue
            if status in EXPIRED_EPP_STATUSES:
                changes.append(f"new status {status}: the domain has in effect expired")
            elif status in HOLD_EPP_STATUSES:
                changes.append(f"new status {status}: the domain is off the internet")
            else:
                changes.append(f"new status {status}")
        for status in previous.statuses:
            if status not in current.statuses:
                changes.append(f"status {status} removed")
    old_servers, new_servers = set(previous.nameservers), set(current.nameservers)
    if old_servers and new_servers and old_servers != new_servers:
        changes.append(
            f"name servers changed to {', '.join(sorted(new_servers))}"
            f" (were {', '.join(sorted(old_servers))})"
        )
    old_expiry, new_expiry = previous.expires, current.expires
    if old_expiry is not None and new_expiry is not None and new_expiry.date() > old_expiry.date():
        changes.append(f"renewed: now expires {new_expiry:%Y-%m-%d}")
    return tuple(changes)


def _comparable(registration: Registration) -> bool:
    """A good answer: no error, or a registry's record that only lacks an expiry
    (``.de`` publishes none) and still names a registrar, statuses or name servers."""
    if registration.error is None:
        return True
    if not registration.unknown:
        return False
    return bool(registration.registrar or registration.statuses or registration.nameservers)


def parse_manual_expiry(text: str, option: str = "--registration-expires") -> datetime | None:
    """A typed expiry date (``2027-12-31``, or an ISO date and time) as aware UTC.

    An empty text is ``None`` ("forget the typed date"). A bare date means the end
    of that day in UTC: registries let a name lapse at the end of its last day.

    Raises:
        UsageError: the text is not such a date.
    """
    value = text.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date such as 2027-12-31 (year-month-day)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
