"""How to reach TLS on each kind of service: the table from URL scheme to port and upgrade.

Most services speak TLS from the first byte (``https``, ``smtps``, ``imaps`` …); others
start in plaintext and upgrade on request (STARTTLS and its relatives). Each upgrade
is one small class behind the :class:`Upgrade` interface, in the module for its
family (:mod:`core.starttls.text`, :mod:`core.starttls.xmpp`,
:mod:`core.starttls.ldap`, :mod:`core.starttls.databases`); :data:`SCHEMES` says, per
scheme, which port to use by default and which upgrade (``None``: implicit TLS) to
run before the handshake, which :mod:`core.tls` shares across all of them::

    chosen = scheme("smtp")             # Scheme("smtp", 25, SmtpUpgrade())
    if chosen.upgrade is not None:
        await chosen.upgrade.prepare(loop, sock, host)   # then wrap sock in TLS

Every upgrade raises :class:`~core.errors.StartTlsFailure` with a sentence naming its
protocol; the caller bounds it in time (``asyncio.timeout_at``), each read here is
bounded in size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from core.starttls.base import Upgrade
from core.starttls.databases import MySqlUpgrade, PostgresUpgrade
from core.starttls.ldap import LdapUpgrade
from core.starttls.text import FtpUpgrade, ImapUpgrade, Pop3Upgrade, SmtpUpgrade
from core.starttls.xmpp import XmppUpgrade

__all__ = [
    "SCHEMES",
    "STARTTLS_PROTOCOLS",
    "Scheme",
    "UnknownScheme",
    "Upgrade",
    "scheme",
]


@dataclasses.dataclass(frozen=True)
class Scheme:
    """One kind of service: its name (URL scheme, JSON ``protocol``), port and upgrade."""

    name: str
    default_port: int
    #: The plaintext prologue before TLS; ``None`` = implicit TLS from the first byte.
    upgrade: Upgrade | None


def _table(*schemes: Scheme) -> Mapping[str, Scheme]:
    return MappingProxyType({entry.name: entry for entry in schemes})


#: Every scheme Domain Check can check, by name. ``tls`` is a bare name or
#: ``host:port``: TLS from the first byte, port 443 unless given.
SCHEMES: Mapping[str, Scheme] = _table(
    Scheme("tls", 443, None),
    Scheme("https", 443, None),
    Scheme("smtps", 465, None),
    Scheme("imaps", 993, None),
    Scheme("pop3s", 995, None),
    Scheme("ldaps", 636, None),
    Scheme("smtp", 25, SmtpUpgrade()),
    Scheme("imap", 143, ImapUpgrade()),
    Scheme("pop3", 110, Pop3Upgrade()),
    Scheme("ftp", 21, FtpUpgrade()),
    Scheme("xmpp", 5222, XmppUpgrade()),
    Scheme("xmpp-server", 5269, XmppUpgrade(server=True)),
    Scheme("ldap", 389, LdapUpgrade()),
    Scheme("postgres", 5432, PostgresUpgrade()),
    Scheme("mysql", 3306, MySqlUpgrade()),
)

#: The protocols ``--starttls PROTO`` accepts: the schemes that upgrade a plaintext start.
STARTTLS_PROTOCOLS: tuple[str, ...] = tuple(
    name for name, entry in SCHEMES.items() if entry.upgrade is not None
)


class UnknownScheme(KeyError, ValueError):
    """A scheme or ``--starttls`` protocol Domain Check does not know.

    Both a ``KeyError`` (a failed table look-up) and a ``ValueError`` (bad input), and
    ``str()`` is the plain sentence, not ``KeyError``'s quoted repr.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown protocol"


def scheme(name: str) -> Scheme:
    """The scheme called ``name`` (case-insensitive, surrounding blanks ignored).

    Raises :class:`UnknownScheme` naming the known schemes, e.g. for ``gopher://host``.
    """
    try:
        return SCHEMES[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(SCHEMES))
        raise UnknownScheme(f"unknown protocol {name!r} (known: {known})") from None
