"""A throw-away PostgreSQL cluster on loopback (``initdb`` + ``pg_ctl``), for tests and benches.

Binaries come from ``PATH`` or ``/usr/lib/postgresql/*/bin`` (``.ci/run`` installs the
Debian package). PostgreSQL refuses to run as root, so as root the server runs as
the ``postgres`` system user (created as ``domaincheck-pg`` if missing). Durability
is off (``fsync=off``): the data is thrown away.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_TIMEOUT_SECONDS = 60


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


def free_port() -> int:
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


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or the server would not start (the message says why)."""


@contextlib.contextmanager
def running_postgres(template: Callable[[str], None] | None = None) -> Iterator[PostgresServer]:
    """A throw-away cluster on a free loopback port, removed afterwards.

    ``template(url)``, if given, prepares the database ``dc_template`` (tests copy it).
    """
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
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
    port = free_port()

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
        raise PostgresUnavailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {workdir} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    if start.returncode != 0:
        details = log.read_text() if log.exists() else ""
        raise PostgresUnavailable(
            f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{details}"
        )
    server = PostgresServer(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", port=port
    )
    try:
        if template is not None:
            server.execute("CREATE DATABASE dc_template")
            template(server.database_url("dc_template"))
        yield server
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(workdir, ignore_errors=True)
