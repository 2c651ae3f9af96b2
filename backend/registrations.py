"""A subscription's last registry answer, stored to tell what changed since.

Only what change detection compares is kept (registrar, EPP statuses, name servers,
expiry and method), as a small JSON document on the subscription: the RDAP or WHOIS
answer itself is neither needed nor kept. Failed and "unknown" lookups are not
stored, so a registry that is down for a day (or a WHOIS server that answers "not
found" once) does not make everything look changed afterwards.
"""

from __future__ import annotations

import json
from datetime import datetime

from core.models import Registration
from core.registration import manual_registration


def store_registration(registration: Registration) -> str | None:
    """The JSON to keep for ``registration``; ``None`` for an answer not worth keeping.

    Failed and "unknown" answers ("not found", "no WHOIS service") are not kept:
    they carry no statuses or name servers, so keeping one would make the next real
    answer look like a change.
    """
    if registration.method is None or registration.error is not None or registration.unknown:
        return None
    return json.dumps(
        {
            "registrar": registration.registrar,
            "statuses": list(registration.statuses),
            "nameservers": list(registration.nameservers),
            "expires": None if registration.expires is None else registration.expires.isoformat(),
            "method": registration.method,
        },
        sort_keys=True,
    )


def load_registration(text: str | None) -> Registration | None:
    """The stored answer, or ``None`` when none (or an unreadable one) is stored."""
    if not text:
        return None
    try:
        data = json.loads(text)
        expires = data.get("expires")
        return Registration(
            registrar=data.get("registrar"),
            statuses=tuple(str(s) for s in data.get("statuses") or ()),
            nameservers=tuple(str(s) for s in data.get("nameservers") or ()),
            expires=None if expires is None else datetime.fromisoformat(expires),
            method=data.get("method"),
        )
    except (ValueError, TypeError, AttributeError):
        return None


def apply_manual(registry: Registration | None, expires: datetime | None) -> Registration | None:
    """The registry's answer, or the date typed by hand where the registry has none."""
    if expires is None or (registry is not None and registry.expires is not None):
        return registry
    return manual_registration(registry or Registration(unknown=True), expires)
