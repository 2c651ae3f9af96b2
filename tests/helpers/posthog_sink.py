"""A stand-in PostHog capture endpoint on 127.0.0.1, for the real SDK to talk to.

    with PosthogSink() as sink:            # mode "ok"
        env = {"POSTHOG_API_KEY": "phc_test", "POSTHOG_HOST": sink.url}
        ...
        sink.wait_for_events(2)
        sink.events                        # every event received, in order
        sink.mode = "hang"                 # or "fail" (HTTP 500), "ok"

It records every request (``POST /batch/``, and the single-event ``/i/v0/e/``,
``/e/``, ``/capture/`` paths), gunzips bodies sent with ``Content-Encoding: gzip``
(or that start with the gzip magic), and keeps the raw bytes too, so privacy tests
can search the exact payload. Modes:

    ok     200 ``{"status": 1}``
    fail   500 (the SDK retries, then gives up)
    hang   reads the request, then never answers (until the sink is closed)
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

Mode = Literal["ok", "fail", "hang"]
EVENT_PATHS = ("/batch/", "/i/v0/e/", "/e/", "/capture/")


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes  # as sent on the wire (maybe gzipped)
    body: bytes  # decoded
    json: Any = field(default=None)

    @property
    def events(self) -> list[dict[str, Any]]:
        if not isinstance(self.json, dict):
            return []
        if isinstance(self.json.get("batch"), list):
            return [e for e in self.json["batch"] if isinstance(e, dict)]
        return [self.json] if "event" in self.json else []


class PosthogSink:
    def __init__(self, mode: Mode = "ok") -> None:
        self.mode: Mode = mode
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                sink._record(self, raw)
                mode = sink.mode
                if mode == "hang":
                    sink._release.wait()
                    return
                status = 200 if mode == "ok" else 500
                payload = b'{"status": 1}' if mode == "ok" else b'{"error": "sink fail mode"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="posthog-sink", daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ recording

    def _record(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        body = raw
        if handler.headers.get("Content-Encoding", "").lower() == "gzip" or raw[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):
                body = gzip.decompress(raw)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = ReceivedRequest(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            raw=raw,
            body=body,
            json=parsed,
        )
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request.events]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("event") == name]

    def payload_text(self) -> str:
        """Every decoded body, joined: for "this never appears anywhere" assertions."""
        return "\n".join(request.body.decode("utf-8", "replace") for request in self.requests)

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` events arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(len(r.events) for r in self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = sum(len(r.events) for r in self._requests)
                    raise AssertionError(f"sink got {got} events, expected {count}")
                self._changed.wait(remaining)
        return self.events

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"sink got {len(self._requests)} requests")
                self._changed.wait(remaining)
