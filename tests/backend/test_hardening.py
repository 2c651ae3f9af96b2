"""The small defences: private files, security headers, JSON-only bodies, global caps,
bounded checks, tokens and domains out of logs."""

from __future__ import annotations

import dataclasses
import logging
import socket
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend import db
from backend.api.deps import get_core_settings
from backend.email import OutboxMailer
from backend.logs import RedactQueryStrings, install_redaction
from core.config import ConnectRule
from core.models import Target
from core.rdap import RdapClient
from tests.backend.conftest import wait_for
from tests.backend.test_otp_api import EMAIL, generate, register
from tests.helpers.rdap_server import RdapServer, write_bootstrap


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- files


def test_sqlite_file_and_new_folder_are_private(tmp_path):
    path = tmp_path / "new" / "backend.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        db.migrate(engine)
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or mode(wal) == 0o600
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    path = tmp_path / "old.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    db.make_engine(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_outbox_files_are_private(tmp_path):
    from email.message import EmailMessage

    outbox = tmp_path / "outbox"
    message = EmailMessage()
    message["To"] = EMAIL
    message.set_content("code 123456")
    OutboxMailer(outbox).send(message)
    (eml,) = outbox.glob("*.eml")
    assert mode(eml) == 0o600
    assert mode(outbox) == 0o700


# --------------------------------------------------------------------------- headers, bodies


def test_html_pages_cannot_be_framed_or_sniffed(client):
    response = client.get("/unsubscribe", params={"token": "x"})
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    api = client.get("/healthz")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_api_bodies_must_be_json(client, mailer, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        "/api/otp/generate",
        content=b'{"email": "jane@example.com", "operation": "register"}',
        headers=headers,
    )
    assert response.status_code == 415
    assert response.json()["status"] == "error"
    assert mailer.sent == []


def test_json_with_a_charset_is_fine(client, mailer):
    response = client.post(
        "/api/otp/generate",
        content=b'{"email": "jane@example.com", "operation": "register"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_one_click_unsubscribe_still_posts_a_form(client):
    response = client.post(
        "/unsubscribe",
        params={"token": "x"},
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 404  # a bad token: the page, not a 415


# --------------------------------------------------------------------------- caps


def test_global_subscriber_cap(make_client, database_url, mailer):
    client = make_client(database_url, max_subscribers=1)
    generate(client)
    assert register(client, mailer.codes_for(EMAIL)[-1]).status_code == 200
    generate(client, email="other@example.com")
    response = register(
        client, mailer.codes_for("other@example.com")[-1], email="other@example.com"
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "capacity" in response.json()["message"]


def test_global_watched_names_cap(make_client, database_url, mailer):
    client = make_client(database_url, max_watched_names=3)
    generate(client)
    first = register(client, mailer.codes_for(EMAIL)[-1], domains=["a.com", "b.com"])
    assert first.status_code == 200
    generate(client, email="other@example.com")
    code = mailer.codes_for("other@example.com")[-1]
    too_many = register(client, code, email="other@example.com", domains=["c.com", "d.com"])
    assert too_many.status_code == 503
    # Nothing was stored and the code is unspent: a smaller request works.
    assert register(client, code, email="other@example.com", domains=["c.com"]).status_code == 200
    headers = {"Authorization": f"Bearer {first.json()['token']}"}
    grow = client.put(
        "/api/notifications", json={"domains": ["a.com", "b.com", "e.com"]}, headers=headers
    )
    assert grow.status_code == 503


# --------------------------------------------------------------------------- bounded checks


@pytest.fixture
def black_hole():
    """A TCP listener that accepts and never answers (a TLS handshake that never ends)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_concurrent_checks_are_bounded(make_client, sqlite_url, world, black_hole):
    client = make_client(sqlite_url, use_clock=False, max_concurrent_checks=1)
    core = dataclasses.replace(
        world.settings(),
        check_rdap=False,
        timeout_seconds=3,
        connect_to=(ConnectRule.parse(f"slow.test:443:127.0.0.1:{black_hole}"),),
    )
    client.app.dependency_overrides[get_core_settings] = lambda: core
    first: list[int] = []
    thread = threading.Thread(
        target=lambda: first.append(
            client.post("/api/check", json={"domains": ["slow.test"]}).status_code
        )
    )
    thread.start()
    wait_for(lambda: client.app.state.limits.checks.in_use == 1)
    second = client.post("/api/check", json={"domains": ["valid.test"]})
    thread.join(30)
    assert second.status_code == 503
    assert int(second.headers["Retry-After"]) > 0
    assert first == [200]
    assert client.app.state.limits.checks.in_use == 0
    assert client.post("/api/check", json={"domains": ["valid.test"]}).status_code == 200


def test_check_refuses_ipv6_forms_of_private_addresses(client):
    response = client.post(
        "/api/check",
        json={"domains": ["[::127.0.0.1]", "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::1]"]},
    )
    assert response.status_code == 200
    document = response.json()
    assert document["results"] == []
    assert [e["line"] for e in document["input_errors"]] == [1, 2, 3]


# --------------------------------------------------------------------------- logs


def test_access_log_lines_lose_their_query_string():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/unsubscribe?token=abc.def", "1.1", 200),
        None,
    )
    RedactQueryStrings().filter(record)
    line = record.getMessage()
    assert "abc.def" not in line and "/unsubscribe?…" in line


def test_served_access_log_has_no_tokens(sqlite_url):
    from backend.app import create_app
    from tests.backend.conftest import make_settings
    from tests.helpers.backend_server import serve

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    app = create_app(make_settings(sqlite_url))
    with serve(app, log_level="info") as base_url:
        logging.getLogger("uvicorn.access").addHandler(handler)
        try:
            import httpx

            httpx.get(f"{base_url}/unsubscribe", params={"token": "secret-token-value"}, timeout=10)
            wait_for(lambda: any("/unsubscribe" in line for line in lines))
        finally:
            logging.getLogger("uvicorn.access").removeHandler(handler)
    assert not any("secret-token-value" in line for line in lines)


async def test_rdap_requests_do_not_put_domains_in_info_logs(tmp_path, caplog):
    install_redaction()
    with RdapServer() as server:
        server.add_domain("watched-secret.test", datetime.now(UTC) + timedelta(days=100))
        bootstrap = write_bootstrap(tmp_path / "dns.json", {"test": server.base_url})
        with caplog.at_level(logging.INFO):
            async with RdapClient(
                bootstrap=str(bootstrap), cache_dir=tmp_path / "cache", refresh_bootstrap=False
            ) as client:
                registration = await client.lookup(Target("watched-secret.test"))
    assert registration.expires is not None
    assert "watched-secret" not in caplog.text
