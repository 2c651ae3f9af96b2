"""What every STARTTLS dialect shares: the :class:`Upgrade` interface and a bounded reader.

A dialect speaks a few plaintext lines (or packets) on a connected, non-blocking
socket and then hands that same socket to the TLS code. Two things make this
different from ordinary protocol clients, and :class:`PlainStream` handles both once:

* **Nothing may be read past the server's last plaintext answer.** Whatever follows
  it belongs to TLS. Servers are silent until our ClientHello, so a line reader may
  ``recv`` freely; binary dialects read exactly the bytes they expect. A leftover in
  the buffer at the end is a protocol violation (:meth:`PlainStream.finish`).
* **Every read is bounded**: :data:`MAX_PROLOGUE_BYTES` in all, and in time by the
  caller, which wraps :meth:`Upgrade.prepare` in ``asyncio.timeout_at``. Socket errors
  become :class:`~core.errors.StartTlsFailure` naming the protocol, so no caller sees
  a raw ``OSError``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

from core.errors import ErrorKind, StartTlsFailure, describe_os_error

#: The most a server may send before TLS starts (greetings, capability lists).
MAX_PROLOGUE_BYTES = 64 * 1024
#: The longest line a line-based dialect accepts.
MAX_LINE_BYTES = 8 * 1024
_RECV_BYTES = 4096
#: How much of an unexpected answer an error message quotes.
_QUOTE_CHARS = 60


class Upgrade(Protocol):
    """One STARTTLS dialect: the plaintext prologue before a TLS ClientHello.

    Implementations are stateless, so one instance serves any number of connections
    at once (the TLS check may connect twice to the same server).
    """

    #: The protocol's name, as in a URL scheme and the JSON ``protocol`` ("smtp").
    name: str

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        """Speak the plaintext prologue on ``sock`` until the server awaits a ClientHello.

        ``host`` is the name asked for (XMPP puts it in its stream header). Raises
        :class:`~core.errors.StartTlsFailure` with a sentence naming the protocol.
        """
        ...


def describe_answer(data: bytes) -> str:
    """A short, printable account of what a server sent, for an error message."""
    if data.lstrip().startswith(b"HTTP/"):
        return "an HTTP response"
    text = data.strip()
    if not text:
        return "an empty line"
    printable = sum(32 <= byte < 127 or byte in b"\t\r\n" for byte in text)
    if printable < len(text):
        return "binary data"
    decoded = text.decode("ascii")
    first_line = decoded.splitlines()[0]
    if len(first_line) > _QUOTE_CHARS:
        first_line = first_line[:_QUOTE_CHARS] + "…"
    return repr(first_line)


class PlainStream:
    """Bounded, buffered plaintext I/O on one connection, for one dialect's prologue.

    ``label`` names the protocol in messages ("SMTP"). Create one per connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, label: str) -> None:
        self._loop = loop
        self._sock = sock
        self.label = label
        self._buffer = bytearray()
        self._received = 0

    # ------------------------------------------------------------------ errors

    def not_protocol(self, data: bytes) -> StartTlsFailure:
        """The server answered something that is not this protocol."""
        answer = describe_answer(data)
        if answer == "an HTTP response":
            return StartTlsFailure(f"an HTTP server answered, not a {self.label} server")
        return StartTlsFailure(f"server answered something that is not {self.label}: {answer}")

    # ------------------------------------------------------------------ sending

    async def send(self, data: bytes) -> None:
        try:
            await self._loop.sock_sendall(self._sock, data)
        except OSError as exc:
            raise self._os_failure(exc) from exc

    # ------------------------------------------------------------------ reading

    async def _receive(self, max_bytes: int) -> None:
        """Append what the server sends next (at most ``max_bytes``) to the buffer."""
        room = MAX_PROLOGUE_BYTES - self._received
        if room <= 0:
            raise StartTlsFailure(
                f"the {self.label} server sent more than {MAX_PROLOGUE_BYTES // 1024} KiB "
                "without getting ready for TLS"
            )
        try:
            data = await self._loop.sock_recv(self._sock, min(max_bytes, room))
        except OSError as exc:
            raise self._os_failure(exc) from exc
        if not data:
            raise StartTlsFailure(
                f"the {self.label} server closed the connection before TLS started",
                kind=ErrorKind.RESET,
            )
        self._received += len(data)
        self._buffer += data

    def _os_failure(self, exc: OSError) -> StartTlsFailure:
        kind, reason = describe_os_error(exc)
        return StartTlsFailure(f"{reason} while talking {self.label} before TLS", kind=kind)

    async def read_line(self) -> bytes:
        """The next line, without its line ending (``\\r\\n`` or ``\\n``)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end]).rstrip(b"\r")
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                raise self.not_protocol(bytes(self._buffer))
            await self._receive(_RECV_BYTES)

    async def read_exact(self, size: int) -> bytes:
        """Exactly ``size`` bytes, never reading past them."""
        if size > MAX_PROLOGUE_BYTES:
            raise StartTlsFailure(
                f"the {self.label} server announced a {size}-byte message, too long to accept"
            )
        while len(self._buffer) < size:
            await self._receive(size - len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def read_more(self) -> bytes:
        """Everything buffered after one more receive (for incremental parsers)."""
        await self._receive(_RECV_BYTES)
        return bytes(self._buffer)

    def pending(self, size: int = 256) -> bytes:
        """What is buffered plus what already waits in the socket, without waiting.

        Only for wording an error about a server that speaks something else: the
        bytes are peeked, not consumed.
        """
        try:
            waiting = self._sock.recv(size, socket.MSG_PEEK)
        except OSError:  # BlockingIOError: nothing more has arrived
            waiting = b""
        return bytes(self._buffer) + waiting

    @property
    def buffered(self) -> bytes:
        return bytes(self._buffer)

    def consume(self, size: int) -> None:
        del self._buffer[:size]

    def finish(self) -> None:
        """Check that nothing was sent past the last plaintext answer.

        Bytes there would be read as TLS, or worse, injected into it (the STARTTLS
        command injection attacks): a server that sends them is not followed.
        """
        if self._buffer:
            raise StartTlsFailure(f"the {self.label} server sent data after agreeing to start TLS")
