"""Turn what people paste or upload into a clean, de-duplicated list of targets.

Input is forgiving: bare names, ``host:port``, URLs, ``*.`` wildcards, trailing dots,
upper case, inline ``#`` comments, IDNs in either form, IP literals, plain text or
CSV files. Every line ends up as exactly one of three things: a
:class:`~core.models.Target`, an :class:`~core.models.InputError` with a plain-English
reason, or skipped silently (blank lines and comments).

Only a file that cannot be read at all (missing, a folder, no permission, binary)
raises, and then only :class:`~core.errors.InputFileError`: one bad line never hides
the good ones.

A CSV header may name a ``group`` column (a client or project, kept by the
watchlist) and a ``port`` column next to the domain column, so the watchlist's own
export (``domain,port,group``) reads back exactly; plain lists carry no group. A
``threshold_days`` column gives a target its own threshold (days before expiry that
count as expiring); an empty cell leaves it to the run's default.

Services are written as URLs: ``smtp://mx.example.com`` (STARTTLS on its default
port, 25), ``imap://``, ``ldap://``, ``postgres://``..., ``smtps://``, ``imaps://``...
(the table is :data:`core.starttls.SCHEMES`), and set ``Target.protocol``;
``https://`` (and ``http://``, ``ws(s)://``) is direct TLS on 443, the same target
as the bare name. ``mx:example.com`` stands for the domain's mail servers, looked
up later by :mod:`core.mx`. :func:`with_protocol` applies ``--starttls``.
De-duplication is per (protocol, host, port): :attr:`~core.models.Target.key`.

Names are checked for the internet, not for DNS in general: a single label such as
``intranet`` or an underscore is rejected, because no public certificate can cover it.
ASCII labels follow the LDH rule (letters, digits, hyphens) and nothing stricter, so
real host names like ``r3---sn-abc.googlevideo.com`` pass; non-ASCII labels and
``xn--`` labels go through IDNA 2008 (``idna`` with UTS #46 mapping).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import ipaddress
import os
import re
import typing
from collections.abc import Iterable

import idna

from core.errors import InputFileError
from core.models import (
    DEFAULT_PORT,
    DEFAULT_PROTOCOL,
    HTTPS_PROTOCOL,
    MX_PROTOCOL,
    SMTP_PORT,
    InputError,
    Target,
)

__all__ = [
    "ParseResult",
    "merge",
    "normalize_host",
    "parse_line",
    "parse_lines",
    "parse_text",
    "read_file",
    "read_stream",
    "with_protocol",
]

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_PORT = 65_535
#: Web URL schemes: TLS on port 443 unless the URL says otherwise (we check TLS).
URL_SCHEMES = frozenset({"https", "http", "wss", "ws"})
#: ``mx:example.com``: the domain's mail servers (:mod:`core.mx` expands it).
MX_PREFIX = "mx:"
#: CSV header names that pick the column to read, most specific first.
CSV_HEADER_NAMES = ("domain", "domains", "domain name", "domain_name", "hostname", "host", "url")
#: Optional CSV columns: each target's watchlist group, and its port.
CSV_GROUP_HEADER = "group"
CSV_PORT_HEADER = "port"
#: Optional CSV column: the target's own threshold in days.
CSV_THRESHOLD_HEADER = "threshold_days"
#: The column of ``check --format csv`` (and the exports) that names a target's
#: protocol (``smtp``, ``imaps``...); read back so a service stays a service.
CSV_PROTOCOL_HEADER = "protocol"
#: Largest threshold a list may give (ten years: anything more is a typo).
MAX_THRESHOLD_DAYS = 3650
#: File extensions always read as CSV (others are sniffed for a header line).
CSV_EXTENSIONS = frozenset({".csv", ".tsv"})
CSV_DELIMITERS = (",", ";", "\t")
#: Larger files are refused rather than read into memory (a list of 200,000 names
#: is about 4 MB; this also stops ``/dev/zero`` from hanging the app).
MAX_FILE_BYTES = 100 * 1024 * 1024
#: How much of a file is examined to decide that it is binary.
BINARY_SNIFF_BYTES = 8192
#: Share of undecodable or control characters above which a file counts as binary.
BINARY_BAD_CHAR_RATIO = 0.3

_NOT_UTF8 = "not valid UTF-8 text"
_REPLACEMENT_CHAR = "\ufffd"
#: Invisible characters that come along with copy and paste from web pages.
_INVISIBLE_EDGES = " \t\r\n\f\v\u00a0\u200b\u200c\u200d\u2060\ufeff"

# A lower-case LDH name with at least one dot and a TLD starting with a letter. It is
# a strict subset of what the slow path accepts, so it only ever short-cuts (names
# with ``xn--`` labels or over 253 characters still take the slow path).
_LDH_NAME = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_FAST_NAME = re.compile(_LDH_NAME)
#: The same in any case, with an optional trailing dot and ``:port``.
_FAST_HOST_PORT = re.compile(
    rf"({_LDH_NAME})\.?(?::([0-9]{{1,5}}))?", flags=re.ASCII | re.IGNORECASE
)
_NOT_LDH = re.compile(r"[^a-z0-9.-]")
_SPACE = re.compile(r"\s")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_COMMENT_AFTER_SPACE = re.compile(r"\s#")
_AUTHORITY_END = re.compile(r"[/?#\\]")
_DIGITS = re.compile(r"[0-9]+")
_IPV4_LIKE = re.compile(r"[0-9][0-9.]*")
_CODEPOINT = re.compile(r"U\+([0-9A-Fa-f]{4,6})")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_IDNA_CACHE_SIZE = 4096
#: Longest Unicode input worth mapping: every encoded character takes at least a byte,
#: and UTS #46 only removes a few invisible ones.
_MAX_UNICODE_INPUT = 4 * MAX_NAME_LENGTH


@dataclasses.dataclass(frozen=True, slots=True)
class ParseResult:
    """The targets found (de-duplicated, in first-seen order) and the rejected lines."""

    targets: list[Target]
    errors: list[InputError]


# --------------------------------------------------------------------------- lines


def parse_line(text: str) -> Target | None:
    """Parse one line: a target, ``None`` for a blank or comment line.

    Raises:
        ValueError: the line is not something we can check; ``str()`` says why.
    """
    line = text.strip(_INVISIBLE_EDGES)
    if not line or line[0] == "#":
        return None
    fast = _FAST_HOST_PORT.fullmatch(line)
    if fast:
        host = fast[1].lower()
        port = int(fast[2]) if fast[2] else DEFAULT_PORT
        if len(host) <= MAX_NAME_LENGTH and "xn--" not in host and 1 <= port <= MAX_PORT:
            return Target(host=host, port=port, display=host)
    line = _strip_comment(line)
    if _REPLACEMENT_CHAR in line:
        raise ValueError(_NOT_UTF8)
    if _SPACE.search(line):
        raise ValueError("contains a space (write one domain per line)")

    if line[:3].lower() == MX_PREFIX:
        return _parse_mx(line[3:])
    scheme_match = _URL_SCHEME.match(line)
    protocol, default_port = DEFAULT_PROTOCOL, DEFAULT_PORT
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        service = None if scheme in URL_SCHEMES else _service_port(scheme)
        if scheme in URL_SCHEMES:
            protocol = HTTPS_PROTOCOL if scheme == HTTPS_PROTOCOL else DEFAULT_PROTOCOL
        elif service is not None:
            protocol, default_port = scheme, service
        else:
            raise ValueError(
                f"unsupported URL scheme '{scheme}://' (use https://, smtp://, imap://,"
                " another service's scheme, or just the name)"
            )
        authority = _AUTHORITY_END.split(line[scheme_match.end() :], maxsplit=1)[0]
        authority = authority.rpartition("@")[2]  # drop user:password@
        if not authority:
            raise ValueError("the URL has no host name")
        target = _parse_authority(authority, default_port)
        if protocol != DEFAULT_PROTOCOL:
            target = dataclasses.replace(target, protocol=protocol)
        return target
    else:
        if "@" in line:
            raise ValueError("looks like an email address, not a domain")
        scheme_only, colon, rest = line.partition(":")
        if colon and scheme_only.lower() in URL_SCHEMES and not _DIGITS.fullmatch(rest):
            raise ValueError(f"missing '//' after '{scheme_only}:' in the URL")
        # ``example.com/login``: a URL without its scheme.
        authority = _AUTHORITY_END.split(line, maxsplit=1)[0]
        if not authority:
            raise ValueError("no host name before the '/'")
    return _parse_authority(authority)


def _service_port(scheme: str) -> int | None:
    """The default port of a service's URL scheme (``smtp`` → 25), ``None`` if unknown."""
    from core.starttls import SCHEMES  # late: most lists hold only names

    service = SCHEMES.get(scheme)
    return None if service is None or scheme == DEFAULT_PROTOCOL else service.default_port


def _parse_mx(text: str) -> Target:
    """``mx:example.com``: a mail domain, not yet its MX hosts (:mod:`core.mx`)."""
    name = text.strip(_INVISIBLE_EDGES).rstrip("/")
    if not name:
        raise ValueError("no domain after 'mx:'")
    if _ipv4_or_none(name) is not None or ":" in name or name.startswith("["):
        raise ValueError("'mx:' takes a mail domain, not an address or port")
    host, display = normalize_host(name)
    return Target(host=host, port=SMTP_PORT, display=display, protocol=MX_PROTOCOL)


def with_protocol(result: ParseResult, protocol: str) -> ParseResult:
    """``--starttls PROTO``: direct-TLS targets (bare names, ``host:port``) speak
    ``protocol`` instead; a bare name (port 443) gets the protocol's own port.
    Targets written as URLs keep their scheme. Duplicates that appear are merged.

    Raises:
        ValueError: ``protocol`` is not a STARTTLS protocol.
    """
    from core.starttls import SCHEMES, STARTTLS_PROTOCOLS

    if protocol not in STARTTLS_PROTOCOLS:
        raise ValueError(
            f"unknown STARTTLS protocol {protocol!r} (one of {', '.join(STARTTLS_PROTOCOLS)})"
        )
    port = SCHEMES[protocol].default_port
    targets: dict[tuple[str, int], Target] = {}
    for target in result.targets:
        if target.protocol == DEFAULT_PROTOCOL:
            target = dataclasses.replace(
                target,
                protocol=protocol,
                port=port if target.port == DEFAULT_PORT else target.port,
            )
        targets.setdefault(target.key, target)
    return ParseResult(list(targets.values()), result.errors)


def _strip_comment(line: str) -> str:
    """Cut an inline comment; in URLs only ``" #"`` starts one (``#`` is a fragment)."""
    if "#" not in line:
        return line
    if "://" in line:
        match = _COMMENT_AFTER_SPACE.search(line)
        return line[: match.start()].rstrip() if match else line
    return line.partition("#")[0].rstrip()


def _parse_authority(authority: str, default_port: int = DEFAULT_PORT) -> Target:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if authority.startswith("["):
        inside, bracket, after = authority[1:].partition("]")
        if not bracket:
            raise ValueError("missing ']' after the IPv6 address")
        address = _ipv6_or_none(inside)
        if address is None:
            raise ValueError(f"'{inside}' in [brackets] is not an IPv6 address")
        if after and not after.startswith(":"):
            raise ValueError(f"unexpected text '{after}' after ']'")
        port = _parse_port(after[1:]) if after else default_port
        return Target(host=address, port=port, is_ip=True)

    if authority.count(":") > 1:
        address = _ipv6_or_none(authority)
        if address is None:
            raise ValueError(
                f"'{authority}' is not a valid IPv6 address "
                "(with a port, write it in brackets: [2001:db8::1]:8443)"
            )
        return Target(host=address, port=default_port, is_ip=True)

    host, colon, port_text = authority.partition(":")
    port = _parse_port(port_text) if colon else default_port
    host = host.strip(_INVISIBLE_EDGES)
    if not host:
        raise ValueError("no host name before the ':'")
    ip = _ipv4_or_none(host)
    if ip is not None:
        return Target(host=ip, port=port, is_ip=True)
    name, display = normalize_host(host)
    return Target(host=name, port=port, display=display)


def _parse_port(text: str) -> int:
    if not text:
        raise ValueError("missing port number after ':'")
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"port '{text}' is not a number")
    port = int(text)
    if not 1 <= port <= MAX_PORT:
        raise ValueError(f"port {port} is out of range (1-{MAX_PORT})")
    return port


def _ipv6_or_none(text: str) -> str | None:
    """The compressed IPv6 address in ``text``, ``None`` when it is not one.

    Zone IDs (``fe80::1%eth0``) are refused: they only mean something on one machine,
    and Python would accept any text after the ``%``.
    """
    address_text, percent, zone = text.partition("%")
    try:
        address = ipaddress.IPv6Address(address_text)
    except ValueError:
        return None
    if percent:
        raise ValueError(f"IPv6 zone IDs ('%{zone}') are not supported; give the address alone")
    return address.compressed


def _ipv4_or_none(host: str) -> str | None:
    """The IPv4 address in ``host``, ``None`` when it is not one; raises for ``1.2.3.999``."""
    if not _IPV4_LIKE.fullmatch(host):
        return None
    text = host.removesuffix(".")
    try:
        return ipaddress.IPv4Address(text).compressed
    except ValueError:
        raise ValueError(f"'{host}' is not a valid IPv4 address") from None


# --------------------------------------------------------------------------- names


def normalize_host(text: str) -> tuple[str, str]:
    """``(A-label in lower case, Unicode form for display)`` of a host name.

    Accepts upper case, one trailing dot, a leading ``*.`` (the base name is what
    gets checked), IDNs in Unicode or ``xn--`` form, and IP literals (returned in
    compressed form, without brackets).

    Raises:
        ValueError: not a name we can check on the internet; ``str()`` says why.
    """
    name = text.strip(_INVISIBLE_EDGES)
    if name.startswith("*."):
        name = name[2:]
    if ":" in name:
        address = _ipv6_or_none(name.removeprefix("[").removesuffix("]"))
        if address is not None:
            return address, address
    ip = _ipv4_or_none(name)
    if ip is not None:
        return ip, ip
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise ValueError("empty host name")
    if _REPLACEMENT_CHAR in name:
        raise ValueError(_NOT_UTF8)
    if name.isascii():
        lowered = name.lower()
        if (
            _FAST_NAME.fullmatch(lowered)
            and "xn--" not in lowered
            and len(lowered) <= MAX_NAME_LENGTH
        ):
            return lowered, lowered
        return _ascii_name(lowered)
    return _unicode_name(name)


@functools.lru_cache(maxsize=_IDNA_CACHE_SIZE)
def _ascii_name(name: str) -> tuple[str, str]:
    """Validate a lower-case ASCII name in detail; decode its ``xn--`` labels for display."""
    bad = sorted(set(_NOT_LDH.findall(name)))
    if bad:
        raise ValueError(_invalid_characters(bad))
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"name is longer than {MAX_NAME_LENGTH} characters ({len(name)})")
    labels = name.split(".")
    _check_structure(name, labels)
    _check_hyphens(labels)
    _check_lengths(labels, labels)
    display = ".".join(
        _decode_alabel(label) if label.startswith("xn--") else label for label in labels
    )
    return name, display


@functools.lru_cache(maxsize=_IDNA_CACHE_SIZE)
def _unicode_name(name: str) -> tuple[str, str]:
    """IDNA 2008 with UTS #46 mapping, with our own messages for the common mistakes."""
    if len(name) > _MAX_UNICODE_INPUT:  # idna refuses long input with a vaguer message
        raise ValueError(f"name is longer than {MAX_NAME_LENGTH} characters ({len(name)})")
    try:
        mapped = idna.uts46_remap(name, std3_rules=False)
    except (idna.IDNAError, ValueError) as exc:
        raise ValueError(_idna_reason(exc)) from None
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise ValueError("empty host name")
    bad = sorted({char for char in mapped if char.isascii() and _NOT_LDH.match(char)})
    if bad:
        raise ValueError(_invalid_characters(bad))
    labels = mapped.split(".")
    _check_structure(mapped, labels)
    _check_hyphens(labels)
    a_labels: list[str] = []
    display_labels: list[str] = []
    for label in labels:
        if label.isascii():
            a_labels.append(label)
            display_labels.append(_decode_alabel(label) if label.startswith("xn--") else label)
            continue
        try:
            a_label = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, ValueError) as exc:
            if len(label) > MAX_LABEL_LENGTH or "too long" in str(exc).lower():
                raise ValueError(
                    f"label '{_shorten(label)}' is longer than {MAX_LABEL_LENGTH} characters "
                    "once encoded"
                ) from None
            raise ValueError(_idna_reason(exc)) from None
        a_labels.append(a_label)
        display_labels.append(label)
    _check_lengths(a_labels, display_labels)
    return ".".join(a_labels), ".".join(display_labels)


def _check_structure(name: str, labels: list[str]) -> None:
    """Dots and length: the mistakes that make a name unreadable before its characters."""
    if name.startswith("."):
        raise ValueError("empty label (starts with a dot)")
    if "" in labels:
        raise ValueError("empty label (two dots in a row)")
    if len(labels) == 1:
        raise ValueError(
            f"'{name}' has no dot: a single-label name can't be checked on the internet "
            f"(write the full name, e.g. {name}.example.com)"
        )


def _check_hyphens(labels: list[str]) -> None:
    for label in labels:
        if label.startswith("-") or label.endswith("-"):
            where = "starts" if label.startswith("-") else "ends"
            raise ValueError(f"label '{_shorten(label)}' {where} with a hyphen")


def _check_lengths(a_labels: list[str], shown: list[str]) -> None:
    """Length limits apply to the wire (A-label) form; messages show the user's label."""
    for a_label, label in zip(a_labels, shown, strict=True):
        if len(a_label) > MAX_LABEL_LENGTH:
            raise ValueError(
                f"label '{_shorten(label)}' is longer than {MAX_LABEL_LENGTH} characters "
                f"({len(a_label)})"
            )
    if _DIGITS.fullmatch(a_labels[-1]):
        if all(_DIGITS.fullmatch(label) for label in a_labels):
            raise ValueError("not a valid IPv4 address")
        raise ValueError(f"the top-level domain '{a_labels[-1]}' is only digits")
    length = sum(len(label) for label in a_labels) + len(a_labels) - 1
    if length > MAX_NAME_LENGTH:
        raise ValueError(f"name is longer than {MAX_NAME_LENGTH} characters ({length})")


@functools.lru_cache(maxsize=_IDNA_CACHE_SIZE)
def _decode_alabel(label: str) -> str:
    """The U-label of an ``xn--`` label; invalid punycode is an input error."""
    try:
        return idna.ulabel(label)
    except (idna.IDNAError, ValueError) as exc:
        codepoint = _codepoint_in(exc)
        if codepoint is not None:
            raise ValueError(
                f"'{label}' decodes to {_describe_char(codepoint)}, "
                "which is not allowed in a domain name"
            ) from None
        raise ValueError(f"'{label}' is not valid punycode (a broken IDN A-label)") from None


def _idna_reason(exc: Exception) -> str:
    codepoint = _codepoint_in(exc)
    message = str(exc)
    if codepoint is not None:
        if "Joiner" in message or "context" in type(exc).__name__.lower():
            return f"{_describe_char(codepoint)} is not allowed in that position of the name"
        return f"invalid character {_describe_char(codepoint)}"
    if "3rd and 4th" in message:
        return "'--' in the 3rd and 4th characters of a label is reserved for IDNs"
    if isinstance(exc, idna.IDNABidiError):
        return "mixes right-to-left and left-to-right letters in a way IDNs do not allow"
    return f"not a valid internationalised domain name ({message})"


def _codepoint_in(exc: Exception) -> str | None:
    match = _CODEPOINT.search(str(exc))
    return chr(int(match.group(1), 16)) if match else None


def _describe_char(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"'{char}' (U+{ord(char):04X})" if not char.isascii() else f"'{char}'"
    return f"U+{ord(char):04X}"


def _invalid_characters(chars: list[str]) -> str:
    shown = ", ".join(_describe_char(char) for char in chars)
    return f"invalid character{'s' if len(chars) > 1 else ''} {shown}"


def _shorten(label: str, keep: int = 20) -> str:
    return label if len(label) <= keep else f"{label[:keep]}…"


# --------------------------------------------------------------------------- many lines


def parse_lines(lines: Iterable[str], source: str) -> ParseResult:
    """Parse one domain per item (no CSV detection); line numbers count items from 1."""
    targets: dict[tuple[str, int], Target] = {}
    errors: list[InputError] = []
    fast_name = _FAST_NAME.fullmatch
    for line_number, line in enumerate(lines, start=1):
        # The hot path, inlined: a plain lower-case name, like most of a long list.
        if fast_name(line) and len(line) <= MAX_NAME_LENGTH and "xn--" not in line:
            if (line, DEFAULT_PORT) not in targets:
                targets[line, DEFAULT_PORT] = Target(host=line, display=line)
        else:
            _add_line(targets, errors, source, line_number, line)
    return ParseResult(list(targets.values()), errors)


def _add_line(
    targets: dict[tuple[str, int], Target],
    errors: list[InputError],
    source: str,
    line_number: int,
    text: str,
    *,
    group: str = "",
    port: str = "",
    threshold: str = "",
) -> None:
    """Parse ``text`` into ``targets`` (first one wins) or ``errors``.

    ``group``, ``port`` and ``threshold`` come from a CSV row's ``group``, ``port``
    and ``threshold_days`` cells.
    """
    try:
        target = parse_line(text)
        if target is not None and (group or port):
            target = dataclasses.replace(
                target, group=group, port=_parse_port(port) if port else target.port
            )
        if target is not None and threshold:
            target = dataclasses.replace(target, threshold_days=parse_threshold(threshold))
    except ValueError as exc:
        errors.append(InputError(source, line_number, text.strip(_INVISIBLE_EDGES), str(exc)))
        return
    if target is not None and target.key not in targets:
        targets[target.key] = target


def parse_text(text: str, source: str = "<paste>") -> ParseResult:
    """Parse pasted or decoded text; a first line like ``domain,owner`` makes it CSV."""
    lines = _split_lines(text.removeprefix("\ufeff"))
    header = _csv_header(lines)
    if header is not None:
        return _parse_csv(lines, source, header_index=header[0], delimiter=header[1])
    return parse_lines(lines, source)


def read_file(path: str | os.PathLike[str]) -> ParseResult:
    """Read a ``.txt``/``.csv`` list (CSV by extension, or by a header line).

    Raises:
        InputFileError: missing, a folder, not readable, too large, or binary.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise InputFileError(f"{source}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{source}: is a folder, not a file") from exc
    except PermissionError as exc:
        if os.path.isdir(source):  # Windows reports folders as permission errors
            raise InputFileError(f"{source}: is a folder, not a file") from exc
        raise InputFileError(f"{source}: permission denied") from exc
    except OSError as exc:
        raise InputFileError(f"{source}: cannot read the file ({exc.strerror or exc})") from exc
    _check_size(data, source)
    text = _decode(data, source)
    if os.path.splitext(source)[1].lower() in CSV_EXTENSIONS:
        lines = _split_lines(text)
        header = _csv_header(lines)
        if header is not None:
            return _parse_csv(lines, source, header_index=header[0], delimiter=header[1])
        return _parse_csv(lines, source, header_index=None, delimiter=_delimiter(lines))
    return parse_text(text, source)


def read_stream(stream: typing.BinaryIO | typing.TextIO, source: str = "<stdin>") -> ParseResult:
    """Read a whole stream (stdin, an upload); bytes are decoded like a file.

    A text stream with an underlying binary buffer (``sys.stdin``) is read through
    the buffer, so a stray non-UTF-8 byte costs one line, not the whole read.

    Raises:
        InputFileError: the stream cannot be read, is too large, or holds binary data.
    """
    buffer = getattr(stream, "buffer", None)
    try:
        data: bytes | str = (
            buffer.read(MAX_FILE_BYTES + 1)
            if buffer is not None
            else stream.read(MAX_FILE_BYTES + 1)
        )
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{source}: not valid text ({exc.reason})") from exc
    except OSError as exc:
        raise InputFileError(f"{source}: cannot read ({exc.strerror or exc})") from exc
    _check_size(data, source)
    text = _decode(data, source) if isinstance(data, bytes) else data
    return parse_text(text, source)


def merge(results: Iterable[ParseResult]) -> ParseResult:
    """Combine results from several sources: first-seen target wins, all errors kept."""
    targets: dict[tuple[str, int], Target] = {}
    errors: list[InputError] = []
    for result in results:
        for target in result.targets:
            targets.setdefault(target.key, target)
        errors.extend(result.errors)
    return ParseResult(list(targets.values()), errors)


def _split_lines(text: str) -> list[str]:
    """Split on LF, CRLF and CR only (``str.splitlines`` also splits on U+2028, FF...)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


# --------------------------------------------------------------------------- files


def _check_size(data: bytes | str, source: str) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise InputFileError(
            f"{source}: too large for a list of domains (over {MAX_FILE_BYTES // 2**20} MB)"
        )


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (BOM or not) or UTF-16 with a BOM; bad bytes become U+FFFD, binary raises."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise InputFileError(
            f"{source}: looks like a binary file, not a list of domains "
            "(save it as plain UTF-8 text or CSV)"
        )
    text = data.decode("utf-8-sig", errors="replace")
    sample = text[:BINARY_SNIFF_BYTES]
    if sample and len(_CONTROL_CHARS.findall(sample)) > BINARY_BAD_CHAR_RATIO * len(sample):
        raise InputFileError(
            f"{source}: looks like a binary file, not a list of domains "
            "(save it as plain UTF-8 text or CSV)"
        )
    return text


def _first_content_line(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        stripped = line.strip(_INVISIBLE_EDGES)
        if stripped and not stripped.startswith("#"):
            return index
    return None


def _delimiter(lines: list[str], index: int | None = None) -> str:
    """The most frequent of ``, ; TAB`` on the first content line (``,`` on a tie)."""
    if index is None:
        index = _first_content_line(lines)
    if index is None:
        return ","
    line = lines[index]
    counts = [line.count(delimiter) for delimiter in CSV_DELIMITERS]
    best = max(counts)
    return CSV_DELIMITERS[counts.index(best)] if best else ","


def _csv_header(lines: list[str]) -> tuple[int, str] | None:
    """``(line index, delimiter)`` when the first content line is a CSV header."""
    index = _first_content_line(lines)
    if index is None:
        return None
    line = lines[index]
    if not any(name in line.lower() for name in ("domain", "host", "url")):
        return None  # the common case, decided without the csv module
    delimiter = _delimiter(lines, index)
    cells = next(csv.reader([line], delimiter=delimiter), [])
    if _header_column(cells) is None:
        return None
    return index, delimiter


def _header_column(cells: list[str]) -> int | None:
    names = [cell.strip(_INVISIBLE_EDGES).lower() for cell in cells]
    for wanted in CSV_HEADER_NAMES:
        if wanted in names:
            return names.index(wanted)
    return None


def parse_threshold(text: str) -> int:
    """A ``threshold_days`` cell: whole days, 0 to :data:`MAX_THRESHOLD_DAYS`.

    Raises:
        ValueError: with the words for the rejected line.
    """
    value = text.strip()
    if not value.isdecimal() or not 0 <= int(value) <= MAX_THRESHOLD_DAYS:
        raise ValueError(
            f"threshold_days {value!r} is not a number of days (0 to {MAX_THRESHOLD_DAYS:,})"
        )
    return int(value)


@dataclasses.dataclass(frozen=True, slots=True)
class _Columns:
    """Where a CSV row keeps its domain, and its optional group, port, threshold and
    protocol."""

    domain: int
    group: int | None = None
    port: int | None = None
    threshold: int | None = None
    protocol: int | None = None

    @classmethod
    def from_header(cls, cells: list[str]) -> _Columns:
        """The header's columns; the first column holds domains when none is named."""
        names = [cell.strip(_INVISIBLE_EDGES).lower() for cell in cells]

        def find(name: str) -> int | None:
            return names.index(name) if name in names else None

        return cls(
            _header_column(cells) or 0,
            find(CSV_GROUP_HEADER),
            find(CSV_PORT_HEADER),
            find(CSV_THRESHOLD_HEADER),
            find(CSV_PROTOCOL_HEADER),
        )


def _with_scheme(cell: str, protocol: str) -> str:
    """``mx1.example.com`` in a row whose protocol is ``smtp``: ``smtp://mx1.example.com``.

    Direct TLS (empty, ``tls``, ``https``) and a cell with a scheme of its own stay
    as they are."""
    name = protocol.strip().lower()
    if name in ("", "tls", "https") or "://" in cell or cell.lower().startswith("mx:"):
        return cell
    return f"mx:{cell}" if name == "mx" else f"{name}://{cell}"


def _cell(cells: list[str], column: int | None) -> str:
    if column is None or column >= len(cells):
        return ""
    return cells[column].strip(_INVISIBLE_EDGES)


def _parse_csv(
    lines: list[str], source: str, *, header_index: int | None, delimiter: str
) -> ParseResult:
    """Read the header's domain column, or the first column when there is no header.

    A header may also name a ``group`` column (each target's group in the watchlist),
    a ``port`` column (a non-empty port cell sets the target's port, over a port
    written in the domain cell), a ``threshold_days`` column and a ``protocol``
    column (``smtp``, ``imaps``, ``mx``...: what ``check --format csv`` and the
    exports write; a domain cell with its own scheme keeps it); a file without a
    header has none.
    Quoted fields may span lines; an error reports the line its record starts on.
    Rows whose chosen cell is empty are skipped like blank lines.
    """
    offset = header_index if header_index is not None else 0  # lines before: blank/comments
    columns: _Columns | None = None if header_index is not None else _Columns(0)
    column = 0
    group_column: int | None = None
    port_column: int | None = None
    threshold_column: int | None = None
    protocol_column: int | None = None
    targets: dict[tuple[str, int], Target] = {}
    errors: list[InputError] = []
    fast_name = _FAST_NAME.fullmatch
    reader = csv.reader(lines[offset:], delimiter=delimiter)
    lines_read = 0
    while True:
        try:
            for cells in reader:
                line_number = offset + lines_read + 1
                lines_read = reader.line_num
                if columns is None:
                    columns = _Columns.from_header(cells)
                    column, group_column, port_column = columns.domain, columns.group, columns.port
                    threshold_column = columns.threshold
                    protocol_column = columns.protocol
                    continue
                if column and cells and cells[0].lstrip().startswith("#"):
                    continue  # a comment row (parse_line skips comments in column 0)
                cell = cells[column] if column < len(cells) else ""
                # Only lists with these columns pay for them (a list can be 200,000 rows).
                group = "" if group_column is None else _cell(cells, group_column)
                port_text = "" if port_column is None else _cell(cells, port_column)
                threshold = "" if threshold_column is None else _cell(cells, threshold_column)
                if protocol_column is not None:
                    cell = _with_scheme(cell, _cell(cells, protocol_column))
                if (
                    not port_text
                    and not threshold
                    and fast_name(cell)
                    and len(cell) <= MAX_NAME_LENGTH
                    and "xn--" not in cell
                ):
                    if (cell, DEFAULT_PORT) not in targets:
                        targets[cell, DEFAULT_PORT] = (
                            Target(cell, DEFAULT_PORT, cell, False, group)
                            if group
                            else Target(cell, DEFAULT_PORT, cell)
                        )
                else:
                    _add_line(
                        targets,
                        errors,
                        source,
                        line_number,
                        cell,
                        group=group,
                        port=port_text,
                        threshold=threshold,
                    )
        except csv.Error as exc:
            line_number = offset + lines_read + 1
            errors.append(
                InputError(
                    source,
                    line_number,
                    lines[line_number - 1].strip() if line_number <= len(lines) else "",
                    f"cannot read this CSV row ({exc})",
                )
            )
            if reader.line_num > lines_read:  # skip the bad record and go on
                lines_read = reader.line_num
                continue
        return ParseResult(list(targets.values()), errors)
