"""Loopback servers for every STARTTLS dialect, each with the ways real servers go wrong.

    with StartTlsServers(world.pki) as servers:
        port = servers.port("smtp")                          # a working SMTP server
        refusing = servers.port("imap", Behaviour.REFUSE)    # no STARTTLS on offer
        rules = servers.connect_rules("valid.test")          # smtp://valid.test -> port
        servers.server("smtp").server_names                  # SNI seen by the handshakes

Each server speaks just enough of its protocol's greeting and upgrade (the server's
half of :mod:`core.starttls`), then hands the connection to
:class:`~tests.helpers.tls_server.SniTlsServer`'s handshake: the certificate is the
one the world's PKI issued for the SNI name (every name in ``pki.certs``; others get
the ``localhost`` default), and ``server_names`` records the SNI each handshake sent.
Servers start on first use, one per (protocol, behaviour), and every read is bounded
in size and time so a confused client cannot wedge a test.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self

from core.config import ConnectRule
from core.starttls import SCHEMES, STARTTLS_PROTOCOLS
from core.starttls.ldap import encode_integer, tlv
from tests.helpers.pki import DEFAULT_HOST, Pki
from tests.helpers.tls_server import SniTlsServer

_LOOPBACK = "127.0.0.1"
_MAX_REQUEST_BYTES = 64 * 1024
#: How long a server waits for the client's next plaintext command, or its hang-up.
_CLIENT_WAIT_SECONDS = 10.0
_HTTP_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#: Noise that is no protocol at all (it starts like nothing any dialect expects).
GARBAGE = b"\x16\xfe\x00\x81garbage\x00\xff\xfe\r\n"
TLS_NAMESPACE = "urn:ietf:params:xml:ns:xmpp-tls"


class Behaviour(enum.Enum):
    """How a loopback STARTTLS server treats its clients."""

    #: Speaks the protocol, upgrades, completes a TLS handshake chosen by SNI.
    OK = "ok"
    #: Does not offer the upgrade (no STARTTLS extension/capability/feature, or the
    #: dialect's "no": POP3 -ERR, FTP 500, LDAP protocolError, PostgreSQL N, no CLIENT_SSL).
    REFUSE = "refuse"
    #: Offers the upgrade, then answers the command with an error (SMTP 454, IMAP BAD,
    #: XMPP <failure/>, LDAP unavailable); like REFUSE where nothing is offered first.
    REJECT = "reject"
    #: Binary noise instead of the protocol.
    GARBAGE = "garbage"
    #: An HTTP server on the port (answers ``400 Bad Request``).
    HTTP = "http"
    #: Greets (protocols where the server speaks first; MySQL does not even greet) and
    #: then says nothing more.
    HANG = "hang"
    #: Closes every connection at once.
    CLOSE = "close"


class _Closed(Exception):
    """The client hung up or sent too much."""


class ServerIo:
    """The server's bounded plaintext reads and writes on one accepted connection."""

    def __init__(self, conn: socket.socket, received: collections.deque[bytes]) -> None:
        self._loop = asyncio.get_running_loop()
        self._conn = conn
        self._buffer = bytearray()
        self._total = 0
        self._received = received

    async def send(self, data: bytes) -> None:
        await self._loop.sock_sendall(self._conn, data)

    async def _receive(self, size: int) -> None:
        async with asyncio.timeout(_CLIENT_WAIT_SECONDS):
            data = await self._loop.sock_recv(self._conn, size)
        self._total += len(data)
        if not data or self._total > _MAX_REQUEST_BYTES:
            raise _Closed
        self._buffer += data

    async def read_line(self) -> bytes:
        while b"\n" not in self._buffer:
            await self._receive(4096)
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        self._received.append(line.rstrip(b"\r"))
        return line.rstrip(b"\r")

    async def read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            await self._receive(size - len(self._buffer))  # never into the ClientHello
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._received.append(data)
        return data

    async def read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            await self._receive(4096)
        end = self._buffer.index(marker) + len(marker)
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        self._received.append(data)
        return data

    async def read_any(self) -> bytes:
        await self._receive(4096)
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def wait_for_hang_up(self) -> None:
        """Swallow whatever comes until the client closes (or the wait runs out)."""
        try:
            while True:
                await self._receive(4096)
                self._buffer.clear()
        except (_Closed, OSError, TimeoutError):
            pass


# --------------------------------------------------------------------- the dialects
# Each takes the connection's I/O and the behaviour; True means "start TLS now".


async def _smtp(io: ServerIo, behaviour: Behaviour) -> bool:
    await io.send(b"220-mail.test ESMTP loopback\r\n220 mail.test ready\r\n")
    if behaviour is Behaviour.HANG:
        return False
    await io.read_line()  # EHLO
    extensions = [b"mail.test greets you", b"PIPELINING", b"SIZE 10240000"]
    if behaviour is not Behaviour.REFUSE:
        extensions.append(b"STARTTLS")
    extensions.append(b"8BITMIME")
    lines = [b"250-" + ext for ext in extensions[:-1]] + [b"250 " + extensions[-1]]
    await io.send(b"\r\n".join(lines) + b"\r\n")
    if behaviour is Behaviour.REFUSE:
        return False
    await io.read_line()  # STARTTLS
    if behaviour is Behaviour.REJECT:
        await io.send(b"454 4.7.0 TLS not available due to temporary reason\r\n")
        return False
    await io.send(b"220 2.0.0 Ready to start TLS\r\n")
    return True


async def _imap(io: ServerIo, behaviour: Behaviour) -> bool:
    await io.send(b"* OK [CAPABILITY IMAP4rev1] loopback IMAP ready\r\n")
    if behaviour is Behaviour.HANG:
        return False
    tag = (await io.read_line()).split(b" ")[0]  # a1 CAPABILITY
    capabilities = b"IMAP4rev1 LOGINDISABLED"
    if behaviour is not Behaviour.REFUSE:
        capabilities += b" STARTTLS"
    await io.send(b"* CAPABILITY " + capabilities + b"\r\n" + tag + b" OK done\r\n")
    if behaviour is Behaviour.REFUSE:
        return False
    tag = (await io.read_line()).split(b" ")[0]  # a2 STARTTLS
    if behaviour is Behaviour.REJECT:
        await io.send(tag + b" BAD STARTTLS not available now\r\n")
        return False
    await io.send(tag + b" OK Begin TLS negotiation now\r\n")
    return True


async def _pop3(io: ServerIo, behaviour: Behaviour) -> bool:
    await io.send(b"+OK loopback POP3 ready\r\n")
    if behaviour is Behaviour.HANG:
        return False
    await io.read_line()  # STLS
    if behaviour in (Behaviour.REFUSE, Behaviour.REJECT):
        await io.send(b"-ERR command not recognised\r\n")
        return False
    await io.send(b"+OK Begin TLS negotiation\r\n")
    return True


async def _ftp(io: ServerIo, behaviour: Behaviour) -> bool:
    # A multi-line greeting whose middle line is unnumbered, as RFC 959 allows.
    await io.send(b"220-Welcome to the loopback FTP\r\n  no anonymous access\r\n220 ready\r\n")
    if behaviour is Behaviour.HANG:
        return False
    await io.read_line()  # AUTH TLS
    if behaviour in (Behaviour.REFUSE, Behaviour.REJECT):
        await io.send(b"500 AUTH not understood\r\n")
        return False
    await io.send(b"234 AUTH TLS OK.\r\n")
    return True


def _xmpp(namespace: bytes) -> Callable[[ServerIo, Behaviour], Awaitable[bool]]:
    async def serve(io: ServerIo, behaviour: Behaviour) -> bool:
        await io.read_until(b"<stream:stream")  # the client's stream header ...
        await io.read_until(b">")  # ... up to its end
        if behaviour is Behaviour.HANG:
            return False
        # Double quotes and another attribute order than the client's, in two writes.
        await io.send(
            b'<?xml version="1.0"?><stream:stream id="c2s-1" version="1.0" '
            b'from="xmpp.test" xmlns:stream="http://etherx.jabber.org/streams" '
            b'xmlns="' + namespace + b'">'
        )
        offered = (
            b""
            if behaviour is Behaviour.REFUSE
            else (b'<starttls xmlns="' + TLS_NAMESPACE.encode() + b'"><required/></starttls>')
        )
        await io.send(
            b"<stream:features>" + offered + b'<mechanisms xmlns="urn:ietf:params:xml:ns:'
            b'xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>'
        )
        if behaviour is Behaviour.REFUSE:
            return False
        await io.read_until(b"/>")  # <starttls .../>
        if behaviour is Behaviour.REJECT:
            await io.send(b'<failure xmlns="' + TLS_NAMESPACE.encode() + b'"/></stream:stream>')
            return False
        await io.send(b'<proceed xmlns="' + TLS_NAMESPACE.encode() + b'"/>')
        return True

    return serve


def ldap_extended_response(result_code: int, diagnostic: str = "", message_id: int = 1) -> bytes:
    """An ``LDAPMessage`` carrying an ExtendedResponse (as a server sends it)."""
    operation = encode_integer(result_code, 0x0A) + tlv(0x04, b"") + tlv(0x04, diagnostic.encode())
    if result_code == 0:
        operation += tlv(0x8A, b"1.3.6.1.4.1.1466.20037")  # responseName
    return tlv(0x30, encode_integer(message_id) + tlv(0x78, operation))


async def _ldap(io: ServerIo, behaviour: Behaviour) -> bool:
    head = await io.read_exact(2)
    length = head[1]
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        length = int.from_bytes(await io.read_exact(length & 0x7F), "big")
    await io.read_exact(length)
    if behaviour is Behaviour.HANG:
        return False
    if behaviour is Behaviour.REFUSE:
        await io.send(ldap_extended_response(2, "unsupported extended operation"))
        return False
    if behaviour is Behaviour.REJECT:
        await io.send(ldap_extended_response(52, "TLS already started or not configured"))
        return False
    await io.send(ldap_extended_response(0))
    return True


async def _postgres(io: ServerIo, behaviour: Behaviour) -> bool:
    await io.read_exact(8)  # SSLRequest
    if behaviour is Behaviour.HANG:
        return False
    if behaviour in (Behaviour.REFUSE, Behaviour.REJECT):
        await io.send(b"N")
        return False
    await io.send(b"S")
    return True


def mysql_handshake(*, ssl: bool = True, version: bytes = b"8.0.36-loopback") -> bytes:
    """A Protocol::HandshakeV10 packet (header included) as MySQL 8 sends it."""
    capabilities = 0x0001 | 0x0200 | 0x8000 | 0x80000 | (0x0800 if ssl else 0)
    payload = (
        b"\x0a"
        + version
        + b"\0"
        + struct.pack("<I", 42)
        + b"abcdefgh\0"
        + struct.pack("<HBHH", capabilities & 0xFFFF, 255, 0x0002, capabilities >> 16)
        + bytes([21])
        + bytes(10)
        + b"ijklmnopqrst\0"
        + b"caching_sha2_password\0"
    )
    return len(payload).to_bytes(3, "little") + b"\0" + payload


async def _mysql(io: ServerIo, behaviour: Behaviour) -> bool:
    if behaviour is Behaviour.HANG:  # after its handshake, the client talks TLS: be silent
        return False
    await io.send(mysql_handshake(ssl=behaviour not in (Behaviour.REFUSE, Behaviour.REJECT)))
    if behaviour is not Behaviour.OK:
        return False
    header = await io.read_exact(4)
    await io.read_exact(int.from_bytes(header[:3], "little"))  # the SSL request
    return True


_Dialect = Callable[[ServerIo, Behaviour], Awaitable[bool]]
#: Protocol -> (server half of the upgrade, whether the server speaks first).
DIALECTS: dict[str, tuple[_Dialect, bool]] = {
    "smtp": (_smtp, True),
    "imap": (_imap, True),
    "pop3": (_pop3, True),
    "ftp": (_ftp, True),
    "xmpp": (_xmpp(b"jabber:client"), False),
    "xmpp-server": (_xmpp(b"jabber:server"), False),
    "ldap": (_ldap, False),
    "postgres": (_postgres, False),
    "mysql": (_mysql, True),
}


class StartTlsServer(SniTlsServer):
    """One protocol's server with one behaviour; TLS (when reached) picked by SNI."""

    def __init__(self, protocol: str, behaviour: Behaviour, pki: Pki) -> None:
        default = pki.certs[DEFAULT_HOST]
        super().__init__(default.chain_file, default.key_file)
        for name, files in pki.certs.items():
            self.add_host(name, files.chain_file, files.key_file)
        self.protocol = protocol
        self.behaviour = behaviour
        self._dialect, self._speaks_first = DIALECTS[protocol]
        #: The client's plaintext commands, oldest first (lines, stream headers, packets).
        self.received: collections.deque[bytes] = collections.deque(maxlen=100)
        #: Connections that got as far as starting TLS.
        self.upgrades = 0

    async def _serve_connection(self, conn: socket.socket) -> None:
        io = ServerIo(conn, self.received)
        try:
            upgrade = await self._prologue(io)
        except (_Closed, OSError, TimeoutError):
            upgrade = False
        except asyncio.CancelledError:  # the server stops
            conn.close()
            raise
        if not upgrade:
            conn.close()
            return
        self.upgrades += 1
        await super()._serve_connection(conn)  # the TLS handshake, then hang up

    async def _prologue(self, io: ServerIo) -> bool:
        behaviour = self.behaviour
        if behaviour is Behaviour.CLOSE:
            return False
        if behaviour in (Behaviour.GARBAGE, Behaviour.HTTP):
            if not self._speaks_first:
                await io.read_any()
            await io.send(GARBAGE if behaviour is Behaviour.GARBAGE else _HTTP_400)
            await io.wait_for_hang_up()
            return False
        if await self._dialect(io, behaviour):
            return True
        # Refused, rejected or hanging: keep the line open until the client gives up,
        # so it reads our last answer rather than a reset.
        await io.wait_for_hang_up()
        return False


class StartTlsServers:
    """Every (protocol, behaviour) server, started on first use, stopped together."""

    def __init__(self, pki: Pki) -> None:
        self._pki = pki
        self._servers: dict[tuple[str, Behaviour], StartTlsServer] = {}
        self._lock = threading.Lock()

    def server(self, protocol: str, behaviour: Behaviour = Behaviour.OK) -> StartTlsServer:
        """The running server for ``protocol`` (a name in ``STARTTLS_PROTOCOLS``)."""
        with self._lock:
            key = (protocol, behaviour)
            if key not in self._servers:
                self._servers[key] = StartTlsServer(protocol, behaviour, self._pki).start()
            return self._servers[key]

    def port(self, protocol: str, behaviour: Behaviour = Behaviour.OK) -> int:
        return self.server(protocol, behaviour).port

    def connect_rules(
        self,
        host: str,
        behaviour: Behaviour = Behaviour.OK,
        protocols: Iterable[str] = STARTTLS_PROTOCOLS,
    ) -> tuple[ConnectRule, ...]:
        """``--connect-to`` rules sending ``host`` on each protocol's default port
        (``smtp://host`` is port 25) to that protocol's server."""
        return tuple(
            ConnectRule(host, SCHEMES[name].default_port, _LOOPBACK, self.port(name, behaviour))
            for name in protocols
        )

    def stop(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
