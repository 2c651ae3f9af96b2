"""Alembic environment: runs on a connection handed over by ``backend.db.migrate``,
or (when Alembic is run by hand) on an engine built from ``DATABASE_URL``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from backend.models import Base
from backend.queue_schema import include_name

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = config.attributes.get("engine")
    if engine is None:
        from backend.config import get_settings
        from backend.db import make_engine

        engine = make_engine(get_settings().effective_database_url)
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
