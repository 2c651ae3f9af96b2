"""Loopback servers for TLS tests: a real TLS server, a silent one, and a non-TLS one.

    with SniTlsServer(default.chain_file, default.key_file) as server:
        server.add_host("valid.test", valid.chain_file, valid.key_file)
        ...  # TlsChecker(connect_to=[ConnectRule.parse(f"::127.0.0.1:{server.port}")])

Each server listens on 127.0.0.1 on a random port and runs its own asyncio loop in a
daemon thread, so synchronous and asynchronous tests (and any event loop they run) can
share one server. ``stop()`` closes every connection it still holds, so nothing is
left for the garbage collector to warn about.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)

_LOOPBACK = "127.0.0.1"
#: Listen backlog: benchmarks open a thousand connections at once.
_BACKLOG = 4096
_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0
#: How long the TLS server waits for a client to finish its handshake.
_SERVER_HANDSHAKE_TIMEOUT_SECONDS = 10.0
#: How long the plain server waits for the client to hang up after answering.
_PLAIN_LINGER_SECONDS = 5.0
_HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 12\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"Bad Request\n"
)


def closed_port() -> int:
    """A loopback port nothing listens on (bound for a moment, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Clients hang up mid-handshake on purpose (failed verification, cancellation);
    # that is normal here and must not print tracebacks into test output.
    log.debug("loopback server: %s", context.get("message"), exc_info=context.get("exception"))


class UnansweredPort:
    """A loopback port where TCP connects get no answer at all (a connect timeout).

    It listens with a backlog of 0 and fills that one slot itself without ever
    accepting, so the kernel silently drops every further SYN, like a firewall that
    drops packets.
    """

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._filler: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("UnansweredPort is not started")
        port: int = self._listener.getsockname()[1]
        return port

    def start(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((_LOOPBACK, 0))
        listener.listen(0)
        self._listener = listener
        self._filler = socket.create_connection(listener.getsockname(), timeout=5)
        return self

    def stop(self) -> None:
        for sock in (self._filler, self._listener):
            if sock is not None:
                sock.close()
        self._filler = self._listener = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LoopbackServer:
    """A TCP listener on 127.0.0.1 served by its own event loop in a daemon thread.

    Subclasses implement ``_serve_connection``, which owns the accepted socket.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        #: Where to listen; set before ``start()`` to serve on another loopback
        #: address (127.0.0.2...) or a given port (several addresses, one port).
        self.bind_address = _LOOPBACK
        self.bind_port = 0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_SECONDS):
            raise RuntimeError(f"{type(self).__name__} did not start")
        if self._startup_error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop_requested is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended (failed start)
                loop.call_soon_threadsafe(stop_requested.set)
        thread.join(_STOP_TIMEOUT_SECONDS)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_exception_handler)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as exc:
            self._startup_error = exc
        finally:
            ready.set()
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stop_requested = asyncio.Event()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.bind_address, self.bind_port))
            listener.listen(_BACKLOG)
            listener.setblocking(False)
            self._port = listener.getsockname()[1]
            accepting = asyncio.create_task(self._accept(listener))
            ready.set()
            await self._stop_requested.wait()
            accepting.cancel()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(accepting, *self._handlers, return_exceptions=True)
            # Transports close their sockets in call_soon callbacks: let those run.
            for _ in range(3):
                await asyncio.sleep(0)
        finally:
            listener.close()

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError:  # e.g. out of file descriptors under a benchmark: retry
                await asyncio.sleep(0.01)
                continue
            task = loop.create_task(self._serve_connection(conn))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _serve_connection(self, conn: socket.socket) -> None:
        raise NotImplementedError


class SniTlsServer(LoopbackServer):
    """Completes a TLS handshake with the certificate picked by SNI, then hangs up.

    Connections without SNI (IP targets) and names never added get the default
    certificate. ``add_host("*.bench.test", ...)`` serves every name one label below.
    """

    def __init__(self, default_cert_file: Path, default_key_file: Path) -> None:
        super().__init__()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._default_context = self._server_context(default_cert_file, default_key_file)
        self._default_context.sni_callback = self._pick_certificate
        #: Handshakes completed / failed so far (read from any thread).
        self.handshakes = 0
        self.failed_handshakes = 0
        #: SNI of the most recent handshakes, oldest first (``None``: no SNI sent).
        self.server_names: collections.deque[str | None] = collections.deque(maxlen=100)

    def add_host(self, name: str, cert_file: Path, key_file: Path) -> None:
        """Serve ``cert_file`` (leaf, then any intermediates; PEM) for SNI ``name``."""
        self._contexts[name.lower()] = self._server_context(cert_file, key_file)

    @staticmethod
    def _server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.num_tickets = 0  # nothing to send after the handshake
        return context

    def _pick_certificate(
        self, ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        self.server_names.append(server_name)
        if server_name is None:
            return
        name = server_name.lower()
        context = self._contexts.get(name) or self._contexts.get("*." + name.partition(".")[2])
        if context is not None:
            ssl_object.context = context

    async def _serve_connection(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.connect_accepted_socket(
                asyncio.Protocol,
                conn,
                ssl=self._default_context,
                ssl_handshake_timeout=_SERVER_HANDSHAKE_TIMEOUT_SECONDS,
            )
        except OSError:  # the client gave up: failed verification, timeout, cancel
            self.failed_handshakes += 1
            return
        self.handshakes += 1
        transport.abort()


class HangingServer(LoopbackServer):
    """Accepts TCP connections and never sends a byte (a handshake that never ends)."""

    def __init__(self) -> None:
        super().__init__()
        #: Connections accepted and not yet closed by the client (read from any thread).
        self.open_connections = 0
        self.accepted = 0

    async def _serve_connection(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self.accepted += 1
        self.open_connections += 1
        try:
            while await loop.sock_recv(conn, 65536):
                pass  # swallow the ClientHello; only the client's hang-up ends this
        except OSError:
            pass
        finally:
            self.open_connections -= 1
            conn.close()


class PlainHttpServer(LoopbackServer):
    """Answers whatever it is sent with ``HTTP/1.1 400 Bad Request``: not TLS at all."""

    async def _serve_connection(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_recv(conn, 65536)
            await loop.sock_sendall(conn, _HTTP_400)
            conn.shutdown(socket.SHUT_WR)
            # Wait for the client to hang up: closing with its bytes unread would
            # send a reset that could overtake our answer.
            async with asyncio.timeout(_PLAIN_LINGER_SECONDS):
                while await loop.sock_recv(conn, 65536):
                    pass
        except (OSError, TimeoutError):
            pass
        finally:
            conn.close()
