"""Backend fixtures: databases (SQLite and a throwaway PostgreSQL), mailers, clients.

The PostgreSQL cluster is started once per session with ``initdb`` + ``pg_ctl`` on a
free loopback port, from binaries on ``PATH`` or under ``/usr/lib/postgresql/*/bin``
(``.ci/run`` installs the Debian package). PostgreSQL refuses to run as root, so as
root the server runs as the ``postgres`` system user (created if missing). Without
any binaries the PostgreSQL half of the storage tests is skipped, or fails when the
``CI`` variable is set. Each test gets a fresh database copied from a migrated
template (``CREATE DATABASE .. TEMPLATE``), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from backend import db
from backend.app import create_app
from backend.config import BackendSettings
from backend.email import MailError
from tests.helpers.postgres import (
    PostgresServer,
    PostgresUnavailable,
    running_postgres,
)

with warnings.catch_warnings():
    # starlette's TestClient warns about httpx at import; import it once, quietly.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TEST_SECRET = "test-secret-" + "x" * 32


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's cluster, with ``dc_template`` migrated (each test copies it)."""

    def migrate(url: str) -> None:
        engine = db.make_engine(url)
        db.migrate(engine)
        engine.dispose()

    try:
        with running_postgres(template=migrate) as server:
            yield server
    except PostgresUnavailable as exc:
        if os.environ.get("CI") or "not found" not in str(exc):
            pytest.fail(f"{exc} (required when CI is set)" if os.environ.get("CI") else str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"dc_test_{os.getpid()}_{next(postgres_server._counter)}"
    postgres_server.execute(f"CREATE DATABASE {name} TEMPLATE dc_template")
    yield postgres_server.database_url(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "backend.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Storage tests run once per database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


# --------------------------------------------------------------------------- mail


class FakeMailer:
    """Records messages; ``fail_next`` makes the next sends raise ``MailError``."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = 0
        self.lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise MailError("SMTP delivery failed (ConnectionRefusedError)")
            self.sent.append(message)

    def codes_for(self, address: str) -> list[str]:
        return [extract_code(m) for m in self.sent if m["To"] == address]


def extract_code(message: EmailMessage) -> str:
    import re

    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"^\s+(\d{6})\s*$", body.get_content(), re.MULTILINE)
    assert match, "no code in the email"
    return match.group(1)


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --------------------------------------------------------------------------- app


def make_settings(database_url: str, **overrides: Any) -> BackendSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "otp_secret": TEST_SECRET,
        "check_interval_seconds": 0,
        "auto_migrate": False,  # the test databases are copies of a migrated template
        "public_url": "http://testserver",
        "mail_from": "Domain Check <reminders@domaincheck.test>",
    }
    values.update(overrides)
    return BackendSettings(**values)


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(mailer: FakeMailer, clock: FakeClock) -> Iterator[ClientFactory]:
    """``make_client(database_url, **settings)`` → a started TestClient (closed after)."""
    from backend.api.deps import get_clock

    clients: list[TestClient] = []

    def factory(database_url: str, *, use_clock: bool = True, **overrides: Any) -> TestClient:
        app = create_app(make_settings(database_url, **overrides), mailer=mailer)
        if use_clock:
            app.dependency_overrides[get_clock] = lambda: clock
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory, database_url: str) -> TestClient:
    return make_client(database_url)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Outage:
    """Makes new connections of ``engine`` fail while ``down`` is set.

    As far as SQLAlchemy can tell the database is gone: the driver's
    OperationalError on every connect, and the pool emptied on ``start``.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.down = False
        event.listen(engine, "do_connect", self._connect)

    def _connect(self, dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        if self.down:
            raise dialect.loaded_dbapi.OperationalError("connection refused (test outage)")

    def start(self) -> None:
        self.down = True
        self.engine.dispose()

    def stop(self) -> None:
        self.down = False
