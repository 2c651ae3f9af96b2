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


def _split_rule(text: str) -> list[str]:
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
        raise UsageError(f"--connect-to {text!r}: unclosed '['")
    return fields


def _parse_port(text: str, rule: str) -> int | None:
    if text == "":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"--connect-to {rule!r}: {text!r} is not a port number (1-65535)")
    return int(text)


def resolve_connect_to(rules: Sequence[ConnectRule], host: str, port: int) -> tuple[str, int]:
    """Where to open the TCP connection for ``host:port``: the first matching rule wins."""
    for rule in rules:
        if rule.matches(host, port):
            return (rule.target_host or host, rule.target_port or port)
    return (host, port)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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

    def __post_init__(self) -> None:
        if self.threshold_days < 0:
            raise UsageError("threshold must be 0 days or more")
        if not 0 < self.timeout_seconds < math.inf:  # also refuses nan and inf
            raise UsageError("timeout must be a number of seconds more than 0")
        if not 0 < self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
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
        return cls(**kwargs)  # type: ignore[arg-type]


def parse_connect_rules(texts: Sequence[str]) -> tuple[ConnectRule, ...]:
    return tuple(ConnectRule.parse(t) for t in texts if t.strip())


def _env_number(kind: type[int] | type[float], name: str, value: str) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise UsageError(f"{ENV_PREFIX}{name}={value!r} is not a number") from None
