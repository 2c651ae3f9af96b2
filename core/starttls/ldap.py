"""LDAP StartTLS (RFC 4511 §4.14): one extended operation, in hand-written BER.

The request is a fixed ``LDAPMessage``; the answer is an ``ExtendedResponse`` whose
``resultCode`` we need. That is three BER types (SEQUENCE, INTEGER/ENUMERATED,
OCTET STRING) in definite-length form, which LDAP requires (RFC 4511 §5.1), so a
dozen lines of TLV code are clearer, and easier to bound, than an ASN.1 library::

    LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE {...} }
    ExtendedRequest  ::= [APPLICATION 23] SEQUENCE { requestName [0] LDAPOID, ... }
    ExtendedResponse ::= [APPLICATION 24] SEQUENCE {
        resultCode ENUMERATED, matchedDN LDAPDN, diagnosticMessage LDAPString, ... }
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket

from core.errors import StartTlsFailure
from core.starttls.base import MAX_PROLOGUE_BYTES, PlainStream

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
_SEQUENCE = 0x30
_INTEGER = 0x02
_ENUMERATED = 0x0A
_OCTET_STRING = 0x04
_EXTENDED_REQUEST = 0x77  # [APPLICATION 23], constructed
_EXTENDED_RESPONSE = 0x78  # [APPLICATION 24], constructed
_REQUEST_NAME = 0x80  # [0], primitive
#: Names of the result codes a StartTLS answer carries in practice (RFC 4511 §4.1.9).
RESULT_NAMES = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    7: "authMethodNotSupported",
    12: "unavailableCriticalExtension",
    13: "confidentialityRequired",
    50: "insufficientAccessRights",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    80: "other",
}


class BerError(ValueError):
    """Bytes that are not the BER this module expects."""


def encode_length(length: int) -> bytes:
    """A BER definite length: short form below 128, else long form."""
    if length < 0:
        raise ValueError("negative length")
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def encode_integer(value: int, tag: int = _INTEGER) -> bytes:
    """A two's complement INTEGER (or ENUMERATED) in its fewest bytes."""
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def starttls_request(message_id: int = 1) -> bytes:
    """The ``LDAPMessage`` asking for StartTLS."""
    operation = tlv(_EXTENDED_REQUEST, tlv(_REQUEST_NAME, STARTTLS_OID.encode("ascii")))
    return tlv(_SEQUENCE, encode_integer(message_id) + operation)


def decode_length(data: bytes, offset: int) -> tuple[int, int]:
    """The length at ``data[offset:]`` and the offset just past it."""
    if offset >= len(data):
        raise BerError("truncated length")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    size = first & 0x7F
    if size == 0 or size > 4:
        raise BerError("indefinite or oversized length")
    if offset + 1 + size > len(data):
        raise BerError("truncated length")
    return int.from_bytes(data[offset + 1 : offset + 1 + size], "big"), offset + 1 + size


def read_tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """``(tag, content, next_offset)`` of the element at ``data[offset:]``."""
    if offset >= len(data):
        raise BerError("missing element")
    tag = data[offset]
    length, start = decode_length(data, offset + 1)
    end = start + length
    if end > len(data):
        raise BerError("truncated element")
    return tag, data[start:end], end


def _expect(data: bytes, offset: int, tag: int) -> tuple[bytes, int]:
    found, content, end = read_tlv(data, offset)
    if found != tag:
        raise BerError(f"expected tag 0x{tag:02x}, found 0x{found:02x}")
    return content, end


@dataclasses.dataclass(frozen=True)
class ExtendedResponse:
    message_id: int
    result_code: int
    diagnostic: str

    @property
    def result_name(self) -> str:
        return RESULT_NAMES.get(self.result_code, "unknown result")


def parse_extended_response(message: bytes) -> ExtendedResponse:
    """The ``ExtendedResponse`` in one complete ``LDAPMessage`` (its full TLV)."""
    body, end = _expect(message, 0, _SEQUENCE)
    if end != len(message):
        raise BerError("trailing bytes after the message")
    message_id_bytes, offset = _expect(body, 0, _INTEGER)
    if not message_id_bytes:
        raise BerError("empty messageID")
    operation, _ = _expect(body, offset, _EXTENDED_RESPONSE)
    code_bytes, offset = _expect(operation, 0, _ENUMERATED)
    if not code_bytes:
        raise BerError("empty resultCode")
    _, offset = _expect(operation, offset, _OCTET_STRING)  # matchedDN
    diagnostic, _ = _expect(operation, offset, _OCTET_STRING)
    return ExtendedResponse(
        message_id=int.from_bytes(message_id_bytes, "big", signed=True),
        result_code=int.from_bytes(code_bytes, "big", signed=True),
        diagnostic=diagnostic.decode("utf-8", "replace"),
    )


async def read_message(stream: PlainStream) -> bytes:
    """One whole ``LDAPMessage`` (a SEQUENCE), reading no byte past it."""
    head = await stream.read_exact(2)
    if head[0] != _SEQUENCE:
        raise stream.not_protocol(head + stream.pending())
    if head[1] < 0x80:
        length, header = head[1], head
    else:
        size = head[1] & 0x7F
        if size == 0 or size > 4:
            raise stream.not_protocol(head)
        extra = await stream.read_exact(size)
        header = head + extra
        length = int.from_bytes(extra, "big")
    if length > MAX_PROLOGUE_BYTES:
        raise StartTlsFailure(f"the LDAP server announced a {length}-byte answer, too long")
    return header + await stream.read_exact(length)


class LdapUpgrade:
    """LDAP StartTLS extended operation on port 389."""

    name = "ldap"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "LDAP")
        await stream.send(starttls_request(1))
        message = await read_message(stream)
        try:
            response = parse_extended_response(message)
        except BerError as exc:
            raise StartTlsFailure(
                f"server answered something that is not LDAP StartTLS: {exc}"
            ) from exc
        if response.message_id == 0:  # unsolicited notification: the server hangs up
            raise StartTlsFailure(
                f"LDAP server ended the session: {response.diagnostic or response.result_name}"
            )
        if response.message_id != 1:
            raise StartTlsFailure(
                "server answered something that is not LDAP StartTLS: "
                f"message {response.message_id}"
            )
        if response.result_code != 0:
            detail = f": {response.diagnostic}" if response.diagnostic else ""
            raise StartTlsFailure(
                f"LDAP server does not offer StartTLS ({response.result_name}{detail})"
            )
        stream.finish()
