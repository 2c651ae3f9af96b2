"""procrastinate's schema, applied by our own migrations (PostgreSQL only).

Kept apart from :mod:`backend.queue` so that migrating never imports the tasks,
and so that SQLite installs never need procrastinate's tables. The schema SQL is
the one the installed procrastinate ships; it is applied once (when its jobs
table is missing), inside the Alembic transaction that creates our own tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

#: Every table, type and function procrastinate creates starts with this.
PREFIX = "procrastinate_"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: compare our tables, not procrastinate's."""
    return not (type_ == "table" and name is not None and name.startswith(PREFIX))


def has_procrastinate_schema(connection: Connection) -> bool:
    found = connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    return found is not None


def apply_procrastinate_schema(connection: Connection) -> bool:
    """Create procrastinate's schema unless it is there; ``True`` if it was created."""
    if has_procrastinate_schema(connection):
        return False
    from procrastinate.schema import SchemaManager

    # The raw psycopg connection, in the same transaction: the schema is many
    # statements with ``$$`` bodies and ``%`` signs that a bind-parameter layer
    # would misread. Without parameters psycopg sends it as one simple query.
    driver: Any = connection.connection.driver_connection
    driver.execute(SchemaManager.get_schema())
    return True
