"""A :class:`~core.models.Registration` as JSON, for the RDAP and WHOIS disk caches.

One definition, so that both caches (and anything else that keeps a registration
between runs) read and write the same fields, and entries written before a field
existed still load (missing lists read as empty, a missing ``method`` as ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.errors import ErrorKind
from core.models import Registration

__all__ = ["registration_from_json", "registration_to_json"]


def registration_to_json(registration: Registration) -> dict[str, Any]:
    return {
        "registrable_domain": registration.registrable_domain,
        "expires": registration.expires.isoformat() if registration.expires else None,
        "registrar": registration.registrar,
        "source": registration.source,
        "error": registration.error,
        "unknown": registration.unknown,
        "error_kind": registration.error_kind.value if registration.error_kind else None,
        "method": registration.method,
        "statuses": list(registration.statuses),
        "nameservers": list(registration.nameservers),
    }


def registration_from_json(data: Mapping[str, Any]) -> Registration:
    """The inverse of :func:`registration_to_json`; ``ValueError`` on anything odd.

    ``changes`` is not stored: it describes one comparison, not the registration.
    """

    def optional_str(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} is not a string")
        return value

    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} is not a list of strings")
        return tuple(value)

    expires_text = optional_str("expires")
    expires: datetime | None = None
    if expires_text is not None:
        expires = datetime.fromisoformat(expires_text)  # ValueError when unreadable
        expires = (expires if expires.tzinfo else expires.replace(tzinfo=UTC)).astimezone(UTC)
    unknown = data["unknown"]
    if not isinstance(unknown, bool):
        raise ValueError("unknown is not a boolean")
    return Registration(
        registrable_domain=optional_str("registrable_domain"),
        expires=expires,
        registrar=optional_str("registrar"),
        source=optional_str("source"),
        error=optional_str("error"),
        unknown=unknown,
        error_kind=ErrorKind.parse(optional_str("error_kind")),
        method=optional_str("method"),
        statuses=strings("statuses"),
        nameservers=strings("nameservers"),
    )
