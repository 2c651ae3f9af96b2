"""XMPP STARTTLS (RFC 6120 §5), client-to-server and server-to-server.

We open a stream to the host, read ``<stream:features>`` and need ``<starttls>`` in
the TLS namespace there, send ``<starttls/>`` and wait for ``<proceed/>``. An XMPP
stream never ends before TLS, so a full XML parser would have nothing to finish;
instead a few patterns are matched on the bounded buffer as it grows. They accept
either quote character, any attribute order and any namespace prefix, which is all
the variation servers show in this part of the stream.
"""

from __future__ import annotations

import asyncio
import re
import socket
from xml.sax.saxutils import quoteattr

from core.errors import StartTlsFailure
from core.starttls.base import PlainStream

_TLS_NAMESPACE = "urn:ietf:params:xml:ns:xmpp-tls"
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_FEATURES = re.compile(
    rb"<" + _PREFIX + rb"features\b[^>]*?(?:/>|>.*?</" + _PREFIX + rb"features\s*>)", re.DOTALL
)
_STREAM_ERROR = re.compile(
    rb"<" + _PREFIX + rb"error\b.*?(?:/>|</" + _PREFIX + rb"error\s*>)", re.S
)
_STREAM_END = re.compile(rb"</" + _PREFIX + rb"stream\s*>")
_ERROR_CONDITION = re.compile(
    rb"<([a-z][a-z-]*)\b[^>]*xmlns\s*=\s*['\"]urn:ietf:params:xml:ns:xmpp-streams"
)
_STARTTLS = re.compile(
    rb"<starttls\b[^>]*\bxmlns\s*=\s*(['\"])" + re.escape(_TLS_NAMESPACE.encode()) + rb"\1"
)
_PROCEED = re.compile(rb"<" + _PREFIX + rb"proceed\b[^>]*>(?:\s*</" + _PREFIX + rb"proceed\s*>)?")
_FAILURE = re.compile(rb"<" + _PREFIX + rb"failure\b")


class XmppUpgrade:
    """XMPP ``<starttls/>``; ``server=True`` speaks server-to-server (port 5269)."""

    def __init__(self, *, server: bool = False) -> None:
        self.name = "xmpp-server" if server else "xmpp"
        self._namespace = "jabber:server" if server else "jabber:client"

    def stream_header(self, host: str) -> bytes:
        """The opening stream tag that names the host we want (``to``)."""
        return (
            "<?xml version='1.0'?>"
            f"<stream:stream xmlns='{self._namespace}'"
            " xmlns:stream='http://etherx.jabber.org/streams'"
            f" to={quoteattr(host)} version='1.0'>"
        ).encode()

    async def prepare(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str
    ) -> None:
        stream = PlainStream(loop, sock, "XMPP")
        await stream.send(self.stream_header(host))
        features = await self._wait_for(stream, _FEATURES)
        if not _STARTTLS.search(features):
            raise StartTlsFailure("XMPP server does not offer STARTTLS")
        await stream.send(f"<starttls xmlns='{_TLS_NAMESPACE}'/>".encode())
        await self._wait_for(stream, _PROCEED)
        stream.finish()

    async def _wait_for(self, stream: PlainStream, pattern: re.Pattern[bytes]) -> bytes:
        """Read until ``pattern`` matches; consume and return everything up to its end."""
        data = stream.buffered
        while True:
            if data.strip() and not data.lstrip().startswith(b"<"):  # XML starts with a tag
                raise stream.not_protocol(data)
            found = pattern.search(data)
            if found is not None:
                stream.consume(found.end())
                return data[: found.end()]
            self._raise_if_refused(data)
            data = await stream.read_more()

    @staticmethod
    def _raise_if_refused(data: bytes) -> None:
        error = _STREAM_ERROR.search(data)
        if error is not None:
            condition = _ERROR_CONDITION.search(error.group(0))
            reason = condition.group(1).decode() if condition else "no reason given"
            raise StartTlsFailure(f"XMPP server closed the stream: {reason}")
        if _FAILURE.search(data):
            raise StartTlsFailure("XMPP server refused STARTTLS (<failure/>)")
        if _STREAM_END.search(data):
            raise StartTlsFailure("XMPP server closed the stream before offering STARTTLS")
