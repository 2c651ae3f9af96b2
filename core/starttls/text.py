"""The line-based STARTTLS dialects: SMTP, IMAP, POP3 and FTP.

All four are "server speaks first" protocols with CRLF lines; each class follows the
one RFC section that defines its upgrade and nothing more (no login, no mail):

* SMTP (RFC 3207): 220 greeting, ``EHLO``, ``STARTTLS`` among the extensions,
  ``STARTTLS`` answered by 220.
* IMAP (RFC 9051 §6.2.1): ``* OK`` greeting, ``CAPABILITY`` lists ``STARTTLS``,
  ``STARTTLS`` answered by a tagged ``OK``.
* POP3 (RFC 2595 §4): ``+OK`` greeting, ``STLS`` answered by ``+OK``.
* FTP (RFC 4217): 220 greeting, ``AUTH TLS`` answered by 234.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import re
import socket
from typing import NoReturn

from core.errors import StartTlsFailure
from core.starttls.base import PlainStream, describe_answer

_REPLY_LINE = re.compile(rb"^(\d{3})([ -]?)(.*)$")


@dataclasses.dataclass(frozen=True)
class Reply:
    """A numbered reply (SMTP, FTP): its code and the text of every line."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The reply as a person would quote it: code and first line."""
        return f"{self.code} {self.lines[0]}".strip() if self.lines else str(self.code)


async def read_reply(stream: PlainStream) -> Reply:
    """One SMTP/FTP reply, multi-line ones included (``250-...`` up to ``250 ...``).

    FTP allows any text on the lines between the first and the last (RFC 959 §4.2),
    so only the first line must be numbered; the reply ends at the line that starts
    with the same code and a space.
    """
    first = await stream.read_line()
    match = _REPLY_LINE.match(first)
    if match is None:
        raise stream.not_protocol(first)
    code, separator, text = match.groups()
    lines = [text.decode("utf-8", "replace").strip()]
    while separator == b"-":
        line = await stream.read_line()
        following = _REPLY_LINE.match(line)
        if following is not None and following.group(1) == code:
            separator = following.group(2)
            line = following.group(3)
        lines.append(line.decode("utf-8", "replace").strip())
    return Reply(int(code), tuple(lines))


def ehlo_name(sock: socket.socket) -> str:
    """Our name in ``EHLO``: an address literal of our end (RFC 5321 §4.1.4).

    A client without a registered name of its own should send its address; a made-up
    host name is what spam filters look for.
    """
    try:
        local = sock.getsockname()
        address = ipaddress.ip_address(str(local[0]).partition("%")[0])
    except (OSError, ValueError, TypeError, IndexError):  # not an IP socket (tests' pairs)
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


class SmtpUpgrade:
    """SMTP STARTTLS (RFC 3207), for ports 25 and 587."""

    name = "smtp"
    _REFUSED = "mail server does not offer STARTTLS"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "SMTP")
        greeting = await read_reply(stream)
        if greeting.code != 220:
            self._refuse_or_garble(stream, greeting)
        await stream.send(f"EHLO {ehlo_name(sock)}\r\n".encode("ascii"))
        hello = await read_reply(stream)
        if hello.code != 250:
            self._refuse_or_garble(stream, hello)
        extensions = {line.split(" ", 1)[0].upper() for line in hello.lines[1:] if line}
        if "STARTTLS" not in extensions:
            raise StartTlsFailure(self._REFUSED)
        await stream.send(b"STARTTLS\r\n")
        answer = await read_reply(stream)
        if answer.code != 220:
            self._refuse_or_garble(stream, answer)
        stream.finish()

    def _refuse_or_garble(self, stream: PlainStream, reply: Reply) -> NoReturn:
        if 400 <= reply.code < 600:
            raise StartTlsFailure(f"{self._REFUSED} (it answered {reply.text!r})")
        raise stream.not_protocol(reply.text.encode("utf-8", "replace"))


class FtpUpgrade:
    """FTP ``AUTH TLS`` (RFC 4217 §4): explicit FTPS on the control connection."""

    name = "ftp"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "FTP")
        greeting = await read_reply(stream)
        if greeting.code != 220:
            raise self._unexpected(stream, greeting, "FTP server is not ready")
        await stream.send(b"AUTH TLS\r\n")
        answer = await read_reply(stream)
        if answer.code != 234:
            raise self._unexpected(stream, answer, "FTP server does not offer AUTH TLS")
        stream.finish()

    @staticmethod
    def _unexpected(stream: PlainStream, reply: Reply, refusal: str) -> StartTlsFailure:
        if 100 <= reply.code < 600:
            return StartTlsFailure(f"{refusal} (it answered {reply.text!r})")
        return stream.not_protocol(reply.text.encode("utf-8", "replace"))


class ImapUpgrade:
    """IMAP ``STARTTLS`` (RFC 9051 §6.2.1, RFC 3501 §6.2.1)."""

    name = "imap"
    _REFUSED = "IMAP server does not offer STARTTLS"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "IMAP")
        greeting = await stream.read_line()
        status = greeting.split(b" ", 2)[1:2]
        if not greeting.startswith(b"* ") or not status:
            raise stream.not_protocol(greeting)
        if status[0].upper() == b"PREAUTH":
            raise StartTlsFailure(f"{self._REFUSED} (it logged us in without TLS: PREAUTH)")
        if status[0].upper() != b"OK":
            raise StartTlsFailure(f"IMAP server is not ready ({describe_answer(greeting)})")
        await stream.send(b"a1 CAPABILITY\r\n")
        capabilities: set[bytes] = set()
        for line in await self._until_tagged(stream, b"a1"):
            words = line.upper().split()
            if words[:2] == [b"*", b"CAPABILITY"]:
                capabilities.update(words[2:])
        if b"STARTTLS" not in capabilities:
            raise StartTlsFailure(self._REFUSED)
        await stream.send(b"a2 STARTTLS\r\n")
        await self._until_tagged(stream, b"a2")
        stream.finish()

    async def _until_tagged(self, stream: PlainStream, tag: bytes) -> list[bytes]:
        """Untagged lines up to the tagged answer, which must be ``OK``."""
        untagged: list[bytes] = []
        while True:
            line = await stream.read_line()
            if line.startswith(b"* "):
                untagged.append(line)
                continue
            words = line.split(b" ", 2)
            if words[0] != tag or len(words) < 2:
                raise stream.not_protocol(line)
            if words[1].upper() != b"OK":
                raise StartTlsFailure(f"{self._REFUSED} (it answered {describe_answer(line)})")
            return untagged


class Pop3Upgrade:
    """POP3 ``STLS`` (RFC 2595 §4)."""

    name = "pop3"

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "POP3")
        greeting = await stream.read_line()
        if greeting.startswith(b"-ERR"):
            raise StartTlsFailure(f"POP3 server is not ready ({describe_answer(greeting)})")
        if not greeting.startswith(b"+OK"):
            raise stream.not_protocol(greeting)
        await stream.send(b"STLS\r\n")
        answer = await stream.read_line()
        if answer.startswith(b"-ERR"):
            raise StartTlsFailure(
                "POP3 server does not offer STARTTLS (STLS) "
                f"(it answered {describe_answer(answer)})"
            )
        if not answer.startswith(b"+OK"):
            raise stream.not_protocol(answer)
        stream.finish()
