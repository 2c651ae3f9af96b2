"""A tiny HTTP server on 127.0.0.1 for the test world's CA services (ACME, CRL, OCSP).

Subclasses answer with :meth:`SimpleHttpServer.respond`; the server runs in a daemon
thread, one thread per request, and records every request (method and path) so
tests can count what a client asked for (a cache that works asks once).
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

#: How quickly ``stop()`` returns: serve_forever() checks for shutdown this often.
_POLL_INTERVAL_SECONDS = 0.02
Answer = tuple[int, dict[str, str], bytes]


class SimpleHttpServer:
    """Plain HTTP on a random loopback port; override :meth:`respond`."""

    name = "simple-http"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[tuple[str, str]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def respond(self, method: str, path: str, body: bytes) -> Answer:
        """Status, headers and body for one request."""
        return 404, {}, b""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        handler = type("_BoundHandler", (_Handler,), {"service": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_SECONDS},
            name=self.name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request so far (a copy)."""
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str) -> int:
        """How many requests asked for ``path``."""
        with self._lock:
            return sum(1 for _, logged in self._log if logged == path)

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._log.append((method, path))


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up first
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    service: SimpleHttpServer  # set on the per-server subclass
    server_version = "TestCA/1.0"

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.service._record(method, self.path)
        status, headers, payload = self.service.respond(method, self.path, body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass
