"""The reminder timer survives database outages and failing runs; /readyz tells.

Outages are real as far as SQLAlchemy can tell: a ``do_connect`` hook makes every
new connection fail with the driver's OperationalError, and the pool is emptied.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from backend.analytics import NullAnalytics
from backend.models import Reminder
from backend.reminders import acquire_lease, last_completed, run_checks
from backend.scheduler import SchedulerHealth, backoff_seconds, scheduler_loop
from core.models import utcnow
from tests.backend.conftest import FakeMailer, Outage, make_settings, wait_for


def _last_completed(client):
    with client.app.state.sessionmaker() as session:
        return last_completed(session)


def test_scheduler_survives_a_database_outage(make_client, sqlite_url):
    client = make_client(sqlite_url, use_clock=False, check_interval_seconds=2)
    health: SchedulerHealth = client.app.state.scheduler_health
    wait_for(lambda: _last_completed(client) is not None)
    first = _last_completed(client)
    assert client.get("/readyz").status_code == 200

    outage = Outage(client.app.state.engine)
    outage.start()
    wait_for(lambda: health.failures >= 1)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    outage.stop()

    # Before the fix the timer task was dead here: no run ever again.
    wait_for(lambda: (_last_completed(client) or first) > first, timeout=20)
    wait_for(lambda: health.healthy)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_red_while_runs_fail_and_green_after(make_client, sqlite_url):
    client = make_client(sqlite_url, use_clock=False, check_interval_seconds=2)
    health: SchedulerHealth = client.app.state.scheduler_health
    engine = client.app.state.engine
    wait_for(lambda: _last_completed(client) is not None)
    # The database answers, but every run fails (its outbox table is gone).
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE reminders"))
    wait_for(lambda: health.failures >= 1, timeout=20)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "reminder scheduler is failing" in response.json()["message"]

    Reminder.__table__.create(engine)
    wait_for(lambda: health.healthy, timeout=20)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_red_when_the_scheduler_task_dies(make_client, sqlite_url):
    client = make_client(sqlite_url, use_clock=False, check_interval_seconds=3600)
    health: SchedulerHealth = client.app.state.scheduler_health
    assert client.get("/readyz").status_code == 200
    # Simulate the task ending for any reason: the done-callback marks it.
    from backend.scheduler import watch

    async def die():
        raise RuntimeError("boom")

    async def scenario():
        task = asyncio.ensure_future(die())
        watch(task, health)
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "has stopped" in response.json()["message"]


def test_the_loop_retries_with_backoff_until_a_run_works(monkeypatch):
    """Any exception while scheduling is retried; health is red until one works."""
    from backend import scheduler

    attempts = 0
    seen_unhealthy = False
    health = SchedulerHealth()

    def flaky(_factory):
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise sqlite3.OperationalError("database is down")
        return utcnow()  # just completed: nothing due

    async def run():
        raise AssertionError("nothing is due: never called")

    monkeypatch.setattr(scheduler, "_last_completed", flaky)

    async def scenario():
        nonlocal seen_unhealthy
        task = asyncio.create_task(
            scheduler_loop(
                None,
                settings=make_settings("sqlite://", check_interval_seconds=1),
                mailer=FakeMailer(),
                analytics=NullAnalytics(),
                health=health,
                run=run,
            )
        )
        for _ in range(200):
            await asyncio.sleep(0.05)
            seen_unhealthy |= not health.healthy
            if attempts >= 3:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert attempts >= 3
    assert seen_unhealthy and health.healthy


@pytest.mark.parametrize(
    ("failures", "interval", "expected"),
    [(1, 86_400, 1.0), (2, 86_400, 2.0), (5, 86_400, 16.0), (20, 86_400, 300.0), (5, 3, 3.0)],
)
def test_backoff(failures, interval, expected):
    assert backoff_seconds(failures, interval) == expected


def test_short_interval_is_honoured(make_client, sqlite_url):
    client = make_client(sqlite_url, use_clock=False, check_interval_seconds=2)
    wait_for(lambda: _last_completed(client) is not None)
    first = _last_completed(client)
    wait_for(lambda: (_last_completed(client) or first) > first, timeout=15)
    second = _last_completed(client)
    assert second - first >= timedelta(seconds=2)


def test_a_failed_run_releases_its_lease(make_client, sqlite_url):
    client = make_client(sqlite_url)
    sessions = client.app.state.sessionmaker

    async def broken_check(targets):
        raise RuntimeError("checker crashed")

    with sessions() as session:
        session.execute(
            text(
                "INSERT INTO subscribers (public_id, email, threshold_days, created_at, "
                "updated_at) VALUES ('p' || hex(randomblob(15)), 'a@example.com', 30, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        session.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, host, port, display, created_at) "
                "SELECT id, 'a.test', 443, 'a.test', '2026-01-01 00:00:00' FROM subscribers"
            )
        )
        session.commit()
    with pytest.raises(RuntimeError):
        asyncio.run(
            run_checks(
                sessions,
                settings=make_settings(sqlite_url),
                mailer=FakeMailer(),
                analytics=NullAnalytics(),
                check=broken_check,
                owner="crashing",
            )
        )
    with sessions() as session:
        assert acquire_lease(session, owner="next", now=utcnow(), duration=timedelta(minutes=2))


def test_a_live_run_keeps_its_short_lease(make_client, sqlite_url):
    """The lease is renewed while the run lives, so a short lease is safe."""
    client = make_client(sqlite_url)
    sessions = client.app.state.sessionmaker
    release = threading.Event()
    taken: list[bool] = []

    async def slow_check(targets):
        await asyncio.to_thread(release.wait, 10)
        return {}

    def other_replica():
        time.sleep(4.5)  # longer than the 3 s lease: only a renewal keeps it
        with sessions() as session:
            taken.append(
                acquire_lease(session, owner="other", now=utcnow(), duration=timedelta(seconds=3))
            )
        release.set()

    with sessions() as session:
        session.execute(
            text(
                "INSERT INTO subscribers (public_id, email, threshold_days, created_at, "
                "updated_at) VALUES ('p' || hex(randomblob(15)), 'a@example.com', 30, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        session.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, host, port, display, created_at) "
                "SELECT id, 'a.test', 443, 'a.test', '2026-01-01 00:00:00' FROM subscribers"
            )
        )
        session.commit()
    thread = threading.Thread(target=other_replica)
    thread.start()
    asyncio.run(
        run_checks(
            sessions,
            settings=make_settings(sqlite_url, check_lease_seconds=3),
            mailer=FakeMailer(),
            analytics=NullAnalytics(),
            check=slow_check,
        )
    )
    thread.join(15)
    assert taken == [False]
