"""``--resolve HOST:PORT:ADDR[,ADDR...]`` and ``DOMAINCHECK_RESOLVE``: curl's rules."""

from __future__ import annotations

import asyncio
import re

import pytest

from core.checker import check_all
from core.config import (
    ConnectRule,
    ResolveRule,
    Settings,
    parse_resolve_rules,
    resolve_addresses,
)
from core.errors import UsageError
from core.models import Status, Target
from tests.helpers.endpoint_world import MIXED_HOST, EndpointWorld


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("example.com:443:192.0.2.1", ResolveRule("example.com", 443, ("192.0.2.1",))),
        (
            "Example.COM.:443:192.0.2.1,192.0.2.2",
            ResolveRule("example.com", 443, ("192.0.2.1", "192.0.2.2")),
        ),
        ("::192.0.2.1", ResolveRule("", None, ("192.0.2.1",))),
        (
            "example.com::[2001:db8::1],192.0.2.1",
            ResolveRule("example.com", None, ("2001:db8::1", "192.0.2.1")),
        ),
        ("[2001:db8::5]:8443:[::1]", ResolveRule("2001:db8::5", 8443, ("::1",))),
        (
            "a.example:25: 127.0.0.2 , 127.0.0.3",
            ResolveRule("a.example", 25, ("127.0.0.2", "127.0.0.3")),
        ),
    ],
)
def test_rules_parse_like_curl(text: str, rule: ResolveRule) -> None:
    assert ResolveRule.parse(text) == rule
    assert ResolveRule.parse(str(rule)) == rule  # str() writes it back


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("example.com", "expected HOST:PORT:ADDR[,ADDR...]"),
        ("example.com:443", "expected HOST:PORT:ADDR[,ADDR...]"),
        ("example.com:443:", "expected HOST:PORT:ADDR[,ADDR...]"),
        ("example.com:https:192.0.2.1", "'https' is not a port number"),
        ("example.com:443:mirror.example", "'mirror.example' is not an IP address"),
        ("[2001:db8::5:443:192.0.2.1", "expected HOST:PORT:ADDR[,ADDR...]"),
    ],
)
def test_bad_rules_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=re.escape(words)):
        ResolveRule.parse(text)


def test_first_match_wins_and_empty_fields_match_anything() -> None:
    rules = parse_resolve_rules(
        ["a.example:443:192.0.2.1", "a.example::192.0.2.2", ":25:192.0.2.3", "::192.0.2.4", " "]
    )

    assert resolve_addresses(rules, "a.example", 443) == ("192.0.2.1",)
    assert resolve_addresses(rules, "A.example", 8443) == ("192.0.2.2",)
    assert resolve_addresses(rules, "b.example", 25) == ("192.0.2.3",)
    assert resolve_addresses(rules, "b.example", 443) == ("192.0.2.4",)
    assert resolve_addresses(rules[:1], "b.example", 443) is None


def test_the_environment_takes_rules_separated_by_semicolons() -> None:
    settings = Settings.from_env(
        {"DOMAINCHECK_RESOLVE": "a.example:443:192.0.2.1,192.0.2.2; [::1]:25:[::1]"}
    )

    assert settings.resolve == (
        ResolveRule("a.example", 443, ("192.0.2.1", "192.0.2.2")),
        ResolveRule("::1", 25, ("::1",)),
    )


def test_the_environment_refuses_a_bad_rule() -> None:
    with pytest.raises(UsageError, match=re.escape("--resolve 'a.example:443:nowhere'")):
        Settings.from_env({"DOMAINCHECK_RESOLVE": "a.example:443:nowhere"})


def _status(endpoints: EndpointWorld, target: Target, **overrides: object) -> list[str]:
    settings = endpoints.settings(
        timeout_seconds=3, check_rdap=False, check_revocation=False, **overrides
    )
    (result,) = asyncio.run(check_all([target], settings))
    assert result.tls is not None
    return [e.address for e in result.tls.endpoints] or [
        "error" if result.status is Status.ERROR else "one"
    ]


def test_rules_are_matched_after_connect_to(endpoint_world: EndpointWorld) -> None:
    """The world's connect-to rule changes mixed.test's port: a --resolve rule for
    port 443 (the port asked for) no longer matches, one for the new port does."""
    port = endpoint_world.port
    for_new_port = ResolveRule(MIXED_HOST, port, ("127.0.0.3", "127.0.0.2"))
    for_old_port = ResolveRule(MIXED_HOST, 443, ("127.0.0.4",))

    assert _status(endpoint_world, Target(MIXED_HOST), resolve=(for_new_port,)) == [
        "127.0.0.2",
        "127.0.0.3",
    ]
    # Unmatched, the name goes to DNS, which does not know it: an error.
    assert _status(endpoint_world, Target(MIXED_HOST), resolve=(for_old_port,)) == ["error"]


def test_a_rule_sends_a_name_without_any_dns(endpoint_world: EndpointWorld) -> None:
    """No DNS server, no connect-to: the conftest guard fails every real lookup, so
    reaching the server proves the rule alone gave the address."""
    port = endpoint_world.port
    settings = endpoint_world.world.settings(
        connect_to=(),
        resolve=(ResolveRule("nowhere.test", port, ("127.0.0.2",)),),
        timeout_seconds=3,
        check_rdap=False,
        check_revocation=False,
    )
    (result,) = asyncio.run(check_all([Target("nowhere.test", port)], settings))

    assert result.tls is not None
    assert result.tls.error is None
    assert result.tls.subject == "localhost"  # the default certificate: SNI unknown there
    assert endpoint_world.servers[0].server_names[-1] == "nowhere.test"


def test_connect_to_host_is_what_rules_match(endpoint_world: EndpointWorld) -> None:
    rule = ConnectRule("alias.test", None, "mixed.test", endpoint_world.port)
    settings = endpoint_world.settings(
        connect_to=(rule, *endpoint_world.settings().connect_to),
        timeout_seconds=3,
        check_rdap=False,
        check_revocation=False,
    )
    (result,) = asyncio.run(check_all([Target("alias.test")], settings))

    assert result.tls is not None
    assert [e.address for e in result.tls.endpoints] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert all(e.tls.hostname_match is False for e in result.tls.endpoints)  # SNI alias.test


def test_endpoint_options_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DOMAINCHECK_FIRST_ADDRESS_ONLY": "1",
            "DOMAINCHECK_MX": "yes",
            "DOMAINCHECK_STARTTLS": "SMTP",
        }
    )

    assert (settings.first_address_only, settings.mx, settings.starttls) == (True, True, "smtp")
    assert Settings.from_env({"DOMAINCHECK_MX": "0"}).mx is False
    with pytest.raises(UsageError, match="use 1 or 0"):
        Settings.from_env({"DOMAINCHECK_MX": "maybe"})
    with pytest.raises(UsageError, match="unknown STARTTLS protocol 'gopher'"):
        Settings.from_env({"DOMAINCHECK_STARTTLS": "gopher"})


def test_rules_leave_ip_literals_alone(endpoint_world: EndpointWorld) -> None:
    """A catch-all rule gives names addresses; an IP address is already one."""
    port = endpoint_world.port
    settings = endpoint_world.world.settings(
        connect_to=(),
        resolve=(ResolveRule("", None, ("127.0.0.5",)),),  # nothing listens there
        timeout_seconds=3,
        check_rdap=False,
        check_revocation=False,
    )
    (result,) = asyncio.run(check_all([Target("127.0.0.2", port, is_ip=True)], settings))

    assert result.tls is not None
    assert result.tls.error is None
