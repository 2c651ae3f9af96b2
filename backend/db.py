"""Engine, sessions and migrations for SQLite (the default) and PostgreSQL.

SQLite transactions start with ``BEGIN IMMEDIATE``: writers queue on the database
lock (``busy_timeout``) instead of failing with "database is locked" when a read
transaction tries to upgrade. PostgreSQL URLs are pointed at psycopg 3. A SQLite
file is created private (0600).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How long opening a PostgreSQL connection may take (libpq counts whole seconds, at least 2).
CONNECT_TIMEOUT_SECONDS = 10
#: PostgreSQL connections per process (``DATABASE_POOL_SIZE``): all it ever opens.
DEFAULT_POOL_SIZE = 10
#: How long a request waits for a free pooled connection before failing.
POOL_TIMEOUT_SECONDS = 5
_PACKAGE_DIR = Path(__file__).resolve().parent
#: Any constant; replicas starting together take turns to migrate.
_MIGRATION_LOCK_KEY = 0x646F6D61696E


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` use psycopg 3 (the driver we ship)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = DEFAULT_POOL_SIZE, **kwargs: Any) -> Engine:
    """An engine for ``url``; on PostgreSQL a pool of ``pool_size`` connections kept open."""
    url = normalize_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            make_private_file(Path(database))
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _use_immediate_transactions(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # A fixed set of connections, kept open: an overflow connection is closed as
    # soon as it is returned, so at a steady 11+ requests in flight every few
    # requests paid for a new PostgreSQL backend process (measured: one new
    # connection per 5 requests, more CPU than the queries). Beyond the pool,
    # requests wait (``pool_timeout``) for a connection instead.
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", 0)
    # A database that does not answer fails a request in seconds, not minutes: the
    # threads waiting for it are shared with every other request.
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    return create_engine(url, connect_args=connect_args, **kwargs)


def make_private_file(path: Path) -> None:
    """Create the SQLite file as 0600 (its folder 0700 when we create it) before use.

    It holds subscribers' addresses. SQLite creates its ``-wal`` and ``-shm`` files
    with the database file's mode, so they are private too. A folder that already
    exists is left alone (it may be a shared one such as ``/tmp``); an existing
    database file is made private.
    """
    missing = [parent for parent in (path.parent, *path.parent.parents) if not parent.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            os.chmod(candidate, 0o600)


def _use_immediate_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config(str(_PACKAGE_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(_PACKAGE_DIR / "migrations"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, safe with replicas)."""
    config = alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
                connection.commit()
    else:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
