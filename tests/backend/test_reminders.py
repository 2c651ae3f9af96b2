"""Reminder policy and runs: milestones, resets, no duplicates, retries, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from backend import db
from backend.analytics import NullAnalytics
from backend.models import Reminder, SchedulerLease, Subscription
from backend.reminders import acquire_lease, expiry_level, milestones, run_checks
from core.models import CertInfo, CheckResult, Registration
from tests.backend.conftest import FakeClock, FakeMailer, make_settings
from tests.backend.test_otp_api import EMAIL, generate, register


def test_milestones():
    assert milestones(30) == [30, 7, 3, 1]
    assert milestones(5) == [5, 3, 1]
    assert milestones(7) == [7, 3, 1]
    assert milestones(0) == [0]
    assert [expiry_level(d, 30) for d in (31, 30, 8, 7, 4, 3, 2, 1, 0, -1)] == [
        None,
        30,
        30,
        7,
        7,
        3,
        3,
        1,
        1,
        -1,
    ]


class World:
    """Fake check results: per host, certificate expiry/fingerprint and registration expiry."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.certs: dict[str, tuple[int, str]] = {}
        self.registrations: dict[str, int] = {}
        self.calls = 0

    async def check(self, targets):
        self.calls += 1
        now = self.clock()
        results = {}
        for target in targets:
            days, fingerprint = self.certs.get(target.host, (60, "aa"))
            not_after = now + timedelta(days=days, hours=1)
            tls = CertInfo(
                not_after=not_after,
                # A 90-day certificate: the fixed 30-day threshold decides (a third
                # of its lifetime is the same 30 days).
                not_before=not_after - timedelta(days=90),
                fingerprint_sha256=fingerprint,
                trusted=True,
                hostname_match=True,
            )
            reg_days = self.registrations.get(target.host)
            registration = (
                Registration(
                    registrable_domain=target.host, expires=now + timedelta(days=reg_days, hours=1)
                )
                if reg_days is not None
                else Registration(unknown=True, error="no RDAP")
            )
            results[target.key] = CheckResult(target, tls, registration, now)
        return results


@pytest.fixture
def setup(client, mailer, clock, database_url):
    generate(client)
    response = register(client, mailer.codes_for(EMAIL)[0], domains=["a.test", "b.test"])
    assert response.status_code == 200
    mailer.sent.clear()
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    world = World(clock)
    settings = make_settings(database_url)

    def run(**kwargs):
        return asyncio.run(
            run_checks(
                sessions,
                settings=settings,
                mailer=mailer,
                analytics=NullAnalytics(),
                check=world.check,
                clock=clock,
                **kwargs,
            )
        )

    yield world, run, sessions
    engine.dispose()


def bodies(mailer: FakeMailer) -> list[str]:
    return [m.get_body(("plain",)).get_content() for m in mailer.sent]


def test_reminds_at_threshold_then_7_3_1_and_expired(setup, mailer, clock):
    world, run, _ = setup
    expected_mails = []
    for days in range(35, -3, -1):
        world.certs["a.test"] = (days, "aa")
        stats = run()
        assert not stats.skipped
        expected_mails.append(days in (30, 7, 3, 1, -1))
        clock.advance(days=1)
    sent_days = [i for i, e in enumerate(expected_mails) if e]
    assert len(mailer.sent) == len(sent_days) == 5
    texts = bodies(mailer)
    assert "certificate expires in 30 days" in texts[0]
    assert "certificate expires in 7 days" in texts[1]
    assert "certificate expires in 1 day " in texts[3]
    # core.models.expiry_phrase: under a day it speaks in hours.
    assert "certificate expired 23 hours ago" in texts[4]
    assert all("b.test" not in t for t in texts)
    message = mailer.sent[0]
    assert message["To"] == EMAIL
    assert message["List-Unsubscribe"].startswith("<http://testserver/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_duplicate_on_the_second_run(setup, mailer):
    world, run, _ = setup
    world.certs["a.test"] = (10, "aa")
    world.registrations["b.test"] = 5
    run()
    assert len(mailer.sent) == 1
    text = bodies(mailer)[0]
    assert "a.test" in text and "b.test" in text and "domain registration expires in 5 days" in text
    run()
    assert len(mailer.sent) == 1


def test_new_certificate_resets_the_reminders(setup, mailer, clock):
    world, run, _ = setup
    world.certs["a.test"] = (6, "aa")
    run()
    clock.advance(days=1)
    world.certs["a.test"] = (5, "aa")
    run()
    assert len(mailer.sent) == 1
    # Renewed, but with a certificate that is itself short-lived: news again.
    world.certs["a.test"] = (20, "bb")
    run()
    assert len(mailer.sent) == 2
    run()
    assert len(mailer.sent) == 2


def test_failed_send_is_retried_once_not_lost_or_duplicated(setup, mailer):
    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    mailer.fail_next = 1
    stats = run()
    assert (stats.reminders_queued, stats.emails_sent, stats.emails_failed) == (1, 0, 1)
    assert mailer.sent == []
    stats = run()
    assert (stats.reminders_queued, stats.emails_sent, stats.emails_failed) == (0, 1, 0)
    assert len(mailer.sent) == 1
    run()
    assert len(mailer.sent) == 1
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 1


def test_a_held_lease_blocks_a_second_replica(setup, mailer, clock):
    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    with sessions() as session:
        assert acquire_lease(
            session, owner="other-replica", now=clock(), duration=timedelta(hours=1)
        )
    assert run().skipped
    assert mailer.sent == [] and world.calls == 0
    clock.advance(hours=2)  # the other replica died: its lease runs out
    assert not run().skipped
    assert len(mailer.sent) == 1


def test_concurrent_runs_send_once(setup, mailer):
    world, run, _ = setup
    world.certs["a.test"] = (10, "aa")

    async def both():

        return await asyncio.gather(*(asyncio.to_thread(run) for _ in range(3)))

    results = asyncio.run(both())
    assert sum(not r.skipped for r in results) >= 1
    assert len(mailer.sent) == 1


def test_state_is_recorded_for_the_api(setup, client, mailer):
    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    run()
    with sessions() as session:
        states = {
            s.host: (s.last_status, s.last_days_left) for s in session.scalars(select(Subscription))
        }
    assert states == {"a.test": ("expiring", 10), "b.test": ("valid", 60)}


def test_a_run_does_not_block_the_event_loop(setup, monkeypatch):
    # In ``serve`` the run shares the event loop with the API: its database work
    # (here made slow) must happen in worker threads while requests go on.
    import time as time_module

    from backend import reminders

    world, _, sessions = setup
    world.certs["a.test"] = (10, "aa")
    real_queue = reminders.queue_reminders

    def slow_queue(*args, **kwargs):
        time_module.sleep(0.5)
        return real_queue(*args, **kwargs)

    monkeypatch.setattr(reminders, "queue_reminders", slow_queue)

    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        stats = await run_checks(
            sessions,
            settings=make_settings("sqlite://"),
            mailer=FakeMailer(),
            analytics=NullAnalytics(),
            check=world.check,
            clock=world.clock,
        )
        task.cancel()
        return stats, ticks

    stats, ticks = asyncio.run(scenario())
    assert stats.reminders_queued == 1
    assert ticks >= 20


def test_a_run_whose_lease_was_taken_over_queues_nothing(setup, mailer, clock, database_url):
    """Checking outlasted the lease and another replica took it: the run stops
    before queueing (the other one queues and sends) instead of racing it."""
    from backend.reminders import LeaseLost

    world, _, sessions = setup
    world.certs["a.test"] = (10, "aa")

    async def slow_check(targets):
        results = await world.check(targets)
        with sessions() as session:  # meanwhile our lease ran out and was taken
            session.execute(
                update(SchedulerLease).values(
                    owner="other-replica", lease_until=clock() + timedelta(hours=1)
                )
            )
            session.commit()
        return results

    with pytest.raises(LeaseLost):
        asyncio.run(
            run_checks(
                sessions,
                settings=make_settings(database_url),
                mailer=mailer,
                analytics=NullAnalytics(),
                check=slow_check,
                clock=clock,
            )
        )
    assert mailer.sent == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 0
        assert session.scalars(select(SchedulerLease.owner)).one() == "other-replica"
