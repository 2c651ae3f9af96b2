"""The registrable domain of a host name, from the Public Suffix List.

The list is the snapshot shipped inside the ``publicsuffixlist`` package: nothing is
fetched. Only the ICANN section counts, because RDAP asks the *registry* about a
name: ``foo.github.io`` is registered as ``github.io``, even though the private
section of the list treats ``github.io`` as a suffix for cookie purposes. Top-level
domains the list does not know (``.test``, ``.internal``) act as one-label suffixes.
"""

from __future__ import annotations

import functools

from publicsuffixlist import PublicSuffixList


@functools.cache
def _psl() -> PublicSuffixList:
    """Parsed once (about 0.1 s), on first use, and shared by every caller."""
    return PublicSuffixList(accept_unknown=True, accept_encoded_idn=True, only_icann=True)


def _normalize(host: str) -> str:
    return host.strip().rstrip(".").lower()


def registrable_domain(host: str) -> str | None:
    """``www.example.co.uk`` → ``example.co.uk``; ``None`` for a public suffix.

    ``host`` should be an A-label (``xn--…``) name, as in :class:`core.models.Target`;
    the answer keeps the form it was given. Empty names and names with empty labels
    have no registrable domain either.
    """
    name = _normalize(host)
    if not name:
        return None
    result = _psl().privatesuffix(name)
    return result if isinstance(result, str) else None


def is_public_suffix(host: str) -> bool:
    """True for names such as ``co.uk`` or ``com`` that nobody can register."""
    name = _normalize(host)
    return bool(name) and _psl().publicsuffix(name) == name
