"""Read expiry, registrar, EPP statuses and name servers from a raw WHOIS answer.

Why our own parser: port-43 WHOIS has no standard format. We evaluated the maintained
libraries on the 117 real answers of ``../shared/corpora/whois/`` (70 TLDs; 83 for
registered names, 66 of them with an expiry date):

* ``python-whois`` 0.9.6 read 58 of the 66 dates (not .jp, .kg, .md, .mk, .tz, .ug,
  nor github.io's registrar format)
  and raises instead of returning "not found";
* ``asyncwhois`` 1.1.15 (given the TLD) read 63 (not .ie, .ug, .ac.jp), a registrar
  in 62 and name servers in 62 of the 83 answers (this module: 68 and 79), and
  brings ``tldextract`` (which downloads the Public Suffix List on first use),
  ``python-socks``, ``whodap`` and ``dateutil``;
* ``whoisdomain`` runs the system ``whois`` program for its queries, which we could
  neither pace per server, nor point at the loopback test servers, nor ship on
  Windows.

So we read the answers the way a person does, in two passes:

1. :func:`_entries` turns the text into ``(key, value)`` pairs, whatever the layout:
   ``Key: value``, ``Key.......: value`` (.fi, .no, .tr), ``[Key]  value`` (.jp),
   ``Key<TAB>value`` (.ch), and blocks where a heading line is followed by its values
   on the next lines (.uk, .eu, .be, .nl, .li, .ch, .hk, .dk). A value in a block
   is also given as ``heading/key`` so that "the name of the registrar" can be asked
   for where a registry writes ``Registrar:`` and then ``Name: ...`` on the next line.
2. :func:`parse_whois` looks the fields up by the many names registries use for them
   and parses the dates with :func:`parse_whois_date` (some fifteen formats).

The result is a plain :class:`WhoisRecord`; turning it into a
:class:`~core.models.Registration` is :mod:`core.whois`'s job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone

__all__ = [
    "EPP_STATUSES",
    "NO_EXPIRY_TLDS",
    "WhoisRecord",
    "decode_whois",
    "is_rate_limited",
    "no_expiry_message",
    "parse_whois",
    "parse_whois_date",
]

#: TLDs whose registry answers WHOIS without any expiry date for registered names.
#: Found in the corpus' answers for registered names (``facebook.de``, ``eurid.eu``,
#: ``google.ch``, ``liechtenstein.li``, ``samsung.at``, ``app.nl``, ``google.be``,
#: ``google.no``, ``google.lv``, ``google.lu``, ``google.hu``, ``google.kz``,
#: ``google.es``, ``yahoo.co.nz``, ``pakenhamsc.vic.edu.au``) and in their RDAP
#: answers where they have one (``norway.no`` carries no expiration event).
NO_EXPIRY_TLDS = frozenset(
    {"de", "eu", "ch", "li", "at", "nl", "be", "no", "lv", "lu", "hu", "kz", "es", "nz", "au"}
)


def no_expiry_message(tld: str) -> str:
    """The honest sentence for a registry that publishes no expiry dates."""
    return f"the .{tld} registry does not publish expiry dates"


#: EPP status codes (RFC 5731 §2.3 and RFC 3915), by their lower-case form without
#: separators, so that ``client_delete_prohibited`` and ``clientDeleteProhibited``
#: both read as the latter.
EPP_STATUSES = {
    name.lower(): name
    for name in (
        "ok",
        "active",
        "inactive",
        "addPeriod",
        "autoRenewPeriod",
        "renewPeriod",
        "transferPeriod",
        "redemptionPeriod",
        "pendingRestore",
        "pendingCreate",
        "pendingDelete",
        "pendingRenew",
        "pendingTransfer",
        "pendingUpdate",
        "clientHold",
        "serverHold",
        "clientDeleteProhibited",
        "clientRenewProhibited",
        "clientTransferProhibited",
        "clientUpdateProhibited",
        "serverDeleteProhibited",
        "serverRenewProhibited",
        "serverTransferProhibited",
        "serverUpdateProhibited",
    )
}


@dataclasses.dataclass(frozen=True, slots=True)
class WhoisRecord:
    """What one WHOIS answer says about a domain."""

    #: The registry has no such domain ("No match", "Status: free", ...).
    not_found: bool = False
    expires: datetime | None = None
    registrar: str | None = None
    #: EPP status codes, canonical spelling, in order of appearance, no duplicates.
    statuses: tuple[str, ...] = ()
    #: Lower-case host names without the trailing dot, no duplicates.
    nameservers: tuple[str, ...] = ()
    #: The WHOIS server this answer points to for more (``refer:``, a thin registry's
    #: ``Registrar WHOIS Server:``), host name only.
    referral: str | None = None
    #: An expiry was written but we could not read it (shown in the error).
    unreadable_expiry: str | None = None


# --------------------------------------------------------------------------- decoding


def decode_whois(data: bytes, tld: str = "") -> str:
    """Bytes from port 43 → text. UTF-8 when valid; Shift-JIS (then EUC-JP) for .jp;
    Latin-1 otherwise, which never fails (.dk and .tr still answer in it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encodings = ("cp932", "euc_jp") if tld.lower().rsplit(".", 1)[-1] == "jp" else ()
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# --------------------------------------------------------------------------- entries

_JP_LINE = re.compile(r"^\s*(?:[a-z]\.\s*)?\[(?P<key>[^\]]{1,40})\]\s*(?P<value>.*)$")
_KV_LINE = re.compile(r"^\s*(?P<key>[^:\t]{1,60}?)\s*(?:\.{2,}\s*)?:\s*(?P<value>.*)$")
_TAB_LINE = re.compile(r"^(?P<key>[^\t:]{1,60})\t+(?P<value>\S.*)$")
_EXPIRES_ON = re.compile(
    r"^\s*(?P<key>(?:record\s+)?expires\s+on|domain\s+expires|nameserver)\s*:?\s+(?P<value>\S.*)$",
    re.IGNORECASE,
)


def _norm_key(key: str) -> str:
    return re.sub(r"\s+", " ", key.strip().strip(".").strip()).lower()


def _entries(text: str) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of an answer; see the module docstring."""
    entries: list[tuple[str, str]] = []
    heading: str | None = None
    heading_indent = 0
    heading_has_values = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("** "):  # .tr marks its headings so
            line = line.replace("** ", "", 1)
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            if heading_has_values:  # a heading's values may start after a blank (.hk)
                heading = None
            continue
        if stripped[0] in "%#" or stripped.startswith(">>>") or set(stripped) <= set("-=*"):
            continue
        if stripped.startswith("[ ") and stripped.endswith("]"):
            continue  # the JPRS banner
        key, value = _split(line)
        if key is None:  # a line without a key: a heading, or a value under one
            if heading is not None:
                entries.append((heading, stripped))
                heading_has_values = True
            else:
                heading, heading_indent = _norm_key(stripped.rstrip(":")), indent
                heading_has_values = False
            continue
        if not value:
            heading, heading_indent, heading_has_values = key, indent, False
            continue
        entries.append((key, value))
        if heading is not None and (indent > heading_indent or heading in _VALUE_BLOCKS):
            entries.append((f"{heading}/{key}", value))
            heading_has_values = True
        else:
            heading = None
    return entries


def _split(line: str) -> tuple[str | None, str]:
    for pattern in (_EXPIRES_ON, _JP_LINE, _KV_LINE, _TAB_LINE):
        match = pattern.match(line)
        if match is None:
            continue
        key = _norm_key(match.group("key"))
        spaced = pattern is not _EXPIRES_ON and "  " in match.group("key").strip()
        if key.startswith("http") or "//" in key or spaced:
            return None, ""  # a bare URL, not "http: //..."
        return key, match.group("value").strip()
    return None, ""


#: Headings whose following ``Key: value`` lines belong to them even unindented
#: (``[Registrar]`` then ``Name: ...`` in .lv; ``Nameservers`` then ``Hostname:`` in .dk).
_VALUE_BLOCKS = frozenset({"registrar", "nameservers", "nservers"})


# --------------------------------------------------------------------------- fields

_EXPIRY_KEYS = (
    "registry expiry date",
    "registrar registration expiration date",
    "expiry date",
    "expiration date",
    "expiration time",
    "expires",
    "expire",
    "expires on",
    "record expires on",
    "domain expires",
    "expire date",
    "paid-till",
    "renewal date",
    "valid until",
    "validity",
    "有効期限",
    "relevant dates/expiry date",
)
_REGISTRAR_KEYS = (
    "registrar/organization",
    "registrar/name",
    "registrar/organization name",
    "registrar",
    "sponsoring registrar",
    "registrar name",
    "registrar-name",
    "registration service provider",
    "authorised registrar",
    "current registar",
    "authorized agency",
    "registrar handle",
)
_STATUS_KEYS = ("domain status", "status", "eppstatus", "state", "状態", "ロック状態")
_NAMESERVER_KEYS = (
    "name server",
    "name servers",
    "nameserver",
    "nameservers",
    "nserver",
    "nservers/nserver",
    "domain nameservers",
    "name servers information",
    "hostname",
    "host name",
    "primary server",
    "secondary server",
    "nameservers/hostname",
    "name servers/dns",
    "domain servers",
    "domain servers in listed order",
    "name servers in the listed order",
)
_REFERRAL_KEYS = ("refer", "whois", "registrar whois server", "whois server")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")
_NOT_FOUND = re.compile(
    r"no match|not found|no entries found|no data found|no matching record"
    r"|^status:\s*(?:free|available)\s*$|^\S+ is free$|no information available about domain"
    r"|nincs talalat|^the domain name is not registered|object_not_found",
    re.IGNORECASE | re.MULTILINE,
)
_RATE_LIMITED = re.compile(
    r"limit exceeded|exceeded the (?:query|request) limit|too many (?:queries|requests)"
    r"|query rate limit|quota exceeded|rate.?limit|please try again later|access denied",
    re.IGNORECASE,
)


def is_rate_limited(text: str) -> bool:
    """True when the server refused the query for going too fast (and said so).

    Refusals are short and carry no record; long answers that merely mention their
    limits in the terms of use (.es) are answers.
    """
    if len(text) > _MAX_REFUSAL_CHARS or not _RATE_LIMITED.search(text):
        return False
    record = parse_whois(text)
    return record.expires is None and not record.nameservers


#: A refusal for going too fast is a line or two; an answer is longer.
_MAX_REFUSAL_CHARS = 2_000


def _first(entries: Sequence[tuple[str, str]], keys: Iterable[str]) -> str | None:
    for wanted in keys:
        for key, value in entries:
            if key == wanted and value:
                return value
    return None


def _all(entries: Sequence[tuple[str, str]], keys: Iterable[str]) -> list[str]:
    wanted = frozenset(keys)
    return [value for key, value in entries if key in wanted and value]


def _registrar(entries: Sequence[tuple[str, str]]) -> str | None:
    for wanted in _REGISTRAR_KEYS:
        for key, value in entries:
            if key != wanted:
                continue
            name = re.sub(r"^name:\s*", "", value, flags=re.IGNORECASE)
            name = re.sub(r"\s*\(\s*https?://[^)]*\)$", "", name).strip()  # .at
            if name and not name.lower().startswith(("http", "url:", "www.")):
                return name
    return None


def _statuses(entries: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    found: list[str] = []
    for value in _all(entries, _STATUS_KEYS):
        for part in re.split(r",|\s+", value):
            token = re.sub(r"[^a-z]", "", part.lower())
            status = EPP_STATUSES.get(token)
            if status is not None and status not in found:
                found.append(status)
            if token and status is None and part.strip().startswith(("http", "(")):
                break
    return tuple(found)


def _nameservers(entries: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    found: list[str] = []
    for value in _all(entries, _NAMESERVER_KEYS):
        token = value.split()[0].lower().rstrip(".")
        if token != "not.defined" and _HOSTNAME.match(token) and token not in found:
            found.append(token)
    return tuple(found)


def _referral(entries: Sequence[tuple[str, str]]) -> str | None:
    value = _first(entries, _REFERRAL_KEYS)
    if value is None:
        return None
    host = re.sub(r"^[a-z]+://", "", value.split()[0].lower()).split("/")[0].rstrip(".")
    return host if _HOSTNAME.match(host) and not host.startswith("www.") else None


def parse_whois(text: str) -> WhoisRecord:
    """Read one WHOIS answer (already decoded: :func:`decode_whois`)."""
    entries = _entries(text)
    meaningful = "\n".join(
        line.strip().lstrip("%# ").strip() for line in text.splitlines() if line.strip()
    )
    if _NOT_FOUND.search(meaningful) and _first(entries, _EXPIRY_KEYS) is None:
        return WhoisRecord(not_found=True)
    expires: datetime | None = None
    unreadable: str | None = None
    raw_expiry = _first(entries, _EXPIRY_KEYS)
    if raw_expiry is None:  # JPRS writes the end of an .ac.jp/.co.jp term in its state
        state = _first(entries, ("state",))
        match = re.search(r"\((\d{4}/\d{2}/\d{2})\)", state or "")
        raw_expiry = match.group(1) if match else None
    if raw_expiry is not None:
        expires = parse_whois_date(raw_expiry)
        if expires is None:
            unreadable = raw_expiry
    return WhoisRecord(
        expires=expires,
        registrar=_registrar(entries),
        statuses=_statuses(entries),
        nameservers=_nameservers(entries),
        referral=_referral(entries),
        unreadable_expiry=unreadable,
    )


# --------------------------------------------------------------------------- dates

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
#: Zone names some registries append (.cl, .jp); everything else is read as UTC.
_ZONES = {"utc": 0, "gmt": 0, "z": 0, "jst": 9, "clst": -3, "clt": -4, "cet": 1, "cest": 2}
_TIME = r"(?:[ t]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?"
_DATE_PATTERNS = (
    # 2020-09-14, 2032.05.19, 2026/05/31, 2026. 03. 02.
    re.compile(r"^(?P<y>\d{4})[-./]\s?(?P<m>\d{1,2})[-./]\s?(?P<d>\d{1,2})\.?" + _TIME),
    # 20200518
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})" + _TIME + r"$"),
    # 05-Dec-2020, 26-may-2013, 31 May 1999
    re.compile(r"^(?P<d>\d{1,2})[- ](?P<mon>[a-z]{3,9})[- ](?P<y>\d{4})" + _TIME),
    # 2020-Aug-22
    re.compile(r"^(?P<y>\d{4})-(?P<mon>[a-z]{3,9})-(?P<d>\d{1,2})" + _TIME),
    # May 22 2026, Sat Mar 28 23:59:00 2026
    re.compile(
        r"^(?:[a-z]{3},?\s+)?(?P<mon>[a-z]{3,9})\s+(?P<d>\d{1,2}),?"
        r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\s+(?P<y>\d{4})"
    ),
    # 4.7.2023 10:15:55, 13.05.2026, 14/08/2025 23:59:41, 31-03-2026 (day first)
    re.compile(r"^(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{4})" + _TIME),
)
_OFFSET = re.compile(r"(?:\(?\s*(?:utc|gmt)?\s*(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?\s*\)?)$")


def parse_whois_date(text: str) -> datetime | None:
    """A WHOIS date in any of the formats registries use → aware UTC; ``None`` if
    unreadable. Dates without a time are midnight UTC; a zone name or offset after
    the time (``CLST``, ``(JST)``, ``(UTC+8)``, ``-0800``) is applied."""
    value = text.strip().rstrip(".").strip()
    if not value:
        return None
    try:  # RFC 3339 and most of ISO 8601 (Python 3.11 reads "-0800" too)
        parsed = datetime.fromisoformat(value.upper().replace(" ", "T", 1))
    except ValueError:
        parsed = None
    if parsed is not None and len(value) >= 10:
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    lowered = value.lower()
    for pattern in _DATE_PATTERNS:
        match = pattern.match(lowered)
        if match is None:
            continue
        fields = match.groupdict()
        month = _MONTHS.get(fields["mon"] or "") if "mon" in fields else int(fields["m"])
        if month is None:
            continue
        try:
            naive = datetime(
                int(fields["y"]),
                month,
                int(fields["d"]),
                int(fields["H"] or 0),
                int(fields["M"] or 0),
                int(fields["S"] or 0),
            )
        except ValueError:
            continue
        return naive.replace(tzinfo=_zone(lowered[match.end() :])).astimezone(UTC)
    return None


def _zone(rest: str) -> timezone:
    rest = rest.strip()
    if not rest:
        return UTC
    offset = _OFFSET.search(rest)
    if offset is not None:
        minutes = int(offset.group("h")) * 60 + int(offset.group("m") or 0)
        return timezone(timedelta(minutes=-minutes if offset.group("sign") == "-" else minutes))
    name = rest.strip("() ").lower()
    return timezone(timedelta(hours=_ZONES.get(name, 0)))
