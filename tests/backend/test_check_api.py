"""``POST /api/check`` answers with the CLI's JSON document (loopback world)."""

from __future__ import annotations

import dataclasses

from backend.api.deps import get_core_settings


def test_check_returns_the_cli_document(make_client, sqlite_url, world):
    client = make_client(sqlite_url, use_clock=False)
    core = dataclasses.replace(world.settings(), check_rdap=False, timeout_seconds=5)
    client.app.dependency_overrides[get_core_settings] = lambda: core
    response = client.post(
        "/api/check",
        json={"domains": ["valid.test", "expired.test", "a..b", "10.1.2.3"], "threshold_days": 30},
    )
    assert response.status_code == 200, response.text
    document = response.json()
    assert set(document) == {"checked_at", "threshold_days", "results", "input_errors"}
    assert [r["domain"] for r in document["results"]] == ["valid.test", "expired.test"]
    assert [r["status"] for r in document["results"]] == ["valid", "expired"]
    assert document["results"][0]["tls"]["fingerprint_sha256"]
    assert [e["line"] for e in document["input_errors"]] == [3, 4]


def test_check_limits(make_client, sqlite_url):
    client = make_client(sqlite_url, rate_limit_ip_check_per_hour=1)
    too_many = client.post("/api/check", json={"domains": [f"d{i}.test" for i in range(101)]})
    assert too_many.status_code == 422
    assert client.post("/api/check", json={"domains": []}).status_code == 422
    assert client.post("/api/check", json={"domains": ["# only a comment"]}).status_code == 422
    limited = client.post("/api/check", json={"domains": ["# only a comment"]})
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_check_expands_mx_entries_like_the_cli(make_client, sqlite_url, world, endpoint_world):
    from tests.helpers.endpoint_world import MAIL_DOMAIN, MX_HOSTS, NULL_MX_DOMAIN
    from tests.helpers.starttls_servers import StartTlsServers

    client = make_client(sqlite_url, use_clock=False)
    with StartTlsServers(world.pki) as servers:
        base = endpoint_world.settings(check_rdap=False, timeout_seconds=5)
        core = dataclasses.replace(
            base, connect_to=(*endpoint_world.serve_mail(servers), *base.connect_to)
        )
        client.app.dependency_overrides[get_core_settings] = lambda: core
        response = client.post(
            "/api/check", json={"domains": [f"mx:{MAIL_DOMAIN}", f"mx:{NULL_MX_DOMAIN}"]}
        )
    assert response.status_code == 200, response.text
    document = response.json()
    assert [(r["domain"], r["protocol"], r["status"]) for r in document["results"]] == [
        (MX_HOSTS[0], "smtp", "valid"),
        (MX_HOSTS[1], "smtp", "valid"),
    ]
    assert [e["error"] for e in document["input_errors"]] == [
        f"{NULL_MX_DOMAIN} accepts no mail (null MX)"
    ]


def test_check_counts_the_request_off_the_event_loop(make_client, sqlite_url, monkeypatch):
    """The rate-limit row is written in a worker thread: a slow or locked database
    must not freeze the event loop that answers /healthz."""
    import asyncio

    from backend import otp

    on_loop: list[bool] = []
    real = otp.enforce_ip_limit

    def recording(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(otp, "enforce_ip_limit", recording)
    client = make_client(sqlite_url)
    response = client.post("/api/check", json={"domains": ["# only a comment"]})
    assert response.status_code == 422
    assert on_loop == [False]


def test_a_silent_database_fails_the_connection_instead_of_hanging(monkeypatch):
    """An engine on PostgreSQL gives up connecting (and waiting for the pool)."""
    import socket
    import threading

    from backend import db

    monkeypatch.setattr(db, "CONNECT_TIMEOUT_SECONDS", 2)
    with socket.socket() as listener:  # accepts the TCP connection, never speaks
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        engine = db.make_engine(f"postgresql://nobody@127.0.0.1:{port}/nothing")
        assert engine.pool.timeout() == db.POOL_TIMEOUT_SECONDS
        failures: list[BaseException] = []

        def connect() -> None:
            try:
                db.ping(engine)
            except Exception as exc:
                failures.append(exc)

        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(30)
        alive = thread.is_alive()
        engine.dispose()
    assert not alive, "the connection attempt never gave up"
    assert failures


def test_whois_lookups_of_a_check_end_by_its_deadline(make_client, sqlite_url, world, monkeypatch):
    """A WHOIS server that does not answer holds no request for minutes: at the
    request's WHOIS deadline the names still waiting get a "timed out" error."""
    from backend.api.routes import check as check_route
    from core.config import WhoisServer
    from tests.helpers.world import HANG_HOST

    monkeypatch.setattr(check_route, "whois_deadline_seconds", lambda settings: 0.5)
    client = make_client(sqlite_url, use_clock=False)
    core = world.settings(
        timeout_seconds=5,
        whois_servers=(WhoisServer("io", HANG_HOST, 43),),  # accepts, never answers
    )
    client.app.dependency_overrides[get_core_settings] = lambda: core
    response = client.post("/api/check", json={"domains": ["slow-one.io", "slow-two.io"]})
    assert response.status_code == 200, response.text
    registrations = [r["registration"] for r in response.json()["results"]]
    assert len(registrations) == 2
    for registration in registrations:
        assert registration["error"] == (
            "the WHOIS lookup did not finish in the time this check allows"
        )
        assert registration["method"] == "whois"


def test_the_whois_deadline_is_at_least_two_lookup_timeouts():
    from backend.api.routes.check import CHECK_WHOIS_DEADLINE_SECONDS, whois_deadline_seconds
    from core.config import Settings

    assert whois_deadline_seconds(Settings(timeout_seconds=5)) == CHECK_WHOIS_DEADLINE_SECONDS
    assert whois_deadline_seconds(Settings(timeout_seconds=30)) == 60
