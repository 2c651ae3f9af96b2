"""The PostgreSQL connection pool keeps its connections instead of churning them.

With SQLAlchemy's overflow, a connection opened beyond ``pool_size`` is closed the
moment it is returned; under a steady load above the pool size that meant a new
PostgreSQL backend process every few requests (the load bench counted one per
five code requests, costing more CPU than the queries). These tests run real
concurrent sessions on a real PostgreSQL and count the connections opened.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text

from backend import db
from backend.app import create_app
from backend.config import BackendSettings


def _count_connects(engine: Any) -> list[int]:
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    return opened


def test_more_concurrent_sessions_than_the_pool_reuse_its_connections(postgres_url):
    engine = db.make_engine(postgres_url, pool_size=2)
    opened = _count_connects(engine)
    sessionmaker = db.make_sessionmaker(engine)
    start = threading.Barrier(6)
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(5):
                with sessionmaker() as session:
                    results.append(
                        session.execute(text("SELECT 1 FROM pg_sleep(0.01)")).scalar_one()
                    )
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert results == [1] * 30
        assert len(opened) == 2  # six threads took turns on the two kept connections
        assert engine.pool.size() == 2
    finally:
        engine.dispose()


def test_the_service_sizes_its_pool_from_the_settings(postgres_url):
    settings = BackendSettings(
        database_url=postgres_url,
        database_pool_size=3,
        auto_migrate=False,
        check_interval_seconds=0,
        posthog_api_key="",
    )
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 0
        assert client.get("/readyz").status_code == 200
