"""The database servers' TLS upgrades: PostgreSQL's SSLRequest and MySQL's SSL request.

* PostgreSQL (protocol docs, "SSL Session Encryption"): the client sends the 8-byte
  SSLRequest (length 8, code 80877103 = 1234 << 16 | 5679); the server answers one
  byte, ``S`` (go ahead) or ``N`` (no TLS). Exactly one byte is read: what follows
  ``S`` is the server's TLS.
* MySQL/MariaDB (Protocol::HandshakeV10 and Protocol::SSLRequest): the server speaks
  first with a handshake packet whose capability flags say whether it has
  ``CLIENT_SSL``; the client answers with a 32-byte SSL request packet and starts TLS
  at once, with no answer in between.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import struct

from core.errors import StartTlsFailure
from core.starttls.base import MAX_PROLOGUE_BYTES, PlainStream

SSL_REQUEST_CODE = 80877103
POSTGRES_SSL_REQUEST = struct.pack("!ii", 8, SSL_REQUEST_CODE)


class PostgresUpgrade:
    """PostgreSQL SSLRequest on port 5432."""

    name = "postgres"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "PostgreSQL")
        await stream.send(POSTGRES_SSL_REQUEST)
        answer = await stream.read_exact(1)
        if answer == b"N":
            raise StartTlsFailure("PostgreSQL server does not accept TLS")
        if answer == b"E":  # an error message instead: servers before 7.0, or refusals
            raise StartTlsFailure("PostgreSQL server refused the TLS request with an error")
        if answer != b"S":
            raise stream.not_protocol(answer + stream.pending())
        stream.finish()


CLIENT_LONG_PASSWORD = 0x0001
CLIENT_PROTOCOL_41 = 0x0200
CLIENT_SSL = 0x0800
CLIENT_SECURE_CONNECTION = 0x8000
#: What our SSL request says we speak: the 4.1 protocol with TLS, nothing optional.
SSL_REQUEST_CAPABILITIES = (
    CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION
)
_MAX_PACKET_BYTES = 1 << 24
_UTF8MB4_GENERAL_CI = 45
_HANDSHAKE_V10 = 10
_ERROR_PACKET = 0xFF


class MySqlPacketError(ValueError):
    """A packet that is not the MySQL handshake this module expects."""


@dataclasses.dataclass(frozen=True)
class MySqlHandshake:
    """What the server's initial handshake packet tells us."""

    server_version: str
    capabilities: int
    charset: int


def parse_handshake(payload: bytes) -> MySqlHandshake:
    """The server's Protocol::HandshakeV10 payload (without the 4-byte header).

    Raises :class:`MySqlPacketError` for anything else, with the server's own text for
    an error packet (e.g. "Host '…' is blocked").
    """
    if not payload:
        raise MySqlPacketError("empty packet")
    if payload[0] == _ERROR_PACKET:
        message = payload[3:]
        if message.startswith(b"#"):
            message = message[6:]  # '#' and the five-character SQL state
        raise MySqlPacketError(message.decode("utf-8", "replace") or "error packet")
    if payload[0] != _HANDSHAKE_V10:
        raise MySqlPacketError(f"protocol version {payload[0]}, not 10")
    version_end = payload.find(b"\0", 1)
    if version_end < 0:
        raise MySqlPacketError("no server version")
    offset = version_end + 1 + 4 + 8 + 1  # connection id, auth data part 1, filler
    if offset + 2 > len(payload):
        raise MySqlPacketError("truncated handshake")
    capabilities = int.from_bytes(payload[offset : offset + 2], "little")
    charset = _UTF8MB4_GENERAL_CI
    if offset + 7 <= len(payload):
        charset = payload[offset + 2]
        capabilities |= int.from_bytes(payload[offset + 5 : offset + 7], "little") << 16
    return MySqlHandshake(
        server_version=payload[1:version_end].decode("utf-8", "replace"),
        capabilities=capabilities,
        charset=charset,
    )


def ssl_request(charset: int, sequence: int = 1) -> bytes:
    """The Protocol::SSLRequest packet, header included."""
    payload = struct.pack("<IIB23x", SSL_REQUEST_CAPABILITIES, _MAX_PACKET_BYTES, charset)
    return len(payload).to_bytes(3, "little") + bytes([sequence & 0xFF]) + payload


async def read_packet(stream: PlainStream) -> tuple[int, bytes]:
    """``(sequence, payload)`` of the server's first MySQL packet, reading no byte past it.

    A plausible header (a length under our bound, sequence 0) is checked before its
    payload is awaited, so a server that speaks something else ("HTTP/1.1 ...", binary
    noise) is named at once instead of after the deadline.
    """
    header = await stream.read_exact(4)
    length = int.from_bytes(header[:3], "little")
    if length == 0 or length > MAX_PROLOGUE_BYTES or header[3] != 0:
        raise stream.not_protocol(header + stream.pending())
    return header[3], await stream.read_exact(length)


class MySqlUpgrade:
    """MySQL/MariaDB SSL request on port 3306."""

    name = "mysql"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "MySQL")
        sequence, payload = await read_packet(stream)
        try:
            handshake = parse_handshake(payload)
        except MySqlPacketError as exc:
            if payload[:1] == bytes([_ERROR_PACKET]):
                raise StartTlsFailure(f"MySQL server refused the connection: {exc}") from exc
            raise StartTlsFailure(f"server answered something that is not MySQL: {exc}") from exc
        if not handshake.capabilities & CLIENT_SSL:
            raise StartTlsFailure(
                f"MySQL server does not support TLS ({handshake.server_version} lacks CLIENT_SSL)"
            )
        if not handshake.capabilities & CLIENT_PROTOCOL_41:
            raise StartTlsFailure("MySQL server is too old for TLS (no 4.1 protocol)")
        stream.finish()
        await stream.send(ssl_request(handshake.charset, sequence + 1))
