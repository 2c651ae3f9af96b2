"""Analytics with the real PostHog SDK against a local stand-in capture endpoint.

Checks what is sent (the flow events, request context IDs) and, above all, what is
never sent: addresses, domains, tokens, codes, IPs, raw paths, exception messages.
Also: no client at all without a key, and a bounded shutdown when the host hangs.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.analytics import NullAnalytics, PosthogAnalytics, analytics_from_settings, scrub_event
from tests.backend.conftest import TestClient, make_settings
from tests.backend.test_otp_api import EMAIL


class CaptureServer:
    def __init__(self) -> None:
        self.batches: list[dict] = []
        self.raw: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip" or body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                outer.raw.append(body)
                with contextlib.suppress(ValueError):
                    outer.batches.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": 1}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def events(self) -> list[dict]:
        found = []
        for batch in self.batches:
            found.extend(batch.get("batch", []) if isinstance(batch, dict) else [])
        return found

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    server = CaptureServer()
    yield server
    server.stop()


def test_no_key_no_client(sqlite_url):
    assert isinstance(analytics_from_settings(make_settings(sqlite_url)), NullAnalytics)


def test_events_are_sent_and_privacy_safe(capture, sqlite_url, mailer):
    from backend.app import create_app

    settings = make_settings(
        sqlite_url, posthog_api_key="phc_test", posthog_host=capture.url, posthog_shutdown_seconds=5
    )
    app = create_app(settings, mailer=mailer)
    headers = {"X-POSTHOG-DISTINCT-ID": "desktop-1234", "X-POSTHOG-SESSION-ID": "sess-5678"}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert isinstance(app.state.analytics, PosthogAnalytics)
        client.post(
            "/api/otp/generate", json={"email": EMAIL, "operation": "register"}, headers=headers
        )
        code = mailer.codes_for(EMAIL)[0]
        wrong = client.post(
            "/api/notifications/register",
            json={
                "email": EMAIL,
                "domains": ["secret-domain.example"],
                "otp": "000000" if code != "000000" else "111111",
            },
        )
        assert wrong.status_code == 403
        ok = client.post(
            "/api/notifications/register",
            json={"email": EMAIL, "domains": ["secret-domain.example"], "otp": code},
            headers=headers,
        )
        token = ok.json()["token"]
        client.get("/api/notifications", headers={"Authorization": f"Bearer {token}"})
        client.get(f"/unsubscribe?token=raw-path-{token}")
        client.get("/no/such/path/secret-domain.example")
    # Lifespan shutdown flushed everything.
    events = capture.events()
    names = [e["event"] for e in events]
    for expected in (
        "api_request",
        "otp_generated",
        "otp_email_sent",
        "otp_verification_attempted",
        "domain_registration_completed",
        "domain_registration_error",
    ):
        assert expected in names, names
    requests = [e for e in events if e["event"] == "api_request"]
    routes = {e["properties"]["route"] for e in requests}
    assert {
        "/api/otp/generate",
        "/api/notifications/register",
        "/api/notifications",
        "/unsubscribe",
        "unmatched",
    } <= routes
    first = requests[0]
    assert first["distinct_id"] == "desktop-1234"
    assert first["properties"]["$session_id"] == "sess-5678"
    assert first["properties"]["method"] == "POST" and first["properties"]["status_code"] == 200
    personless = [e for e in requests if e["distinct_id"] != "desktop-1234"]
    assert personless and all(
        e["properties"].get("$process_person_profile") is False for e in personless
    )
    attempts = [
        e["properties"]["success"] for e in events if e["event"] == "otp_verification_attempted"
    ]
    assert attempts == [False, True]
    everything = b"".join(capture.raw).decode()
    for secret in (
        EMAIL,
        "example.com",
        "secret-domain",
        token,
        code,
        "127.0.0.1",
        "testclient",
        "raw-path",
        "no/such",
    ):
        assert secret not in everything, secret


def test_exception_messages_are_scrubbed():
    event = {
        "event": "$exception",
        "properties": {
            "$exception_list": [
                {
                    "type": "ValueError",
                    "value": "bad domain secret.example for jane@example.com",
                    "mechanism": {"handled": False},
                    "stacktrace": {
                        "type": "raw",
                        "frames": [
                            {
                                "filename": "x.py",
                                "lineno": 3,
                                "function": "f",
                                "context_line": "email = 'jane@example.com'",
                                "code_variables": {"email": "jane@example.com"},
                            },
                            {
                                "filename": "/home/jane/app/backend/y.py",
                                "abs_path": "/home/jane/app/backend/y.py",
                                "lineno": 9,
                                "function": "g",
                                "pre_context": ["token = 'abc'"],
                            },
                        ],
                    },
                }
            ],
            "$exception_message": "bad domain secret.example",
            "$lib": "posthog-python",
        },
    }
    cleaned = json.dumps(scrub_event(event))
    assert "jane@" not in cleaned and "secret.example" not in cleaned
    assert "ValueError" in cleaned and "x.py" in cleaned
    assert "/home/jane" not in cleaned and "abs_path" not in cleaned
    assert '"y.py"' in cleaned and "token" not in cleaned


def test_shutdown_is_bounded_when_the_host_hangs(sqlite_url, mailer):
    from backend.app import create_app

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)  # accepts, never answers
    try:
        settings = make_settings(
            sqlite_url,
            posthog_api_key="phc_test",
            posthog_host=f"http://127.0.0.1:{hang.getsockname()[1]}",
            posthog_shutdown_seconds=1.0,
        )
        client = TestClient(create_app(settings, mailer=mailer))
        client.__enter__()
        for _ in range(5):
            client.get("/healthz")
        started = time.monotonic()
        client.__exit__(None, None, None)
        assert time.monotonic() - started < 4
    finally:
        hang.close()
