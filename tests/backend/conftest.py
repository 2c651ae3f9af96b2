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

import contextlib
import dataclasses
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from backend import db
from backend.app import create_app
from backend.config import BackendSettings
from backend.email import MailError

with warnings.catch_warnings():
    # starlette's TestClient warns about httpx at import; import it once, quietly.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TEST_SECRET = "test-secret-" + "x" * 32
PG_TIMEOUT_SECONDS = 60


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin_dir() -> Path | None:
    candidates: list[Path] = []
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)

    def version(path: str) -> tuple[int, ...]:
        number = Path(path).parent.name
        return tuple(int(p) for p in number.split(".") if p.isdigit())

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)[::-1]
    ]
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user() -> pwd.struct_passwd:
    """The account to run PostgreSQL as when we are root (created if missing)."""
    for name in ("postgres", "domaincheck-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "domaincheck-pg",
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam("domaincheck-pg")


@dataclass
class PostgresServer:
    url: str  # to the maintenance database "postgres"
    port: int
    _counter: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def execute(self, statement: str) -> None:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(reason + " (required when CI is set)")
        pytest.skip(reason)
    run_as: dict[str, Any] = {}
    base = tempfile.gettempdir()
    if os.geteuid() == 0:
        user = _unprivileged_user()
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        base = "/tmp"  # world-traversable, unlike some TMPDIRs
    workdir = Path(tempfile.mkdtemp(prefix="domaincheck-pg-", dir=base))
    if run_as:
        os.chown(workdir, run_as["user"], run_as["group"])
    data, log = workdir / "data", workdir / "postgres.log"
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PGTZ": "UTC"}
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=PG_TIMEOUT_SECONDS,
            **run_as,
        )

    init = run(
        "initdb",
        "-D",
        str(data),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {workdir} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    if start.returncode != 0:
        details = log.read_text() if log.exists() else ""
        pytest.fail(f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{details}")
    server = PostgresServer(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", port=port
    )
    try:
        server.execute("CREATE DATABASE dc_template")
        engine = db.make_engine(server.database_url("dc_template"))
        db.migrate(engine)
        engine.dispose()
        yield server
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


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
