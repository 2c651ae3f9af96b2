"""core.starttls: every dialect's upgrade against its loopback server, then real TLS.

The end-to-end tests run ``prepare`` on a connected socket and then a TLS handshake
on that same socket, the way ``core.tls`` does, and read back the certificate the
server chose by SNI. The refusing, garbled, hanging and closing servers each give
their own clear error. Edge cases no server variant covers are scripted over a
socket pair; the BER and MySQL packet code is checked against fixed bytes.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import Iterator

import pytest
from cryptography import x509

from core.errors import CheckFailed, ErrorKind, StartTlsFailure
from core.starttls import SCHEMES, STARTTLS_PROTOCOLS, Scheme, UnknownScheme, scheme
from core.starttls.base import MAX_PROLOGUE_BYTES, describe_answer
from core.starttls.databases import (
    CLIENT_PROTOCOL_41,
    CLIENT_SSL,
    MySqlPacketError,
    parse_handshake,
    ssl_request,
)
from core.starttls.ldap import (
    BerError,
    decode_length,
    encode_length,
    parse_extended_response,
    read_tlv,
    starttls_request,
)
from core.starttls.text import SmtpUpgrade, ehlo_name
from core.starttls.xmpp import XmppUpgrade
from tests.helpers.starttls_servers import (
    Behaviour,
    StartTlsServers,
    ldap_extended_response,
    mysql_handshake,
)
from tests.helpers.world import LoopbackWorld

#: Bounds a wait that must end, without asserting how fast anything is.
BOUND_SECONDS = 10.0
#: How long the hanging servers are given before the caller's deadline ends prepare.
HANG_DEADLINE_SECONDS = 0.3
#: The name each protocol's messages use.
LABELS = {
    "smtp": "SMTP",
    "imap": "IMAP",
    "pop3": "POP3",
    "ftp": "FTP",
    "xmpp": "XMPP",
    "xmpp-server": "XMPP",
    "ldap": "LDAP",
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
}
#: What a server that does not offer the upgrade makes ``prepare`` say.
REFUSALS = {
    "smtp": "mail server does not offer STARTTLS",
    "imap": "IMAP server does not offer STARTTLS",
    "pop3": "POP3 server does not offer STARTTLS (STLS) (it answered '-ERR command not",
    "ftp": "FTP server does not offer AUTH TLS (it answered '500 AUTH not understood')",
    "xmpp": "XMPP server does not offer STARTTLS",
    "xmpp-server": "XMPP server does not offer STARTTLS",
    "ldap": "LDAP server does not offer StartTLS (protocolError: unsupported extended",
    "postgres": "PostgreSQL server does not accept TLS",
    "mysql": "MySQL server does not support TLS (8.0.36-loopback lacks CLIENT_SSL)",
}
#: What a server that offers the upgrade and then turns it down makes ``prepare`` say.
REJECTIONS = {
    "smtp": "mail server does not offer STARTTLS (it answered '454 4.7.0 TLS not available",
    "imap": "IMAP server does not offer STARTTLS (it answered 'a2 BAD STARTTLS not available",
    "pop3": REFUSALS["pop3"],
    "ftp": REFUSALS["ftp"],
    "xmpp": "XMPP server refused STARTTLS (<failure/>)",
    "xmpp-server": "XMPP server refused STARTTLS (<failure/>)",
    "ldap": "LDAP server does not offer StartTLS (unavailable: TLS already started",
    "postgres": REFUSALS["postgres"],
    "mysql": REFUSALS["mysql"],
}


@pytest.fixture(scope="module")
def servers(world: LoopbackWorld) -> Iterator[StartTlsServers]:
    with StartTlsServers(world.pki) as started:
        yield started


async def _connect(port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


async def _prepare(protocol: str, port: int, host: str = "valid.test") -> None:
    """``prepare`` on a fresh connection, bounded; the socket is closed afterwards."""
    upgrade = SCHEMES[protocol].upgrade
    assert upgrade is not None
    sock = await _connect(port)
    try:
        async with asyncio.timeout(BOUND_SECONDS):
            await upgrade.prepare(asyncio.get_running_loop(), sock, host)
    finally:
        sock.close()


async def upgraded_certificate(
    protocol: str, port: int, host: str, ca_file: object
) -> x509.Certificate:
    """Upgrade, then a verifying TLS handshake with SNI ``host`` on the same socket."""
    upgrade = SCHEMES[protocol].upgrade
    assert upgrade is not None
    sock = await _connect(port)
    async with asyncio.timeout(BOUND_SECONDS):
        try:
            await upgrade.prepare(asyncio.get_running_loop(), sock, host)
        except BaseException:
            sock.close()
            raise
        context = ssl.create_default_context(cafile=str(ca_file))
        _, writer = await asyncio.open_connection(sock=sock, ssl=context, server_hostname=host)
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True)
        finally:
            writer.close()
            # The server hangs up after its handshake; how it does is not the point.
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)
    return x509.load_der_x509_certificate(der)


def _dns_names(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return san.value.get_values_for_type(x509.DNSName)


# ----------------------------------------------------------------- the scheme table


def test_table_has_every_scheme_with_its_default_port() -> None:
    ports = {name: entry.default_port for name, entry in SCHEMES.items()}
    assert ports == {
        "tls": 443,
        "https": 443,
        "smtps": 465,
        "imaps": 993,
        "pop3s": 995,
        "ldaps": 636,
        "smtp": 25,
        "imap": 143,
        "pop3": 110,
        "ftp": 21,
        "xmpp": 5222,
        "xmpp-server": 5269,
        "ldap": 389,
        "postgres": 5432,
        "mysql": 3306,
    }


def test_implicit_tls_schemes_have_no_upgrade_and_starttls_ones_name_theirs() -> None:
    implicit = {name for name, entry in SCHEMES.items() if entry.upgrade is None}
    assert implicit == {"tls", "https", "smtps", "imaps", "pop3s", "ldaps"}
    assert set(STARTTLS_PROTOCOLS) == set(SCHEMES) - implicit
    for name in STARTTLS_PROTOCOLS:
        upgrade = SCHEMES[name].upgrade
        assert upgrade is not None and upgrade.name == name


def test_scheme_lookup_ignores_case_and_blanks() -> None:
    assert scheme(" SMTP ") is SCHEMES["smtp"]
    assert scheme("https") == Scheme("https", 443, None)


def test_unknown_scheme_is_a_clear_key_and_value_error() -> None:
    with pytest.raises(UnknownScheme) as caught:
        scheme("gopher")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert message.startswith("unknown protocol 'gopher' (known: ")
    assert "smtp" in message and "xmpp-server" in message


def test_start_tls_failure_is_a_check_failure_of_kind_protocol() -> None:
    failure = StartTlsFailure("mail server does not offer STARTTLS")
    assert isinstance(failure, CheckFailed)
    assert failure.kind is ErrorKind.PROTOCOL
    assert not failure.kind.network_level
    assert ErrorKind.parse("protocol") is ErrorKind.PROTOCOL


# ------------------------------------------------------ every dialect, end to end


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_upgrade_then_tls_with_sni(
    protocol: str, servers: StartTlsServers, world: LoopbackWorld
) -> None:
    server = servers.server(protocol)
    cert = await upgraded_certificate(protocol, server.port, "valid.test", world.pki.ca_file)
    assert _dns_names(cert) == ["valid.test"]
    assert cert.not_valid_after_utc == world.pki.certs["valid.test"].not_after
    assert "valid.test" in server.server_names


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_upgrade_is_repeatable_on_parallel_connections(
    protocol: str, servers: StartTlsServers, world: LoopbackWorld
) -> None:
    """One upgrade object serves two connections at once (the check may connect twice)."""
    port = servers.port(protocol)
    certs = await asyncio.gather(
        upgraded_certificate(protocol, port, "expiring.test", world.pki.ca_file),
        upgraded_certificate(protocol, port, "shortchain.test", world.pki.ca_file),
    )
    assert [_dns_names(cert)[0] for cert in certs] == ["expiring.test", "shortchain.test"]


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_server_without_the_upgrade_is_named(protocol: str, servers: StartTlsServers) -> None:
    with pytest.raises(StartTlsFailure) as caught:
        await _prepare(protocol, servers.port(protocol, Behaviour.REFUSE))
    assert str(caught.value).startswith(REFUSALS[protocol])
    assert caught.value.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_server_turning_the_upgrade_down_is_named(
    protocol: str, servers: StartTlsServers
) -> None:
    with pytest.raises(StartTlsFailure) as caught:
        await _prepare(protocol, servers.port(protocol, Behaviour.REJECT))
    assert str(caught.value).startswith(REJECTIONS[protocol])
    assert caught.value.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_garbage_is_not_the_protocol(protocol: str, servers: StartTlsServers) -> None:
    with pytest.raises(StartTlsFailure) as caught:
        await _prepare(protocol, servers.port(protocol, Behaviour.GARBAGE))
    expected = f"server answered something that is not {LABELS[protocol]}: binary data"
    assert str(caught.value) == expected
    assert caught.value.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_http_server_is_named(protocol: str, servers: StartTlsServers) -> None:
    with pytest.raises(StartTlsFailure) as caught:
        await _prepare(protocol, servers.port(protocol, Behaviour.HTTP))
    assert str(caught.value) == f"an HTTP server answered, not a {LABELS[protocol]} server"


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_closed_connection_is_a_reset_naming_the_protocol(
    protocol: str, servers: StartTlsServers
) -> None:
    with pytest.raises(StartTlsFailure) as caught:
        await _prepare(protocol, servers.port(protocol, Behaviour.CLOSE))
    assert caught.value.kind is ErrorKind.RESET
    assert LABELS[protocol] in str(caught.value)
    assert "before TLS" in str(caught.value)


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
async def test_hanging_server_is_ended_by_the_callers_deadline(
    protocol: str, servers: StartTlsServers
) -> None:
    upgrade = SCHEMES[protocol].upgrade
    assert upgrade is not None
    sock = await _connect(servers.port(protocol, Behaviour.HANG))
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(HANG_DEADLINE_SECONDS):
                await upgrade.prepare(asyncio.get_running_loop(), sock, "valid.test")
    finally:
        sock.close()


async def test_smtp_greets_with_an_address_literal(servers: StartTlsServers) -> None:
    server = servers.server("smtp")
    await _prepare("smtp", server.port)
    assert b"EHLO [127.0.0.1]" in server.received
    assert b"STARTTLS" in server.received


@pytest.mark.parametrize(("protocol", "namespace"), [("xmpp", "client"), ("xmpp-server", "server")])
async def test_xmpp_stream_names_the_host(
    protocol: str, namespace: str, servers: StartTlsServers
) -> None:
    server = servers.server(protocol)
    await _prepare(protocol, server.port, host="expiring.test")
    last_header = b"".join(server.received).rsplit(b"<stream:stream", 1)[1].split(b">")[0]
    assert b'to="expiring.test"' in last_header
    assert f"xmlns='jabber:{namespace}'".encode() in last_header


def test_connect_rules_send_each_default_port_to_its_server(servers: StartTlsServers) -> None:
    rules = servers.connect_rules("mail.test", protocols=("smtp", "imap"))
    assert [(rule.host, rule.port, rule.target_host) for rule in rules] == [
        ("mail.test", 25, "127.0.0.1"),
        ("mail.test", 143, "127.0.0.1"),
    ]
    assert [rule.target_port for rule in rules] == [servers.port("smtp"), servers.port("imap")]


# ------------------------------------------------- scripted servers (socket pairs)


async def scripted(upgrade_name: str, answers: bytes, host: str = "valid.test") -> bytes:
    """Run ``prepare`` against a peer that writes ``answers`` and then closes.

    Returns what the client sent. Since the peer closes after its answers, a client
    waiting for more sees the end of the connection rather than hanging.
    """
    upgrade = SCHEMES[upgrade_name].upgrade
    assert upgrade is not None
    loop = asyncio.get_running_loop()
    client, peer = socket.socketpair()
    client.setblocking(False)
    peer.setblocking(False)

    async def answer() -> None:
        await loop.sock_sendall(peer, answers)
        peer.shutdown(socket.SHUT_WR)

    writer = asyncio.create_task(answer())
    try:
        async with asyncio.timeout(BOUND_SECONDS):
            await upgrade.prepare(loop, client, host)
            await writer
            client.shutdown(socket.SHUT_WR)
            sent = b""
            while chunk := await loop.sock_recv(peer, 65536):
                sent += chunk
        return sent
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        client.close()
        peer.close()


async def test_smtp_accepts_answers_arriving_together() -> None:
    answers = b"220 mx ready\r\n250-mx\r\n250-starttls\r\n250 SIZE\r\n220 go ahead\r\n"
    sent = await scripted("smtp", answers)
    assert sent == b"EHLO [127.0.0.1]\r\nSTARTTLS\r\n"


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (b"554 5.7.1 no service for you\r\n", "mail server does not offer STARTTLS (it answered "),
        (b"220 mx\r\n502 5.5.1 EHLO not implemented\r\n", "mail server does not offer STARTTLS"),
        (b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\nEHLO", "sent data after agreeing"),
        (b"+OK pop3 here\r\n", "server answered something that is not SMTP: '+OK pop3 here'"),
    ],
    ids=["greeting-554", "no-ehlo", "injected-after-220", "another-protocol"],
)
async def test_smtp_failures(answers: bytes, message: str) -> None:
    with pytest.raises(StartTlsFailure, match=message.replace("(", r"\(").replace("+", r"\+")):
        await scripted("smtp", answers)


async def test_imap_preauth_forbids_starttls() -> None:
    with pytest.raises(StartTlsFailure) as caught:
        await scripted("imap", b"* PREAUTH welcome back\r\n")
    assert "IMAP server does not offer STARTTLS (it logged us in without TLS" in str(caught.value)


async def test_imap_bye_greeting_is_not_ready() -> None:
    with pytest.raises(StartTlsFailure, match="IMAP server is not ready"):
        await scripted("imap", b"* BYE too many connections\r\n")


async def test_ftp_not_ready_greeting() -> None:
    with pytest.raises(StartTlsFailure, match="FTP server is not ready"):
        await scripted("ftp", b"421 Too many users\r\n")


async def test_xmpp_stream_error_names_its_condition() -> None:
    answers = (
        b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
        b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"</stream:error></stream:stream>"
    )
    with pytest.raises(StartTlsFailure, match="XMPP server closed the stream: host-unknown"):
        await scripted("xmpp", answers, host="unknown.test")


async def test_xmpp_empty_features_and_single_quotes() -> None:
    answers = b"<stream:stream xmlns:stream='x' from='a'><stream:features/>"
    with pytest.raises(StartTlsFailure, match="XMPP server does not offer STARTTLS"):
        await scripted("xmpp", answers)
    proceed = (
        b"<s:stream xmlns:s='x'><s:features><starttls version='x' "
        b"xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></s:features>"
        b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'></proceed>"
    )
    sent = await scripted("xmpp", proceed, host="o'brien.test")
    assert b'to="o\'brien.test"' in sent
    assert sent.endswith(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")


def test_xmpp_stream_header_escapes_the_host() -> None:
    header = XmppUpgrade().stream_header("a'b<c>.test")
    assert b'to="a\'b&lt;c&gt;.test"' in header


async def test_ldap_notice_of_disconnection() -> None:
    notice = ldap_extended_response(52, "server shutting down", message_id=0)
    with pytest.raises(StartTlsFailure, match="LDAP server ended the session: server shutting"):
        await scripted("ldap", notice)


async def test_ldap_sends_exactly_the_starttls_request() -> None:
    sent = await scripted("ldap", ldap_extended_response(0))
    assert sent == starttls_request(1)


async def test_ldap_malformed_response_is_named() -> None:
    with pytest.raises(StartTlsFailure, match="not LDAP StartTLS: expected tag 0x78"):
        await scripted("ldap", bytes.fromhex("3006020101610100"))


async def test_postgres_error_answer() -> None:
    with pytest.raises(StartTlsFailure, match="PostgreSQL server refused the TLS request"):
        await scripted("postgres", b"E")


async def test_postgres_sends_the_ssl_request() -> None:
    sent = await scripted("postgres", b"S")
    assert sent == struct.pack("!HHHH", 0, 8, 1234, 5679)


async def test_mysql_error_packet_quotes_the_server() -> None:
    message = b"\xff\x69\x04#HY000Host '127.0.0.1' is blocked"
    packet = len(message).to_bytes(3, "little") + b"\0" + message
    with pytest.raises(StartTlsFailure) as caught:
        await scripted("mysql", packet)
    assert str(caught.value) == "MySQL server refused the connection: Host '127.0.0.1' is blocked"


async def test_mysql_answers_with_sequence_one_and_the_servers_charset() -> None:
    sent = await scripted("mysql", mysql_handshake())
    assert sent == ssl_request(255, 1)
    assert sent[:4] == b"\x20\x00\x00\x01"


async def test_endless_greeting_is_bounded_in_size() -> None:
    with pytest.raises(StartTlsFailure, match="sent more than 64 KiB"):
        await scripted("smtp", b"220-hello\r\n" * 7000)
    assert len(b"220-hello\r\n" * 7000) > MAX_PROLOGUE_BYTES


async def test_overlong_line_is_not_the_protocol() -> None:
    with pytest.raises(StartTlsFailure, match="not POP3"):
        await scripted("pop3", b"+OK" + b"x" * 20000)


def test_ehlo_name_is_an_ipv6_literal_for_ipv6_sockets() -> None:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no IPv6 on this machine")
    with sock:
        try:
            sock.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
        assert ehlo_name(sock) == "[IPv6:::1]"
    assert SmtpUpgrade().name == "smtp"


@pytest.mark.parametrize(
    ("data", "described"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "an HTTP response"),
        (b"\x00\x01binary", "binary data"),
        (b"  \r\n", "an empty line"),
        (b"hello there\r\nsecond line", "'hello there'"),
        (b"y" * 100, repr("y" * 60 + "…")),
    ],
)
def test_describe_answer(data: bytes, described: str) -> None:
    assert describe_answer(data) == described


# ------------------------------------------------------------- BER and MySQL packets


def test_starttls_request_is_the_well_known_message() -> None:
    assert starttls_request(1).hex() == ("301d02010177188016" + b"1.3.6.1.4.1.1466.20037".hex())


@pytest.mark.parametrize(
    ("length", "encoded"),
    [(0, "00"), (127, "7f"), (128, "8180"), (300, "82012c"), (70000, "83011170")],
)
def test_ber_lengths_round_trip(length: int, encoded: str) -> None:
    assert encode_length(length).hex() == encoded
    assert decode_length(bytes.fromhex(encoded), 0) == (length, len(encoded) // 2)


def test_openldap_success_answer_parses() -> None:
    # What OpenLDAP's slapd answers a StartTLS request with (no responseName).
    response = parse_extended_response(bytes.fromhex("300c02010178070a010004000400"))
    assert (response.message_id, response.result_code, response.diagnostic) == (1, 0, "")
    assert response.result_name == "success"


def test_long_form_lengths_and_a_diagnostic_parse() -> None:
    diagnostic = "d" * 200
    message = ldap_extended_response(53, diagnostic, message_id=300)
    assert message[1] == 0x81  # long form on the outer SEQUENCE
    response = parse_extended_response(message)
    assert (response.message_id, response.result_code) == (300, 53)
    assert response.result_name == "unwillingToPerform"
    assert response.diagnostic == diagnostic


@pytest.mark.parametrize(
    ("hex_message", "problem"),
    [
        ("300c02010178070a0100040004", "truncated"),
        ("310c02010178070a010004000400", "expected tag 0x30"),
        ("3080020101", "indefinite"),
        ("300c02010178070a01000400040000", "trailing"),
        ("", "missing element"),
    ],
)
def test_malformed_ber_is_rejected(hex_message: str, problem: str) -> None:
    with pytest.raises(BerError, match=problem):
        parse_extended_response(bytes.fromhex(hex_message))


def test_read_tlv_walks_elements() -> None:
    data = bytes.fromhex("0201050400")
    assert read_tlv(data, 0) == (0x02, b"\x05", 3)
    assert read_tlv(data, 3) == (0x04, b"", 5)


def test_mysql_handshake_parses() -> None:
    handshake = parse_handshake(mysql_handshake()[4:])
    assert handshake.server_version == "8.0.36-loopback"
    assert handshake.capabilities & CLIENT_SSL
    assert handshake.capabilities & CLIENT_PROTOCOL_41
    assert handshake.capabilities & 0x80000  # CLIENT_PLUGIN_AUTH, from the upper half
    assert handshake.charset == 255
    assert not parse_handshake(mysql_handshake(ssl=False)[4:]).capabilities & CLIENT_SSL


def test_old_short_mysql_handshake_parses() -> None:
    # Servers before 4.1 end after the lower capability flags.
    payload = b"\x0a3.23.58\0" + b"\x01\0\0\0" + b"12345678\0" + b"\x2c\x00"
    handshake = parse_handshake(payload)
    assert (handshake.server_version, handshake.capabilities) == ("3.23.58", 0x2C)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"", "empty packet"),
        (b"\x09old", "protocol version 9"),
        (b"\x0anoterminator", "no server version"),
        (b"\x0a8.0\0\x01", "truncated handshake"),
        (b"\xff\x10\x04Too many connections", "Too many connections"),
    ],
)
def test_malformed_mysql_handshakes(payload: bytes, problem: str) -> None:
    with pytest.raises(MySqlPacketError, match=problem):
        parse_handshake(payload)


def test_ssl_request_packet_layout() -> None:
    packet = ssl_request(33, 1)
    assert len(packet) == 4 + 32
    assert packet[:4] == b"\x20\x00\x00\x01"
    capabilities, max_packet, charset = struct.unpack("<IIB", packet[4:13])
    assert capabilities & CLIENT_SSL and capabilities & CLIENT_PROTOCOL_41
    assert (max_packet, charset) == (1 << 24, 33)
    assert packet[13:] == bytes(23)
