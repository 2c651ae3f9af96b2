"""Settings from DOMAINCHECK_* and the curl-style --connect-to rules (core/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConnectRule, Settings, parse_connect_rules, resolve_connect_to
from core.errors import UsageError


def test_rule_with_all_fields() -> None:
    rule = ConnectRule.parse("example.com:443:127.0.0.1:8443")
    assert rule == ConnectRule("example.com", 443, "127.0.0.1", 8443)
    assert str(rule) == "example.com:443:127.0.0.1:8443"


def test_empty_fields_match_anything_and_keep_the_original() -> None:
    rules = parse_connect_rules(["::127.0.0.1:9000", "a.test:::8443"])
    assert resolve_connect_to(rules, "x.test", 443) == ("127.0.0.1", 9000)
    rules = parse_connect_rules(["a.test:::8443"])
    assert resolve_connect_to(rules, "a.test", 443) == ("a.test", 8443)
    assert resolve_connect_to(rules, "b.test", 443) == ("b.test", 443)


def test_first_matching_rule_wins() -> None:
    rules = parse_connect_rules(["a.test:443:127.0.0.2:1", "::127.0.0.3:2"])
    assert resolve_connect_to(rules, "a.test", 443) == ("127.0.0.2", 1)
    assert resolve_connect_to(rules, "a.test", 8443) == ("127.0.0.3", 2)


def test_ipv6_in_brackets() -> None:
    rule = ConnectRule.parse("[2001:db8::1]:443:[::1]:8443")
    assert rule == ConnectRule("2001:db8::1", 443, "::1", 8443)
    assert str(rule) == "[2001:db8::1]:443:[::1]:8443"


def test_host_matching_is_case_insensitive_for_the_rule() -> None:
    assert ConnectRule.parse("Example.COM.:443::").host == "example.com"


@pytest.mark.parametrize("text", ["a:b", "a:443:b", "a:99999:b:1", "a:443:b:x", "[::1:443:b:1"])
def test_bad_rules_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="connect-to"):
        ConnectRule.parse(text)


def test_from_env(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env(
        {
            "DOMAINCHECK_TIMEOUT": "2.5",
            "DOMAINCHECK_CONCURRENCY": "7",
            "DOMAINCHECK_THRESHOLD": "14",
            "DOMAINCHECK_CA_FILE": str(ca),
            "DOMAINCHECK_CONNECT_TO": "a.test:443:127.0.0.1:1, ::127.0.0.1:2",
            "DOMAINCHECK_RDAP_BOOTSTRAP": "/tmp/boot.json",
        }
    )
    assert settings.timeout_seconds == 2.5
    assert settings.concurrency == 7
    assert settings.threshold_days == 14
    assert settings.ca_file == ca
    assert [str(r) for r in settings.connect_to] == ["a.test:443:127.0.0.1:1", "::127.0.0.1:2"]
    assert settings.rdap_bootstrap == "/tmp/boot.json"


def test_from_env_defaults_and_empty_values() -> None:
    assert Settings.from_env({"DOMAINCHECK_TIMEOUT": ""}) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOMAINCHECK_TIMEOUT": "soon"}, "not a number"),
        ({"DOMAINCHECK_TIMEOUT": "0"}, "timeout"),
        ({"DOMAINCHECK_CONCURRENCY": "0"}, "concurrency"),
        ({"DOMAINCHECK_THRESHOLD": "-1"}, "threshold"),
        ({"DOMAINCHECK_CA_FILE": "/nonexistent/ca.pem"}, "CA file not found"),
    ],
)
def test_bad_env_values_are_usage_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize("value", ["inf", "nan", "-1"])
def test_timeout_must_be_finite_and_positive(value: str) -> None:
    with pytest.raises(UsageError, match="timeout"):
        Settings.from_env({"DOMAINCHECK_TIMEOUT": value})


def test_ca_file_that_is_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a file"):
        Settings(ca_file=tmp_path)
