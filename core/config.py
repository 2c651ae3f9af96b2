"""Settings shared by every front end.

The CLI options and the ``DOMAINCHECK_*`` environment variables mean the same
thing: ``Settings.from_env()`` reads the variables, and the CLI overrides them with
whatever options were given (``dataclasses.replace``).

    DOMAINCHECK_TIMEOUT          seconds for one whole host check (default 10)
    DOMAINCHECK_CONCURRENCY      hosts checked at once (default 200)
    DOMAINCHECK_THRESHOLD        days before expiry that count as "expiring" (default 30)
    DOMAINCHECK_CA_FILE          extra PEM CA bundle trusted besides the system store
    DOMAINCHECK_CONNECT_TO       comma-separated HOST:PORT:TARGET_HOST:TARGET_PORT rules
    DOMAINCHECK_RDAP_BOOTSTRAP   IANA RDAP bootstrap file path or URL
    DOMAINCHECK_LIFETIME_FRACTION  share of a certificate's lifetime left at which it is
                                 expiring (default 1/3; 0 turns the rule off)
    DOMAINCHECK_ACME_DIRECTORY   ACME directory URL asked for renewal information (ARI)
                                 about every certificate, instead of the known-CA table
    DOMAINCHECK_WHOIS_SERVERS    comma-separated TLD=HOST:PORT WHOIS servers to use
                                 instead of the ones IANA names (tests, a local mirror)
    DOMAINCHECK_WHOIS_PACE       seconds between two queries to one WHOIS server
                                 (default 2; known strict servers get more)
    DOMAINCHECK_RESOLVE          ';'-separated HOST:PORT:ADDR[,ADDR...] rules: these
                                 addresses instead of DNS (like curl's --resolve)
    DOMAINCHECK_DNS_SERVER       IP:PORT of the DNS server every lookup goes to (split
                                 DNS, tests); unset = the system's resolver
    DOMAINCHECK_FIRST_ADDRESS_ONLY  1 = check only the first address of each name
    DOMAINCHECK_STARTTLS         protocol for bare host:port targets (smtp, imap...)
    DOMAINCHECK_MX               1 = also check the mail servers of every bare name
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.errors import UsageError
from core.models import DEFAULT_THRESHOLD_DAYS
from core.thresholds import DEFAULT_LIFETIME_FRACTION

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_CONCURRENCY = 200
MAX_CONCURRENCY = 5_000
ENV_PREFIX = "DOMAINCHECK_"


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectRule:
    """curl-style ``--connect-to HOST:PORT:TARGET_HOST:TARGET_PORT``.

    Empty ``host``/``port`` match anything; empty ``target_host``/``target_port``
    keep the original. SNI, certificate name checks and RDAP still use the original
    name: only the TCP destination changes.
    """

    host: str
    port: int | None
    target_host: str
    target_port: int | None

    @classmethod
    def parse(cls, text: str) -> ConnectRule:
        fields = _split_rule(text.strip())
        if len(fields) != 4:
            raise UsageError(
                f"--connect-to {text!r}: expected HOST:PORT:TARGET_HOST:TARGET_PORT "
                "(fields may be empty, IPv6 addresses in [brackets])"
            )
        host, port, target_host, target_port = fields
        return cls(
            host=host.lower().rstrip("."),
            port=_parse_port(port, text),
            target_host=target_host,
            target_port=_parse_port(target_port, text),
        )

    def matches(self, host: str, port: int) -> bool:
        return (not self.host or self.host == host) and (self.port is None or self.port == port)

    def __str__(self) -> str:
        def fmt_host(h: str) -> str:
            return f"[{h}]" if ":" in h else h

        return ":".join(
            (
                fmt_host(self.host),
                "" if self.port is None else str(self.port),
                fmt_host(self.target_host),
                "" if self.target_port is None else str(self.target_port),
            )
        )


def _split_rule(text: str, option: str = "--connect-to") -> list[str]:
    """Split on ':' outside [brackets]; brackets are removed from the fields."""
    fields: list[str] = []
    current: list[str] = []
    in_brackets = False
    for char in text:
        if char == "[" and not in_brackets:
            in_brackets = True
        elif char == "]" and in_brackets:
            in_brackets = False
        elif char == ":" and not in_brackets:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    if in_brackets:
        raise UsageError(f"{option} {text!r}: unclosed '['")
    return fields


def _parse_port(text: str, rule: str, option: str = "--connect-to") -> int | None:
    if text == "":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"{option} {rule!r}: {text!r} is not a port number (1-65535)")
    return int(text)


def resolve_connect_to(rules: Sequence[ConnectRule], host: str, port: int) -> tuple[str, int]:
    """Where to open the TCP connection for ``host:port``: the first matching rule wins."""
    for rule in rules:
        if rule.matches(host, port):
            return (rule.target_host or host, rule.target_port or port)
    return (host, port)


#: Most addresses of one name that are checked (the rest are left out).
MAX_ADDRESSES_PER_NAME = 16


@dataclasses.dataclass(frozen=True, slots=True)
class ResolveRule:
    """curl-style ``--resolve HOST:PORT:ADDR[,ADDR...]``: addresses instead of DNS.

    Empty ``host``/``port`` match anything. Matched against the destination after
    the connect-to rules (as curl does), so SNI and names stay the original ones.
    """

    host: str
    port: int | None
    addresses: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ResolveRule:
        usage = (
            f"--resolve {text!r}: expected HOST:PORT:ADDR[,ADDR...] "
            "(HOST and PORT may be empty, IPv6 addresses in [brackets])"
        )
        host, port, addresses_text = _split_head(text.strip(), usage)
        addresses = []
        for item in addresses_text.split(","):
            item = item.strip()
            if item.startswith("[") and item.endswith("]"):
                item = item[1:-1]
            try:
                addresses.append(ipaddress.ip_address(item).compressed)
            except ValueError:
                raise UsageError(f"{usage}; {item!r} is not an IP address") from None
        return cls(
            host=host.lower().rstrip("."),
            port=_parse_port(port, text, option="--resolve"),
            addresses=tuple(addresses),
        )

    def matches(self, host: str, port: int) -> bool:
        return (not self.host or self.host == host.lower()) and (
            self.port is None or self.port == port
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else str(self.port)
        addresses = ",".join(f"[{a}]" if ":" in a else a for a in self.addresses)
        return f"{host}:{port}:{addresses}"


def resolve_addresses(rules: Sequence[ResolveRule], host: str, port: int) -> tuple[str, ...] | None:
    """The addresses the first matching ``--resolve`` rule gives, ``None`` = use DNS."""
    for rule in rules:
        if rule.matches(host, port):
            return rule.addresses
    return None


def parse_resolve_rules(texts: Sequence[str]) -> tuple[ResolveRule, ...]:
    return tuple(ResolveRule.parse(t) for t in texts if t.strip())


def parse_dns_server(text: str) -> tuple[str, int]:
    """``IP:PORT`` or ``[v6]:PORT`` (port 53 when left out) of ``DOMAINCHECK_DNS_SERVER``."""
    text = text.strip()
    usage = f"DNS server {text!r}: expected IP:PORT, e.g. 127.0.0.1:5353"
    if text.startswith("["):
        address, bracket, after = text[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise UsageError(usage)
        port = after[1:]
    elif text.count(":") > 1:  # an IPv6 address without brackets: no port
        address, port = text, ""
    else:
        address, _, port = text.partition(":")
    try:
        address = ipaddress.ip_address(address).compressed
    except ValueError:
        raise UsageError(f"{usage} ({address!r} is not an IP address)") from None
    number = _parse_port(port or "53", text, option="DNS server")
    assert number is not None
    return address, number


def _split_head(text: str, usage: str) -> tuple[str, str, str]:
    """``HOST:PORT:REST`` with HOST possibly in [brackets]; REST is left as it is."""
    if text.startswith("["):
        host, bracket, after = text[1:].partition("]")
        if not bracket or not after.startswith(":"):
            raise UsageError(usage)
        port, colon, rest = after[1:].partition(":")
    else:
        host, colon, after = text.partition(":")
        port, colon2, rest = after.partition(":")
        colon = colon and colon2
    if not colon or not rest:
        raise UsageError(usage)
    return host, port, rest


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: Seconds between two queries to one WHOIS server, unless a server needs more.
DEFAULT_WHOIS_PACE_SECONDS = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class WhoisServer:
    """``--whois-server TLD=HOST:PORT``: where to ask about names under ``tld``."""

    #: Lower case, no leading dot: ``"io"``, ``"co.uk"``.
    tld: str
    host: str
    port: int = 43

    @classmethod
    def parse(cls, text: str) -> WhoisServer:
        tld, sep, address = text.strip().partition("=")
        tld = tld.strip().strip(".").lower()
        fields = _split_rule(address.strip()) if sep else []
        if not tld or not fields or not fields[0] or len(fields) > 2:
            raise UsageError(
                f"--whois-server {text!r}: expected TLD=HOST:PORT, e.g. io=127.0.0.1:4343"
            )
        port = fields[1] if len(fields) == 2 else "43"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--whois-server {text!r}: {port!r} is not a port number (1-65535)")
        return cls(tld=tld, host=fields[0], port=int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.tld}={host}:{self.port}"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How to check; one immutable value passed from front end to engine."""

    threshold_days: int = DEFAULT_THRESHOLD_DAYS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    ca_file: Path | None = None
    connect_to: tuple[ConnectRule, ...] = ()
    #: Path or http(s) URL of the IANA bootstrap file; ``None`` = cached/bundled.
    rdap_bootstrap: str | None = None
    check_tls: bool = True
    check_rdap: bool = True
    #: Refuse to connect to private, loopback, link-local or reserved addresses unless
    #: a ``connect_to`` rule (the operator's own configuration) sends it there. Off
    #: for the CLI and the desktop; the backend turns it on.
    public_addresses_only: bool = False
    #: Share of a certificate's lifetime left at which it is expiring (0 = rule off).
    lifetime_fraction: float = DEFAULT_LIFETIME_FRACTION
    #: ACME directory asked about every certificate's renewal window (ARI), instead
    #: of the shipped table of known CAs (tests, private ACME CAs).
    acme_directory: str | None = None
    #: Ask the CRL/OCSP of each certificate whether it was revoked.
    check_revocation: bool = True
    #: Fall back to WHOIS (port 43) where RDAP has no expiry; needs ``check_rdap``.
    check_whois: bool = True
    #: ``--whois-server`` overrides: TLD (``"io"``, ``"co.uk"``) → WHOIS server.
    whois_servers: tuple[WhoisServer, ...] = ()
    #: Seconds between two queries to one WHOIS server (at least; some get more).
    whois_pace_seconds: float = DEFAULT_WHOIS_PACE_SECONDS
    #: ``--resolve`` rules: addresses instead of DNS; the first match wins.
    resolve: tuple[ResolveRule, ...] = ()
    #: Check only the first address of a name that answers (the old behaviour).
    first_address_only: bool = False
    #: ``--starttls``: the protocol of bare ``host:port`` targets (``None`` = TLS).
    starttls: str | None = None
    #: ``--mx``: also check the mail servers (MX hosts) of every bare name.
    mx: bool = False
    #: ``(IP, port)`` of the DNS server asked instead of the system's resolver.
    dns_server: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        if self.threshold_days < 0:
            raise UsageError("threshold must be 0 days or more")
        if not 0 <= self.lifetime_fraction <= 1:  # also refuses nan
            raise UsageError("lifetime fraction must be between 0 (off) and 1, e.g. 0.33")
        if self.acme_directory is not None and not self.acme_directory.startswith(
            ("https://", "http://")
        ):
            raise UsageError(f"ACME directory must be an http(s) URL, not {self.acme_directory!r}")
        if not 0 < self.timeout_seconds < math.inf:  # also refuses nan and inf
            raise UsageError("timeout must be a number of seconds more than 0")
        if not 0 < self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if not 0 <= self.whois_pace_seconds < math.inf:
            raise UsageError("WHOIS pace must be a number of seconds, 0 or more")
        if self.starttls is not None:
            from core.starttls import STARTTLS_PROTOCOLS  # late: not needed otherwise

            if self.starttls not in STARTTLS_PROTOCOLS:
                raise UsageError(
                    f"unknown STARTTLS protocol {self.starttls!r}"
                    f" (one of {', '.join(STARTTLS_PROTOCOLS)})"
                )
        if self.ca_file is not None and not self.ca_file.is_file():
            what = "is not a file" if self.ca_file.exists() else "not found"
            raise UsageError(f"CA file {what}: {self.ca_file}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``DOMAINCHECK_*`` variables (unset or empty = default)."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name, "").strip()
            return value or None

        kwargs: dict[str, object] = {}
        if (value := get("THRESHOLD")) is not None:
            kwargs["threshold_days"] = _env_number(int, "THRESHOLD", value)
        if (value := get("TIMEOUT")) is not None:
            kwargs["timeout_seconds"] = _env_number(float, "TIMEOUT", value)
        if (value := get("CONCURRENCY")) is not None:
            kwargs["concurrency"] = _env_number(int, "CONCURRENCY", value)
        if (value := get("CA_FILE")) is not None:
            kwargs["ca_file"] = Path(value).expanduser()
        if (value := get("CONNECT_TO")) is not None:
            kwargs["connect_to"] = parse_connect_rules(value.split(","))
        if (value := get("RDAP_BOOTSTRAP")) is not None:
            kwargs["rdap_bootstrap"] = value
        if (value := get("LIFETIME_FRACTION")) is not None:
            kwargs["lifetime_fraction"] = _env_number(float, "LIFETIME_FRACTION", value)
        if (value := get("ACME_DIRECTORY")) is not None:
            kwargs["acme_directory"] = value
        if (value := get("WHOIS_SERVERS")) is not None:
            kwargs["whois_servers"] = parse_whois_servers(value.split(","))
        if (value := get("WHOIS_PACE")) is not None:
            kwargs["whois_pace_seconds"] = _env_number(float, "WHOIS_PACE", value)
        if (value := get("RESOLVE")) is not None:
            kwargs["resolve"] = parse_resolve_rules(value.split(";"))
        if (value := get("DNS_SERVER")) is not None:
            kwargs["dns_server"] = parse_dns_server(value)
        if (value := get("FIRST_ADDRESS_ONLY")) is not None:
            kwargs["first_address_only"] = _env_flag("FIRST_ADDRESS_ONLY", value)
        if (value := get("STARTTLS")) is not None:
            kwargs["starttls"] = value.lower()
        if (value := get("MX")) is not None:
            kwargs["mx"] = _env_flag("MX", value)
        return cls(**kwargs)  # type: ignore[arg-type]


def parse_connect_rules(texts: Sequence[str]) -> tuple[ConnectRule, ...]:
    return tuple(ConnectRule.parse(t) for t in texts if t.strip())


def parse_whois_servers(texts: Sequence[str]) -> tuple[WhoisServer, ...]:
    return tuple(WhoisServer.parse(t) for t in texts if t.strip())


def _env_flag(name: str, value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise UsageError(f"{ENV_PREFIX}{name}={value!r}: use 1 or 0")


def _env_number(kind: type[int] | type[float], name: str, value: str) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise UsageError(f"{ENV_PREFIX}{name}={value!r} is not a number") from None
