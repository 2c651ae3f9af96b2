"""End to end: a real SMTP server on loopback, the loopback TLS/RDAP world, the CLI.

Request a code, read it from the delivered mail, register, manage; run
``domaincheck-backend run-checks`` against the world and get one reminder (and none
on the second run); unsubscribe with the mail's own one-click link.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from backend.cli import main as backend_main
from backend.config import get_settings
from tests.backend.conftest import TEST_SECRET
from tests.helpers.backend_server import SmtpInbox
from tests.helpers.backend_server import free_port as _free_port
from tests.helpers.rdap_server import RdapServer, write_bootstrap

EMAIL = "owner@example.com"


@pytest.fixture
def smtp_server():
    with SmtpInbox() as inbox:
        yield inbox, inbox.port


@pytest.fixture
def rdap(tmp_path):
    with RdapServer() as server:
        now = datetime.now(UTC)
        server.add_domain("valid.test", expires=now + timedelta(days=400))
        server.add_domain("expiring.test", expires=now + timedelta(days=400))
        server.add_domain("expired.test", expires=now + timedelta(days=5, hours=2))
        bootstrap = write_bootstrap(tmp_path / "dns.json", {"test": server.base_url})
        yield server, bootstrap


def test_sign_up_remind_unsubscribe(make_client, sqlite_url, smtp_server, rdap, world, monkeypatch):
    inbox, smtp_port = smtp_server
    rdap_server, bootstrap = rdap
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_tls": "none"}
    client = make_client(sqlite_url, use_clock=False, **smtp)
    # make_client injects a fake mailer; this test wants the real SMTP one.
    from backend.email import SmtpMailer

    client.app.state.mailer = SmtpMailer(host="127.0.0.1", port=smtp_port, tls="none")

    # 1. A code by email.
    response = client.post("/api/otp/generate", json={"email": EMAIL, "operation": "register"})
    assert response.json()["status"] == "sent"
    assert len(inbox.messages) == 1 and inbox.envelopes[0][1] == [EMAIL]
    code = re.search(r"^\s+(\d{6})\s*$", inbox.body(0), re.MULTILINE).group(1)
    assert code in inbox.messages[0]["Subject"]

    # 2. Register and manage.
    domains = ["valid.test", "expiring.test", "expired.test", "wronghost.test"]
    response = client.post(
        "/api/notifications/register",
        json={"email": EMAIL, "domains": domains, "otp": code, "threshold_days": 30},
    )
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/notifications", headers=auth).json()["email"] == "o***@example.com"

    # 3. run-checks against the loopback world, twice.
    for key, value in {
        **world.env,
        "DOMAINCHECK_RDAP_BOOTSTRAP": str(bootstrap),
        "DOMAINCHECK_TIMEOUT": "5",
        "DATABASE_URL": sqlite_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TLS": "none",
        "OTP_SECRET": TEST_SECRET,
        "PUBLIC_URL": "http://testserver",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        assert backend_main(["run-checks"]) == 0
        assert len(inbox.messages) == 2
        reminder = inbox.messages[1]
        text = inbox.body(1)
        expiring = r"expiring\.test\r?\n\s+Expiring: certificate expires in (9|10) days"
        assert re.search(expiring, text)
        assert "expired.test" in text and "certificate expired" in text
        assert "domain registration expires in 5 days" in text
        assert "wronghost.test" in text and "not valid" in text
        assert "valid.test\n" not in text and "* valid.test" not in text
        assert rdap_server.request_log  # registration dates came from RDAP
        assert backend_main(["run-checks"]) == 0
        assert len(inbox.messages) == 2  # nothing new: no duplicate
    finally:
        get_settings.cache_clear()

    status = {
        d["domain"]: d["last_status"]
        for d in client.get("/api/notifications", headers=auth).json()["details"]
    }
    assert status == {
        "valid.test": "valid",
        "expiring.test": "expiring",
        "expired.test": "expired",
        "wronghost.test": "invalid",
    }

    # 4. One-click unsubscribe (RFC 8058) with the link from the reminder's header.
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = reminder["List-Unsubscribe"].strip("<>")
    assert link in text
    parts = urlsplit(link)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and "Unsubscribe" in page.text
    response = client.post(
        f"{parts.path}?{parts.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert client.get("/api/notifications", headers=auth).status_code == 401


def test_outbox_without_smtp(tmp_path, sqlite_url, make_client, caplog):
    from fastapi.testclient import TestClient

    from backend.app import create_app
    from tests.backend.conftest import make_settings

    outbox = tmp_path / "outbox"
    settings = make_settings(sqlite_url, outbox_dir=outbox)
    with caplog.at_level("INFO"), TestClient(create_app(settings)) as client:
        response = client.post("/api/otp/generate", json={"email": EMAIL, "operation": "register"})
    assert response.json()["status"] == "sent"
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == EMAIL
    assert str(files[0]) in caplog.text


def test_smtp_down_is_503(make_client, sqlite_url):
    from backend.email import SmtpMailer

    client = make_client(sqlite_url)
    client.app.state.mailer = SmtpMailer(
        host="127.0.0.1", port=_free_port(), tls="none", timeout_seconds=2
    )
    response = client.post("/api/otp/generate", json={"email": EMAIL, "operation": "register"})
    assert response.status_code == 503
    assert response.json()["status"] == "error"
