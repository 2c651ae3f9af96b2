"""A database outage gives JSON 503s with Retry-After; health checks never wait for mail."""

from __future__ import annotations

import concurrent.futures
import threading

import httpx

from backend.app import create_app
from backend.email import MailError
from tests.backend.conftest import Outage, make_settings
from tests.helpers.backend_server import serve


def test_api_routes_answer_json_503_while_the_database_is_down(client):
    outage = Outage(client.app.state.engine)
    outage.start()
    try:
        responses = [
            client.post(
                "/api/otp/generate", json={"email": "a@example.com", "operation": "manage"}
            ),
            client.get("/api/notifications", headers={"Authorization": "Bearer x" * 3}),
            client.post("/api/check", json={"domains": ["example.com"]}),
            client.get("/unsubscribe", params={"token": "0" * 32 + ".x"}),
        ]
    finally:
        outage.stop()
    for response in responses[:3]:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["status"] == "error"
        assert "temporarily unavailable" in response.json()["message"]
        assert int(response.headers["Retry-After"]) > 0
    # A bad link needs no database: still a page, not an error.
    assert responses[3].status_code == 404
    # And the service is back once the database is.
    ok = client.post("/api/otp/generate", json={"email": "a@example.com", "operation": "manage"})
    assert ok.status_code == 200


class BlockingMailer:
    """A relay that accepts connections but holds every send until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def send(self, message) -> None:
        self.started.release()
        if not self.release.wait(30):
            raise MailError("SMTP delivery failed (TimeoutError)")


def test_health_endpoints_answer_while_a_slow_relay_holds_sends(sqlite_url):
    mailer = BlockingMailer()
    settings = make_settings(sqlite_url, rate_limit_ip_otp_per_hour=1000, mail_concurrency=8)
    app = create_app(settings, mailer=mailer)
    requests = 45  # more than anyio's 40 default worker threads
    with (
        serve(app) as base_url,
        concurrent.futures.ThreadPoolExecutor(requests) as pool,
        httpx.Client(base_url=base_url, timeout=60) as http,
    ):
        futures = [
            pool.submit(
                http.post,
                "/api/otp/generate",
                json={"email": f"user{i}@example.com", "operation": "register"},
            )
            for i in range(requests)
        ]
        for _ in range(8):  # every mail thread is now stuck in the relay
            assert mailer.started.acquire(timeout=20)
        try:
            with httpx.Client(base_url=base_url, timeout=5) as probe:
                assert probe.get("/healthz").status_code == 200
                assert probe.get("/readyz").status_code == 200
        finally:
            mailer.release.set()
        statuses = [future.result().status_code for future in futures]
    assert statuses == [200] * requests
