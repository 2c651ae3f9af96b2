"""``mx:example.com``, ``--mx`` and the new target forms: URLs of services, ``--starttls``."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.dns import DnsResolver
from core.domains import ParseResult, parse_line, parse_lines, with_protocol
from core.models import CertInfo, CheckResult, InputError, Target
from core.mx import MX_SOURCE, add_mx, expand, has_mx
from tests.helpers.endpoint_world import (
    MAIL_DOMAIN,
    MX_HOSTS,
    NO_MX_DOMAIN,
    NULL_MX_DOMAIN,
    EndpointWorld,
)


@pytest.mark.parametrize(
    ("text", "protocol", "host", "port", "label"),
    [
        ("smtp://mx1.example.com", "smtp", "mx1.example.com", 25, "smtp://mx1.example.com"),
        (
            "SMTP://mx1.example.com:587",
            "smtp",
            "mx1.example.com",
            587,
            "smtp://mx1.example.com:587",
        ),
        ("imap://mail.example.com", "imap", "mail.example.com", 143, "imap://mail.example.com"),
        ("pop3://mail.example.com", "pop3", "mail.example.com", 110, "pop3://mail.example.com"),
        ("ftp://files.example.com/pub", "ftp", "files.example.com", 21, "ftp://files.example.com"),
        ("xmpp://chat.example.com", "xmpp", "chat.example.com", 5222, "xmpp://chat.example.com"),
        (
            "xmpp-server://chat.example.com",
            "xmpp-server",
            "chat.example.com",
            5269,
            "xmpp-server://chat.example.com",
        ),
        ("ldap://dir.example.com", "ldap", "dir.example.com", 389, "ldap://dir.example.com"),
        (
            "postgres://db.example.com/app",
            "postgres",
            "db.example.com",
            5432,
            "postgres://db.example.com",
        ),
        ("mysql://user@db.example.com", "mysql", "db.example.com", 3306, "mysql://db.example.com"),
        ("smtps://mail.example.com", "smtps", "mail.example.com", 465, "smtps://mail.example.com"),
        ("imaps://mail.example.com", "imaps", "mail.example.com", 993, "imaps://mail.example.com"),
        ("pop3s://mail.example.com", "pop3s", "mail.example.com", 995, "pop3s://mail.example.com"),
        ("ldaps://dir.example.com", "ldaps", "dir.example.com", 636, "ldaps://dir.example.com"),
        ("https://www.example.com", "https", "www.example.com", 443, "www.example.com"),
        ("smtp://[2001:db8::25]", "smtp", "2001:db8::25", 25, "smtp://[2001:db8::25]"),
        ("mx:Example.COM", "mx", "example.com", 25, "mx:example.com"),
        ("example.com", "tls", "example.com", 443, "example.com"),
    ],
)
def test_service_urls_and_mx_parse_into_protocol_host_and_port(
    text: str, protocol: str, host: str, port: int, label: str
) -> None:
    target = parse_line(text)

    assert target is not None
    assert (target.protocol, target.host, target.port, target.label) == (
        protocol,
        host,
        port,
        label,
    )


def test_keys_keep_protocols_apart_but_https_is_a_bare_name() -> None:
    result = parse_lines(
        [
            "mail.example.com",
            "https://mail.example.com/",
            "smtp://mail.example.com",
            "smtp://mail.example.com:25",
            "smtps://mail.example.com",
            "mx:example.com",
        ],
        "<args>",
    )

    assert [t.key for t in result.targets] == [
        ("mail.example.com", 443),
        ("smtp://mail.example.com", 25),
        ("smtps://mail.example.com", 465),
        ("mx:example.com", 25),
    ]
    assert parse_line("https://mail.example.com") == Target("mail.example.com")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("gopher://example.com", "unsupported URL scheme 'gopher://'"),
        ("mx:", "no domain after 'mx:'"),
        ("mx:192.0.2.1", "'mx:' takes a mail domain, not an address or port"),
        ("mx:example.com:25", "'mx:' takes a mail domain, not an address or port"),
        ("mx:intranet", "'intranet' has no dot"),
    ],
)
def test_bad_forms_are_rejected_in_words(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_line(text)


def test_starttls_applies_to_direct_tls_targets_only() -> None:
    parsed = parse_lines(
        [
            "mail.example.com",
            "mail.example.com:587",
            "imaps://mail.example.com",
            "smtp://mail.example.com",
        ],
        "<args>",
    )

    result = with_protocol(parsed, "smtp")

    assert [t.label for t in result.targets] == [
        "smtp://mail.example.com",  # the bare name gets SMTP's port, then merges
        "smtp://mail.example.com:587",
        "imaps://mail.example.com",
    ]


def test_starttls_refuses_an_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unknown STARTTLS protocol 'smtps'"):
        with_protocol(ParseResult([], []), "smtps")


def test_mx_flag_adds_every_bare_name_once() -> None:
    parsed = parse_lines(
        [
            "example.com",
            "example.com:8443",
            "192.0.2.1",
            "smtp://mail.example.com",
            "mx:example.com",
        ],
        "<args>",
    )

    result = add_mx(parsed)

    assert [t.label for t in result.targets] == [
        "example.com",
        "example.com:8443",
        "192.0.2.1",
        "smtp://mail.example.com",
        "mx:example.com",
    ]
    assert has_mx(result)


def test_mx_expands_to_one_smtp_target_per_host_and_reports_the_rest(
    endpoint_world: EndpointWorld,
) -> None:
    parsed = parse_lines(
        [
            "first.example",
            f"mx:{MAIL_DOMAIN}",
            f"mx:{NULL_MX_DOMAIN}",
            f"mx:{NO_MX_DOMAIN}",
            "mx:unknown.test",
            f"smtp://{MX_HOSTS[0]}",  # already there: not twice
        ],
        "<args>",
    )
    resolver = DnsResolver(("127.0.0.1", endpoint_world.dns.port), timeout_seconds=2)

    result = asyncio.run(expand(parsed, resolver))

    assert [(t.label, t.serves) for t in result.targets] == [
        ("first.example", ""),
        (f"smtp://{MX_HOSTS[0]}", MAIL_DOMAIN),
        (f"smtp://{MX_HOSTS[1]}", MAIL_DOMAIN),
    ]
    assert not has_mx(result)
    assert result.errors == [
        InputError(
            MX_SOURCE, 1, f"mx:{NULL_MX_DOMAIN}", f"{NULL_MX_DOMAIN} accepts no mail (null MX)"
        ),
        InputError(
            MX_SOURCE,
            2,
            f"mx:{NO_MX_DOMAIN}",
            f"{NO_MX_DOMAIN} has no MX record (mail would go to its own address;"
            f" check it as smtp://{NO_MX_DOMAIN})",
        ),
        InputError(
            MX_SOURCE,
            3,
            "mx:unknown.test",
            "could not resolve the mail servers of unknown.test (no such domain)",
        ),
    ]


def test_expand_without_mx_entries_asks_no_dns() -> None:
    parsed = parse_lines(["example.com"], "<args>")
    resolver = DnsResolver(("127.0.0.1", 9), timeout_seconds=0.1)  # would fail if asked

    assert asyncio.run(expand(parsed, resolver)) is parsed


def test_the_watchlist_keeps_protocols_and_mail_domains(tmp_path: Path) -> None:
    from core.storage import Watchlist

    targets = [
        Target("mail.example.com"),
        Target("mail.example.com", 25, protocol="smtp", serves="example.com"),
        Target("mail.example.com", 993, protocol="imaps"),
    ]
    result = CheckResult(targets[1], CertInfo(error="refused"), None, datetime.now(UTC))
    with Watchlist(tmp_path / "watch.sqlite3") as watchlist:
        watchlist.add(targets)
        watchlist.save_results([result])
    with Watchlist(tmp_path / "watch.sqlite3") as watchlist:
        stored = watchlist.targets()
        last = watchlist.last_result(targets[1].key)

    assert [t.key for t in stored] == [t.key for t in targets]
    assert [t.protocol for t in stored] == ["tls", "smtp", "imaps"]
    assert [t.host for t in stored] == ["mail.example.com"] * 3
    assert last is not None
    assert (last.target.label, last.target.serves) == ("smtp://mail.example.com", "example.com")
