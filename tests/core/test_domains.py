"""Tests for core.domains: every accepted form, every rejection, files and streams."""

from __future__ import annotations

import io
import os
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import domains
from core.domains import (
    ParseResult,
    merge,
    normalize_host,
    parse_line,
    parse_lines,
    parse_text,
    read_file,
    read_stream,
)
from core.errors import InputFileError
from core.models import InputError, Target

# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", Target("example.com")),
        ("sub.example.co.uk", Target("sub.example.co.uk")),
        ("EXAMPLE.Com", Target("example.com")),
        ("example.com.", Target("example.com")),
        ("Example.COM.", Target("example.com")),
        ("  example.com\t", Target("example.com")),
        ("\u200bexample.com\u00a0", Target("example.com")),
        ("example.com:8443", Target("example.com", 8443)),
        ("example.com.:8443", Target("example.com", 8443)),
        ("EXAMPLE.COM:443", Target("example.com", 443)),
        ("example.com:08443", Target("example.com", 8443)),
        ("example.com:65535", Target("example.com", 65535)),
        ("example.com:1", Target("example.com", 1)),
        ("https://example.com:8443/path?q", Target("example.com", 8443)),
        ("https://example.com", Target("example.com")),
        ("https://example.com/", Target("example.com")),
        ("http://example.com/login", Target("example.com", 443)),
        ("http://example.com:80/", Target("example.com", 80)),
        ("HTTPS://EXAMPLE.COM/", Target("example.com")),
        ("wss://example.com/socket", Target("example.com")),
        ("https://user:secret@example.com/", Target("example.com")),
        ("https://example.com?q=1", Target("example.com")),
        ("https://example.com#top", Target("example.com")),
        ("https://example.com/#/app # our SPA", Target("example.com")),
        ("example.com/login", Target("example.com")),
        ("example.com:8443/login?next=/", Target("example.com", 8443)),
        ("example.com # production", Target("example.com")),
        ("example.com#production", Target("example.com")),
        ("example.com:8443  # staging", Target("example.com", 8443)),
        ("*.example.com", Target("example.com")),
        ("*.example.com:8443", Target("example.com", 8443)),
        ("https://*.example.com/", Target("example.com")),
        ("r3---sn-abc.googlevideo.com", Target("r3---sn-abc.googlevideo.com")),
        ("a.b.c.d.example", Target("a.b.c.d.example")),
        ("123.example.com", Target("123.example.com")),
        ("example.3com", Target("example.3com")),
        ("example。com", Target("example.com")),
        ("ｅｘａｍｐｌｅ.ｃｏｍ", Target("example.com")),
    ],
)
def test_parse_line_accepts(text: str, expected: Target) -> None:
    assert parse_line(text) == expected


@pytest.mark.parametrize(
    ("text", "host", "display"),
    [
        ("Bücher.Example", "xn--bcher-kva.example", "bücher.example"),
        ("bücher.example", "xn--bcher-kva.example", "bücher.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example"),
        ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example", "bücher.example"),
        (
            "xn--bcher-kva.Bücher.example",
            "xn--bcher-kva.xn--bcher-kva.example",
            "bücher.bücher.example",
        ),
        ("straße.de", "xn--strae-oqa.de", "straße.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah", "例え.テスト"),
        ("МОСКВА.РФ", "xn--80adxhks.xn--p1ai", "москва.рф"),
        ("https://münchen.de:8443/karte", "xn--mnchen-3ya.de", "münchen.de"),
        ("*.ÆØÅ.no", "xn--5cab8c.no", "æøå.no"),
        ("bücher.example.", "xn--bcher-kva.example", "bücher.example"),
    ],
)
def test_idn_is_checked_as_a_label_and_shown_as_unicode(text: str, host: str, display: str) -> None:
    target = parse_line(text)
    assert target is not None
    assert (target.host, target.display, target.is_ip) == (host, display, False)
    assert normalize_host(text.removeprefix("https://").split(":")[0]) == (host, display)


@pytest.mark.parametrize(
    "display",
    ["bücher.example", "straße.de", "例え.テスト", "москва.рф", "æøå.no", "münchen.de"],
)
def test_idn_round_trip(display: str) -> None:
    a_label, shown = normalize_host(display)
    assert a_label.isascii()
    assert shown == display
    assert normalize_host(a_label) == (a_label, display)
    assert normalize_host(display.capitalize()) == (a_label, display)  # "ß".upper() is "SS"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("192.0.2.1", "192.0.2.1", 443),
        ("192.0.2.1:8443", "192.0.2.1", 8443),
        ("192.0.2.1.", "192.0.2.1", 443),
        ("https://192.0.2.1:8443/status", "192.0.2.1", 8443),
        ("[2001:db8::1]:8443", "2001:db8::1", 8443),
        ("[2001:db8::1]", "2001:db8::1", 443),
        ("2001:db8::1", "2001:db8::1", 443),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 443),
        ("https://[2001:db8::1]:8443/", "2001:db8::1", 8443),
        ("::1", "::1", 443),
        ("[::ffff:192.0.2.1]:443", "::ffff:c000:201", 443),
    ],
)
def test_ip_literals(text: str, host: str, port: int) -> None:
    target = parse_line(text)
    assert target == Target(host=host, port=port, display=host, is_ip=True)


@pytest.mark.parametrize("text", ["", "   ", "\t", "# a comment", "   # indented comment", "#"])
def test_blank_and_comment_lines_are_skipped(text: str) -> None:
    assert parse_line(text) is None


# --------------------------------------------------------------------------- rejected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bob@example.com", "looks like an email address, not a domain"),
        ("mailto:bob@example.com", "looks like an email address, not a domain"),
        ("a..b.com", "empty label (two dots in a row)"),
        ("example.com..", "empty label (two dots in a row)"),
        (".example.com", "empty label (starts with a dot)"),
        ("a" * 64 + ".com", "is longer than 63 characters (64)"),
        (("a" * 60 + ".") * 5 + "com", "name is longer than 253 characters (308)"),
        ("ü" * 70 + ".de", "longer than 63 characters once encoded"),
        ("ü" * 2000 + ".de", "name is longer than 253 characters"),
        ("-example.com", "label '-example' starts with a hyphen"),
        ("example-.com", "label 'example-' ends with a hyphen"),
        ("www.example.com-", "label 'com-' ends with a hyphen"),
        ("-bücher.de", "label '-bücher' starts with a hyphen"),
        ("exa mple.com", "contains a space"),
        ("example.com example.org", "contains a space"),
        ("example.com,example.org", "invalid character ','"),
        ("exa_mple.com", "invalid character '_'"),
        ("ex!am$ple.com", "invalid characters '!', '$'"),
        ("exa\x07mple.com", "invalid character U+0007"),
        ("exa😀mple.com", "invalid character '😀' (U+1F600)"),
        ("foo.*.example.com", "invalid character '*'"),
        ('"example.com"', "invalid character '\"'"),
        ("example.com:0", "port 0 is out of range (1-65535)"),
        ("example.com:65536", "port 65536 is out of range (1-65535)"),
        ("example.com:99999999", "port 99999999 is out of range (1-65535)"),
        ("example.com:https", "port 'https' is not a number"),
        ("example.com:-1", "port '-1' is not a number"),
        ("example.com:٤٤٣", "port '٤٤٣' is not a number"),
        ("example.com:", "missing port number after ':'"),
        ("[2001:db8::1]:", "missing port number after ':'"),
        ("[2001:db8::1]:0", "port 0 is out of range"),
        ("localhost", "'localhost' has no dot"),
        ("intranet", "can't be checked on the internet"),
        ("intranet:8443", "'intranet' has no dot"),
        ("*.com", "'com' has no dot"),
        ("gopher://example.com", "unsupported URL scheme 'gopher://'"),
        ("ssh://example.com", "unsupported URL scheme 'ssh://'"),
        ("file:///etc/hosts", "unsupported URL scheme 'file://'"),
        ("https:example.com", "missing '//' after 'https:'"),
        ("https://", "the URL has no host name"),
        ("https:///path", "the URL has no host name"),
        ("/path/only", "no host name before the '/'"),
        (":8443", "no host name before the ':'"),
        ("example.123", "the top-level domain '123' is only digits"),
        ("1.2.3", "'1.2.3' is not a valid IPv4 address"),
        ("192.0.2.256", "'192.0.2.256' is not a valid IPv4 address"),
        ("192.0.2.1:99999", "port 99999 is out of range"),
        ("[example.com]:443", "'example.com' in [brackets] is not an IPv6 address"),
        ("[192.0.2.1]", "'192.0.2.1' in [brackets] is not an IPv6 address"),
        ("[2001:db8::1", "missing ']'"),
        ("[2001:db8::1]x", "unexpected text 'x' after ']'"),
        ("2001:db8::zz", "'2001:db8::zz' is not a valid IPv6 address"),
        ("a:b:c", "write it in brackets"),
        ("fe80::1%eth0", "IPv6 zone IDs ('%eth0') are not supported"),
        ("[fe80::1%25eth0]:443", "IPv6 zone IDs ('%25eth0') are not supported"),
        ("::%]", "IPv6 zone IDs"),
        ("xn--zzzz.example", "'xn--zzzz' is not valid punycode"),
        ("xn--.example", "label 'xn--' ends with a hyphen"),
        ("xn---bbk.example", "'xn---bbk' is not valid punycode"),
        ("xn--ls8h.example", "'xn--ls8h' decodes to '💩' (U+1F4A9)"),
        ("ab--ü.de", "'--' in the 3rd and 4th characters"),
        ("a\u200db.com", "U+200D is not allowed in that position"),
        ("a\u05d0.com", "mixes right-to-left and left-to-right"),
        ("caf\ufffd.example", "not valid UTF-8 text"),
    ],
)
def test_parse_line_rejects_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_line(text)
    reason = str(excinfo.value)
    assert message in reason
    assert "\n" not in reason
    # The same line in a list becomes an InputError naming the source and line.
    result = parse_text(f"# header comment\nok.example\n{text}\n", source="in.txt")
    assert result.targets == [Target("ok.example")]
    assert result.errors == [InputError("in.txt", 3, text.strip(), reason)]


def test_reasons_are_sentences_not_exception_reprs() -> None:
    with pytest.raises(ValueError, match=r"^looks like an email address, not a domain$"):
        parse_line("bob@example.com")
    with pytest.raises(ValueError, match=r"^empty label \(two dots in a row\)$"):
        parse_line("a..b.com")


# --------------------------------------------------------------------------- normalize_host


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Example.COM.", ("example.com", "example.com")),
        ("*.example.com", ("example.com", "example.com")),
        ("Bücher.Example", ("xn--bcher-kva.example", "bücher.example")),
        ("192.0.2.1", ("192.0.2.1", "192.0.2.1")),
        ("[2001:DB8::1]", ("2001:db8::1", "2001:db8::1")),
        ("2001:db8:0::1", ("2001:db8::1", "2001:db8::1")),
    ],
)
def test_normalize_host(text: str, expected: tuple[str, str]) -> None:
    assert normalize_host(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty host name"),
        (".", "empty host name"),
        ("example.com:443", "invalid character ':'"),
        ("a..b", "empty label"),
        ("intranet", "has no dot"),
        ("caf\ufffd.example", "not valid UTF-8 text"),
    ],
)
def test_normalize_host_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_host(text)


# --------------------------------------------------------------------------- parse_text


def test_parse_text_reports_line_numbers_source_and_original_text() -> None:
    text = "\n".join(
        [
            "# my domains",  # 1
            "example.com",  # 2
            "",  # 3
            "  bob@example.com   # the boss",  # 4
            "EXAMPLE.ORG:8443",  # 5
            "a..b.com",  # 6
        ]
    )
    result = parse_text(text, source="list.txt")
    assert result.targets == [Target("example.com"), Target("example.org", 8443)]
    assert result.errors == [
        InputError(
            "list.txt",
            4,
            "bob@example.com   # the boss",
            "looks like an email address, not a domain",
        ),
        InputError("list.txt", 6, "a..b.com", "empty label (two dots in a row)"),
    ]


def test_parse_text_default_source_is_paste() -> None:
    assert parse_text("nope").errors[0].source == "<paste>"


def test_parse_text_deduplicates_keeping_first_seen_order() -> None:
    text = "b.example\na.example\nB.EXAMPLE.\nhttps://a.example/\na.example:8443\nb.example"
    result = parse_text(text)
    assert [str(t) for t in result.targets] == ["b.example", "a.example", "a.example:8443"]
    assert result.errors == []


def test_parse_text_keeps_the_first_spelling_of_a_duplicate() -> None:
    result = parse_text("xn--bcher-kva.example\nBücher.example")
    assert result.targets == [Target("xn--bcher-kva.example", display="bücher.example")]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_parse_text_handles_every_line_ending(newline: str) -> None:
    result = parse_text(newline.join(["example.com", "bad..name.com", "example.org", ""]))
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert [(e.line, e.text) for e in result.errors] == [(2, "bad..name.com")]


def test_parse_text_strips_a_bom() -> None:
    result = parse_text("\ufeffexample.com\r\nexample.org\r\n")
    assert result.targets == [Target("example.com"), Target("example.org")]


def test_unicode_line_separators_do_not_split_lines() -> None:
    # str.splitlines() would split here and shift every later line number.
    result = parse_text("example.com\x0cx\nbad..name.com")
    assert [e.line for e in result.errors] == [1, 2]


def test_parse_text_sniffs_a_pasted_csv_header() -> None:
    result = parse_text("Owner,Domain\nalice,example.com\nbob,example.org:8443\n")
    assert result.targets == [Target("example.com"), Target("example.org", 8443)]


def test_parse_lines_counts_items() -> None:
    result = parse_lines(["example.com", "nope", "example.org"], source="<args>")
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert result.errors == [
        InputError(
            "<args>",
            2,
            "nope",
            "'nope' has no dot: a single-label name can't be checked on the internet "
            "(write the full name, e.g. nope.example.com)",
        )
    ]


def test_parse_lines_accepts_any_iterable() -> None:
    result = parse_lines((line for line in ["example.com", "example.com"]), source="<args>")
    assert result.targets == [Target("example.com")]


# --------------------------------------------------------------------------- merge


def test_merge_deduplicates_across_sources_and_keeps_every_error() -> None:
    first = parse_text("b.example\na.example\nbad..one.com", source="one.txt")
    second = parse_text("c.example\nA.EXAMPLE\nbad..two.com", source="two.txt")
    merged = merge([first, second])
    assert [t.host for t in merged.targets] == ["b.example", "a.example", "c.example"]
    assert [(e.source, e.line) for e in merged.errors] == [("one.txt", 3), ("two.txt", 3)]


def test_merge_of_nothing_is_empty() -> None:
    assert merge([]) == ParseResult([], [])


# --------------------------------------------------------------------------- files


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_read_text_file(tmp_path: Path) -> None:
    path = write(tmp_path / "list.txt", b"# mine\nexample.com\n\nnot a domain\nexample.org\n")
    result = read_file(path)
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert result.errors == [
        InputError(str(path), 4, "not a domain", "contains a space (write one domain per line)")
    ]


def test_read_file_accepts_a_str_path(tmp_path: Path) -> None:
    path = write(tmp_path / "list.txt", b"example.com\n")
    assert read_file(str(path)).targets == [Target("example.com")]


def test_read_file_with_bom_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path / "list.txt", b"\xef\xbb\xbfexample.com\r\nbad..x.com\r\nexample.org\r\n")
    result = read_file(path)
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert [(e.line, e.text) for e in result.errors] == [(2, "bad..x.com")]


def test_read_utf16_file_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "list.txt", "example.com\r\nbücher.example\r\n".encode("utf-16"))
    result = read_file(path)
    assert [t.display for t in result.targets] == ["example.com", "bücher.example"]


def test_latin1_file_yields_its_good_lines(tmp_path: Path) -> None:
    data = "# Liste für Café\nexample.com\ncafé.example\nexample.org\nmünchen.de # Bayern\n"
    path = write(tmp_path / "latin1.txt", data.encode("latin-1"))
    result = read_file(path)
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert [(e.source, e.line, e.error) for e in result.errors] == [
        (str(path), 3, "not valid UTF-8 text"),
        (str(path), 5, "not valid UTF-8 text"),
    ]
    assert result.errors[0].text == "caf\ufffd.example"


def test_binary_file_with_nul_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    with pytest.raises(InputFileError) as excinfo:
        read_file(path)
    message = str(excinfo.value)
    assert message == (
        f"{path}: looks like a binary file, not a list of domains "
        "(save it as plain UTF-8 text or CSV)"
    )
    assert "\n" not in message


def test_binary_file_without_nul_bytes(tmp_path: Path) -> None:
    data = bytes(range(0x80, 0x100)) * 40 + b"\x01\x02\x03" * 100
    path = write(tmp_path / "blob.txt", data)
    with pytest.raises(InputFileError, match="looks like a binary file"):
        read_file(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(InputFileError) as excinfo:
        read_file(path)
    assert str(excinfo.value) == f"{path}: no such file"
    assert isinstance(excinfo.value.__cause__, FileNotFoundError)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as excinfo:
        read_file(tmp_path)
    assert str(excinfo.value) == f"{tmp_path}: is a folder, not a file"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads all")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", b"example.com\n")
    path.chmod(0)
    try:
        with pytest.raises(InputFileError) as excinfo:
            read_file(path)
    finally:
        path.chmod(0o600)
    assert str(excinfo.value) == f"{path}: permission denied"


def test_permission_error_is_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(domains, "open", refuse, raising=False)
    path = tmp_path / "secret.txt"
    with pytest.raises(InputFileError) as excinfo:
        read_file(path)
    assert str(excinfo.value) == f"{path}: permission denied"


def test_other_os_errors_are_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(domains, "open", fail, raising=False)
    path = tmp_path / "list.txt"
    with pytest.raises(InputFileError) as excinfo:
        read_file(path)
    assert str(excinfo.value) == f"{path}: cannot read the file (Input/output error)"


def test_huge_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domains, "MAX_FILE_BYTES", 20)
    path = write(tmp_path / "list.txt", b"example.com\nexample.org\n")
    with pytest.raises(InputFileError, match=r"list.txt: too large for a list of domains"):
        read_file(path)
    with pytest.raises(InputFileError, match=r"^<stdin>: too large"):
        read_stream(io.BytesIO(path.read_bytes()))


def test_empty_file(tmp_path: Path) -> None:
    assert read_file(write(tmp_path / "empty.txt", b"")) == ParseResult([], [])


# --------------------------------------------------------------------------- CSV


def test_csv_with_header_uses_the_domain_column(tmp_path: Path) -> None:
    data = b"Owner,DOMAIN,Notes\nalice,example.com,main site\nbob,example..org,typo\ncarol,,\n"
    path = write(tmp_path / "list.csv", data)
    result = read_file(path)
    assert result.targets == [Target("example.com")]
    assert result.errors == [
        InputError(str(path), 3, "example..org", "empty label (two dots in a row)")
    ]


@pytest.mark.parametrize("header", ["domain", "Host", "URL", "hostname", "Domain Name", "domains"])
def test_csv_header_names(tmp_path: Path, header: str) -> None:
    path = write(tmp_path / "list.csv", f"id,{header}\n1,example.com\n".encode())
    assert read_file(path).targets == [Target("example.com")]


def test_csv_prefers_the_domain_column_to_the_url_column(tmp_path: Path) -> None:
    path = write(tmp_path / "list.csv", b"url,domain\nhttps://a.example/,b.example\n")
    assert read_file(path).targets == [Target("b.example")]


def test_csv_column_of_urls_and_host_ports(tmp_path: Path) -> None:
    data = b"name,url\none,https://example.com:8443/login\ntwo,example.org:8443\nthree,[2001:db8::1]:8443\n"
    result = read_file(write(tmp_path / "list.csv", data))
    assert result.targets == [
        Target("example.com", 8443),
        Target("example.org", 8443),
        Target("2001:db8::1", 8443, is_ip=True),
    ]


def by_key(targets: list[Target]) -> list[tuple[str, int, str]]:
    return [(t.host, t.port, t.group) for t in targets]


def test_csv_group_column_gives_each_target_its_group(tmp_path: Path) -> None:
    data = (
        "Domain;Group;notes\n"
        "shop.example;Acme;x\n"
        "blog.example; Beta, Inc \n"
        "plain.example;;\n"
        "https://bücher.example/;Acme\n"
        "shop.example;Other\n"  # a duplicate: the first row wins, group included
        "bad..example;Acme\n"
    )
    result = read_file(write(tmp_path / "clients.csv", data.encode()))
    assert by_key(result.targets) == [
        ("shop.example", 443, "Acme"),
        ("blog.example", 443, "Beta, Inc"),
        ("plain.example", 443, ""),
        ("xn--bcher-kva.example", 443, "Acme"),
    ]
    assert [(e.line, e.text) for e in result.errors] == [(7, "bad..example")]


def test_pasted_csv_with_a_group_column(tmp_path: Path) -> None:
    result = parse_text("domain,group\na.example,Acme\n")
    assert by_key(result.targets) == [("a.example", 443, "Acme")]


def test_plain_lists_and_headerless_csv_have_no_group(tmp_path: Path) -> None:
    assert by_key(parse_text("a.example\ngroup.example\n").targets) == [
        ("a.example", 443, ""),
        ("group.example", 443, ""),
    ]
    path = write(tmp_path / "list.csv", b"a.example,Acme\n")
    assert by_key(read_file(path).targets) == [("a.example", 443, "")]


def test_csv_port_column_sets_the_port(tmp_path: Path) -> None:
    data = (
        b"domain,port,group\n"
        b"a.example,8443,G\n"
        b"a.example,,G\n"  # another target: port 443
        b"b.example:9443,,\n"  # an empty port cell keeps the port in the name
        b"c.example:9443,8443,\n"  # the port column wins
        b"2001:db8::1,8443,v6\n"
        b"d.example,https,\n"
        b"e.example,70000,\n"
    )
    result = read_file(write(tmp_path / "export.csv", data))
    assert by_key(result.targets) == [
        ("a.example", 8443, "G"),
        ("a.example", 443, "G"),
        ("b.example", 9443, ""),
        ("c.example", 8443, ""),
        ("2001:db8::1", 8443, "v6"),
    ]
    assert [(e.line, e.text, e.error) for e in result.errors] == [
        (7, "d.example", "port 'https' is not a number"),
        (8, "e.example", "port 70000 is out of range (1-65535)"),
    ]


def test_csv_without_header_uses_the_first_column(tmp_path: Path) -> None:
    path = write(tmp_path / "list.csv", b"example.com,prod\nexample.org,staging\n")
    assert read_file(path).targets == [Target("example.com"), Target("example.org")]


def test_csv_with_one_column_and_no_header(tmp_path: Path) -> None:
    path = write(tmp_path / "list.csv", b"example.com\nexample.org\nnope\n")
    result = read_file(path)
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert [(e.line, e.text) for e in result.errors] == [(3, "nope")]


def test_quoted_csv(tmp_path: Path) -> None:
    data = (
        b'"domain","notes"\r\n'
        b'"example.com","prod, EU"\r\n'
        b'"example.org","two\r\nline note"\r\n'
        b'"bad..name.com","after a multi-line record"\r\n'
        b'"https://example.net:8443/a,b","comma in the URL"\r\n'
    )
    path = write(tmp_path / "list.csv", data)
    result = read_file(path)
    assert result.targets == [
        Target("example.com"),
        Target("example.org"),
        Target("example.net", 8443),
    ]
    assert [(e.line, e.text) for e in result.errors] == [(5, "bad..name.com")]


def test_csv_with_bom_semicolons_comments_and_blank_rows(tmp_path: Path) -> None:
    data = "\ufeff# exported 2024\n\nDomain;Owner\nexample.com;ops\n\n# old;x\nexample.org;dev\n"
    result = read_file(write(tmp_path / "list.csv", data.encode()))
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert result.errors == []


def test_comment_row_is_skipped_when_the_domain_is_not_the_first_column(tmp_path: Path) -> None:
    data = b"id,domain\n# retired,old.example\n2,new.example\n"
    assert read_file(write(tmp_path / "list.csv", data)).targets == [Target("new.example")]


def test_tsv_by_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "list.tsv", b"host\tport\nexample.com\t443\n")
    assert read_file(path).targets == [Target("example.com")]


def test_txt_file_with_a_csv_header_is_read_as_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "export.txt", b"id,host\n1,example.com\n2,bad..host.com\n")
    result = read_file(path)
    assert result.targets == [Target("example.com")]
    assert [(e.line, e.text) for e in result.errors] == [(3, "bad..host.com")]


def test_csv_row_too_large_is_an_error_not_a_crash(tmp_path: Path) -> None:
    data = b"domain\nexample.com\n" + b'"' + b"a" * 200_000 + b'"\nexample.org\n'
    result = read_file(write(tmp_path / "list.csv", data))
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert [e.line for e in result.errors] == [3]
    assert "cannot read this CSV row" in result.errors[0].error


# --------------------------------------------------------------------------- streams


def test_read_stream_bytes() -> None:
    result = read_stream(io.BytesIO(b"example.com\r\nnope\r\n"))
    assert result.targets == [Target("example.com")]
    assert result.errors[0].source == "<stdin>"
    assert result.errors[0].line == 2


def test_read_stream_text() -> None:
    result = read_stream(io.StringIO("\ufeffexample.com\nexample.org\n"), source="<upload>")
    assert result.targets == [Target("example.com"), Target("example.org")]


def test_read_stream_reads_a_text_wrapper_through_its_buffer() -> None:
    raw = io.BytesIO(b"example.com\ncaf\xe9.example\nexample.org\n")
    stream = io.TextIOWrapper(raw, encoding="utf-8")  # strict: .read() would raise
    result = read_stream(stream)
    assert result.targets == [Target("example.com"), Target("example.org")]
    assert [(e.line, e.error) for e in result.errors] == [(2, "not valid UTF-8 text")]


def test_read_stream_binary_is_an_input_file_error() -> None:
    with pytest.raises(InputFileError, match=r"^<stdin>: looks like a binary file"):
        read_stream(io.BytesIO(b"\x00\x01\x02binary"))


def test_read_stream_os_error_is_an_input_file_error() -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    with pytest.raises(InputFileError, match=r"^<stdin>: cannot read \(Input/output error\)$"):
        read_stream(Broken())


def test_read_stream_csv() -> None:
    result = read_stream(io.BytesIO(b"domain,owner\nexample.com,ops\n"))
    assert result.targets == [Target("example.com")]


# --------------------------------------------------------------------------- properties

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: not label.startswith("xn--")
)
_TLD = st.from_regex(r"[a-z][a-z0-9]{1,10}", fullmatch=True)
_LDH_NAME = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_LABEL, min_size=1, max_size=4),
    _TLD,
)
_LINE = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
    max_size=60,
) | st.sampled_from(
    ["example.com", "EXAMPLE.com:8443", "bob@example.com", "a..b", "# c", "", "https://x.example/"]
)


@given(_LDH_NAME)
def test_valid_ldh_names_round_trip_to_lower_case(name: str) -> None:
    assert parse_line(name) == Target(name)
    assert parse_line(name.upper()) == Target(name)
    assert parse_line(name + ".") == Target(name)
    assert parse_line(f"https://{name.upper()}:8443/x") == Target(name, 8443)
    assert normalize_host(name) == (name, name)


@given(st.text(alphabet=string.ascii_letters + string.digits + ".-_:", max_size=80))
def test_fast_path_agrees_with_the_detailed_checks(text: str) -> None:
    name = text.lower()
    if domains._FAST_NAME.fullmatch(name) and len(name) <= 253 and "xn--" not in name:
        assert domains._ascii_name(name) == (name, name)


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_parse_text_never_raises(text: str) -> None:
    result = parse_text(text, source="fuzz")
    line_count = len(domains._split_lines(text))
    for error in result.errors:
        assert error.source == "fuzz"
        assert 1 <= error.line <= line_count
        assert error.error
    assert len({t.key for t in result.targets}) == len(result.targets)


@given(
    st.binary(max_size=300)
    | st.lists(
        st.sampled_from([b"example.com", b"\r\n", b"\n", b"\xff", b"\xef\xbb\xbf", b",", b'"']),
        max_size=30,
    ).map(b"".join)
)
def test_read_stream_raises_only_input_file_error(data: bytes) -> None:
    try:
        result = read_stream(io.BytesIO(data), source="<bytes>")
    except InputFileError as exc:
        assert str(exc).startswith("<bytes>: ")
        assert "\n" not in str(exc)
    else:
        assert all(error.source == "<bytes>" for error in result.errors)


@given(_LINE)
def test_parse_line_returns_or_raises_value_error_only(line: str) -> None:
    try:
        result = parse_line(line)
    except ValueError as exc:
        assert str(exc)
    else:
        assert result is None or isinstance(result, Target)


@given(st.lists(_LINE, max_size=30))
def test_every_line_is_a_target_an_error_or_skipped(lines: list[str]) -> None:
    result = parse_lines(lines, source="<args>")
    expected_targets: dict[tuple[str, int], Target] = {}
    expected_error_lines = []
    for number, line in enumerate(lines, start=1):
        try:
            target = parse_line(line)
        except ValueError:
            expected_error_lines.append(number)
            continue
        if target is not None:
            expected_targets.setdefault(target.key, target)
    assert [e.line for e in result.errors] == expected_error_lines
    assert result.targets == list(expected_targets.values())


@given(st.lists(_LINE, max_size=30))
def test_deduplication_is_idempotent(lines: list[str]) -> None:
    result = parse_lines(lines, source="<args>")
    assert merge([result]) == result
    assert merge([result, result]).targets == result.targets
    assert parse_lines(lines + lines, source="<args>").targets == result.targets
    again = parse_lines([str(t) for t in result.targets], source="<again>")
    assert [t.key for t in again.targets] == [t.key for t in result.targets]
    assert again.errors == []


def test_a_protocol_column_keeps_services_services(tmp_path: Path) -> None:
    data = (
        "domain,port,protocol,group\n"
        "mx1.example.net,25,smtp,Mail\n"
        "mail.example.net,993,imaps,\n"
        "example.com,443,tls,Web\n"
        "imaps://other.example:993,,smtp,\n"  # a scheme in the cell wins
        "example.org,,mx,\n"
    )
    result = read_file(write(tmp_path / "export.csv", data.encode()))
    assert [(t.key, t.protocol, t.group) for t in result.targets] == [
        (("smtp://mx1.example.net", 25), "smtp", "Mail"),
        (("imaps://mail.example.net", 993), "imaps", ""),
        (("example.com", 443), "tls", "Web"),
        (("imaps://other.example", 993), "imaps", ""),
        (("mx:example.org", 25), "mx", ""),
    ]
    assert not result.errors


def test_a_watched_target_written_as_csv_reads_back_as_itself(tmp_path: Path) -> None:
    import csv

    from core.watchlist_io import LIST_CSV_FIELDS, target_csv_cells

    targets = [
        Target("mx1.example.net", 25, protocol="smtp", serves="example.net", threshold_days=14),
        Target("xn--bcher-kva.example", 8443, "bücher.example"),
    ]
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=LIST_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for target, group in zip(targets, ["Mail", ""], strict=True):
        writer.writerow(target_csv_cells(target, group, None))
    read = read_file(write(tmp_path / "list.csv", stream.getvalue().encode())).targets
    assert [(t.key, t.protocol, t.group, t.threshold_days) for t in read] == [
        (("smtp://mx1.example.net", 25), "smtp", "Mail", 14),
        (("xn--bcher-kva.example", 8443), "tls", "", None),
    ]
