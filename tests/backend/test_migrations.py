"""The migrations create exactly the models' schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend import db
from backend.models import Base
from backend.queue_schema import include_name


def test_migrations_match_models(database_url):
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_name": include_name}
            )
            assert compare_metadata(context, Base.metadata) == []
        db.migrate(engine)  # already at head: a no-op
        db.ping(engine)
    finally:
        engine.dispose()


def test_boundaries():
    import subprocess
    import sys

    code = (
        "import sys, backend.app, backend.cli, backend.reminders;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('desktop', 'PySide6')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
