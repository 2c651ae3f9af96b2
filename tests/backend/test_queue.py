"""The task-queue path's parts on a real PostgreSQL: schema, planning, shared RDAP slots."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text

from backend import db, runs
from backend.queue import every_cron, tick_cron
from backend.registry_limits import (
    _KEY_SPACE,
    SharedServerSlots,
    libpq_conninfo,
    server_lock_key,
)
from tests.backend.conftest import FakeClock, make_settings
from tests.helpers.backend_workers import seed_subscribers


def has_table(url: str, name: str) -> bool:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar()
            return found is not None
    finally:
        engine.dispose()


@pytest.fixture
def empty_database(postgres_server):
    name = f"dc_empty_{next(postgres_server._counter)}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    yield postgres_server.database_url(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migrate_creates_the_queue_schema_on_a_fresh_database(empty_database):
    engine = db.make_engine(empty_database)
    try:
        db.migrate(engine)
        db.migrate(engine)  # idempotent
    finally:
        engine.dispose()
    assert has_table(empty_database, "procrastinate_jobs")
    assert has_table(empty_database, "reminder_batches")


def test_migrate_adds_the_queue_schema_to_an_existing_database(empty_database):
    from alembic import command

    engine = db.make_engine(empty_database)
    try:
        with engine.begin() as connection:
            config = db.alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")  # a database from before the task queue
        assert not has_table(empty_database, "procrastinate_jobs")
        db.migrate(engine)
    finally:
        engine.dispose()
    assert has_table(empty_database, "procrastinate_jobs")


def test_split_into_batches_never_splits_a_subscriber():
    counts = [(1, 40), (2, 40), (3, 40), (4, 250), (5, 10)]
    assert runs.split_into_batches(counts, 100) == [[1, 2], [3], [4], [5]]
    assert runs.split_into_batches([], 100) == []


def test_a_run_is_planned_once_per_interval_and_not_while_open(postgres_url):
    seed_subscribers(postgres_url, [["a.test", "b.test"], ["b.test"], ["c.test"]])
    clock = FakeClock()
    engine = db.make_engine(postgres_url)
    sessions = db.make_sessionmaker(engine)
    interval = timedelta(seconds=5)
    try:
        with sessions() as session:
            planned = runs.plan_run(session, now=clock(), interval=interval, batch_names=2)
            assert planned is not None and planned.seqs == (0, 1)
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=2) is None
            clock.advance(seconds=10)  # due, but the first run is still open
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=2) is None
            assert runs.unqueued_run(session) == planned  # a planner that died is repaired
            runs.mark_queued(session, run_id=planned.run_id, now=clock())
            assert runs.unqueued_run(session) is None
            for seq in planned.seqs:
                assert runs.batch_subscribers(session, run_id=planned.run_id, seq=seq)
            first = runs.finish_batch(
                session, run_id=planned.run_id, seq=0, reminders_queued=1, now=clock()
            )
            assert first is None
            # Repeated (a retried job): still not complete, and counted once.
            assert (
                runs.finish_batch(
                    session, run_id=planned.run_id, seq=0, reminders_queued=1, now=clock()
                )
                is None
            )
            assert runs.batch_subscribers(session, run_id=planned.run_id, seq=0) is None
            done = runs.finish_batch(
                session, run_id=planned.run_id, seq=1, reminders_queued=1, now=clock()
            )
            assert done is not None
            assert (done.subscribers, done.domains, done.reminders_queued) == (3, 3, 2)
            assert runs.open_runs(session) == 0
            clock.advance(seconds=10)
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=2)
    finally:
        engine.dispose()


def test_every_cron_fires_at_least_that_often():
    assert every_cron(0.5) == every_cron(1) == "* * * * * *"
    assert every_cron(10) == "* * * * * */10"
    assert every_cron(7) == "* * * * * */6"
    assert every_cron(300) == "* * * * *"


def test_tick_cron_fires_often_enough_for_the_interval():
    assert tick_cron(3) == "* * * * * *"
    assert tick_cron(60) == "* * * * * */5"
    assert tick_cron(86_400) == "* * * * *"


def test_shared_slots_limit_a_server_across_processes(postgres_url):
    """Two limiters (two workers' connection pools) together hold at most ``limit``."""

    async def scenario() -> tuple[int, list[str]]:
        holding = 0
        most = 0
        order: list[str] = []
        async with (
            SharedServerSlots(postgres_url, limit=2) as first,
            SharedServerSlots(postgres_url, limit=2) as second,
        ):

            async def request(slots: SharedServerSlots, name: str) -> None:
                nonlocal holding, most
                async with slots("rdap.example:443"):
                    holding += 1
                    most = max(most, holding)
                    await asyncio.sleep(0.05)
                    holding -= 1
                    order.append(name)

            async with asyncio.timeout(30):
                await asyncio.gather(
                    *(request(first if i % 2 else second, f"r{i}") for i in range(8))
                )
        return most, order

    most, order = asyncio.run(scenario())
    assert most == 2
    assert sorted(order) == sorted(f"r{i}" for i in range(8))


def test_a_dead_connection_gives_its_slot_back(postgres_url):
    """A worker's slot is its session's lock: when the session dies, the slot is free."""
    server = "rdap.example:443"

    async def scenario() -> bool:
        conninfo = libpq_conninfo(postgres_url)
        dead = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        await dead.execute("SELECT pg_advisory_lock(%s, %s)", (server_lock_key(server), _KEY_SPACE))
        async with SharedServerSlots(postgres_url, limit=1) as other:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5), other(server):
                    pass
            await dead.close()  # as on SIGKILL: the session ends, its locks go
            async with asyncio.timeout(10), other(server):
                return True

    assert asyncio.run(scenario())


def test_server_lock_keys_are_stable_32_bit_values():
    key = server_lock_key("rdap.example:443")
    assert key == server_lock_key("RDAP.example:443")
    assert -(2**31) <= key < 2**31
    assert key != server_lock_key("rdap.other:443")


def test_serve_on_postgresql_leaves_reminders_to_the_workers(make_client, postgres_url):
    client = make_client(postgres_url, check_interval_seconds=2)
    assert client.app.state.scheduler_health is None  # no in-process timer
    assert client.get("/readyz").status_code == 200
    assert make_settings(postgres_url).runs_reminders_in_process is False
    assert make_settings("sqlite:///x.sqlite3").runs_reminders_in_process is True


def test_worker_status_reports_live_workers_and_stalled_runs(postgres_url, monkeypatch, capsys):
    from backend.cli import main as backend_main
    from backend.config import get_settings

    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("OTP_SECRET", "test-secret-" + "x" * 32)
    monkeypatch.setenv("AUTO_MIGRATE", "false")
    get_settings.cache_clear()
    try:
        assert backend_main(["worker-status"]) == 1
        assert "no reminder worker is alive" in capsys.readouterr().out
        engine = db.make_engine(postgres_url)
        with engine.begin() as connection:  # a worker's heartbeat, as procrastinate writes it
            connection.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
        engine.dispose()
        assert backend_main(["worker-status"]) == 0
        assert "live workers: 1" in capsys.readouterr().out
        with engine.begin() as connection:  # the last run started long ago
            connection.execute(
                text(
                    "INSERT INTO reminder_runs (started_at, subscribers, domains, batches) "
                    "VALUES (NOW() - interval '3 days', 0, 0, 0)"
                )
            )
        engine.dispose()
        assert backend_main(["worker-status"]) == 1
        assert "no reminder run started since" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()


def test_worker_on_an_unmigrated_database_says_what_to_do(empty_database, monkeypatch):
    from backend.cli import main as backend_main
    from backend.config import get_settings

    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.setenv("OTP_SECRET", "test-secret-" + "x" * 32)
    monkeypatch.setenv("AUTO_MIGRATE", "false")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_info:
            backend_main(["worker"])
    finally:
        get_settings.cache_clear()
    assert "run `domaincheck-backend migrate` first" in str(exit_info.value.code)


def test_the_rdap_client_takes_the_shared_gate_for_each_query(tmp_path):
    """``server_gate`` (core) is held around every registry query, by server key."""
    import contextlib
    from datetime import UTC, datetime

    from core.models import Target
    from core.rdap import RdapClient
    from tests.helpers.rdap_server import RdapServer, write_bootstrap

    entered: list[str] = []

    @contextlib.asynccontextmanager
    async def gate(server: str):
        entered.append(server)
        yield

    async def lookup(bootstrap) -> str | None:
        async with RdapClient(
            bootstrap=str(bootstrap), cache_dir=tmp_path / "cache", server_gate=gate
        ) as client:
            registration = await client.lookup(
                Target(host="www.gated.test", port=443, display="www.gated.test", is_ip=False)
            )
            return registration.error

    with RdapServer() as server:
        server.add_domain("gated.test", datetime(2030, 1, 1, tzinfo=UTC))
        bootstrap = write_bootstrap(tmp_path / "dns.json", {"test": server.base_url})
        assert asyncio.run(lookup(bootstrap)) is None
        assert entered == [f"127.0.0.1:{server.port}"]


def test_worker_without_a_database_says_so(monkeypatch):
    from backend.cli import main as backend_main
    from backend.config import get_settings
    from tests.helpers.postgres import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    monkeypatch.setenv("OTP_SECRET", "test-secret-" + "x" * 32)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_info:
            backend_main(["worker"])
    finally:
        get_settings.cache_clear()
    assert "cannot use the database (OperationalError)" in str(exit_info.value.code)


def test_retrying_stalled_jobs_skips_finished_ones_and_reports_real_errors(
    postgres_url, monkeypatch, caplog
):
    """A job retried meanwhile (procrastinate refuses: not "doing") is skipped
    quietly; any other failure is logged as an error, not swallowed."""
    import logging

    from backend.queue import build_app, retry_stalled_jobs

    settings = make_settings(postgres_url)
    app = build_app(settings)
    broken: list[int] = []

    async def scenario() -> int:
        async with app.open_async():
            manager = app.job_manager
            await app.tasks["domaincheck.send_reminder"].defer_async(reminder_id=1)
            await app.tasks["domaincheck.send_reminder"].defer_async(reminder_id=2)
            jobs = await manager.list_jobs_async()
            assert len(jobs) == 2
            broken_id = jobs[1].id
            broken.append(broken_id)
            real_retry = manager.retry_job

            async def retry_job(job, *args, **kwargs):
                if job.id == broken_id:
                    raise RuntimeError("a bug in the retry path")
                return await real_retry(job, *args, **kwargs)  # "todo": refused

            async def stalled(**kwargs):
                return jobs

            monkeypatch.setattr(manager, "get_stalled_jobs", stalled)
            monkeypatch.setattr(manager, "retry_job", retry_job)
            return await retry_stalled_jobs(app, 1)

    with caplog.at_level(logging.INFO, logger="backend.queue"):
        assert asyncio.run(scenario()) == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"could not retry job {broken[0]}"]
    assert errors[0].exc_info is not None
    assert any("retried or finished meanwhile" in r.getMessage() for r in caplog.records)


def test_whois_turns_are_shared_by_every_worker_process(postgres_url, tmp_path):
    """Two workers (each its own process gate and connection pool, as two processes
    have) never ask one WHOIS server at once nor faster than its pace."""
    import threading

    from backend.registry_limits import shared_registry_gates
    from core.config import WhoisServer
    from core.whois import WhoisClient
    from core.whois_gate import WhoisGate
    from tests.helpers.whois_server import ThrottlingWhoisServer

    errors: list[str | None] = []

    async def worker(server: ThrottlingWhoisServer, names: list[str], cache: str) -> None:
        async with shared_registry_gates(postgres_url, rdap_limit=4) as (_, whois_gate):
            client = WhoisClient(
                servers=(WhoisServer("io", "whois.nic.io", 43),),
                connect_to=server.connect_rules(),
                cache_dir=tmp_path / cache,
                pace_seconds=0.3,
                timeout_seconds=5,
                gate=WhoisGate(),  # a process of its own
                server_gate=whois_gate,
            )
            async with asyncio.timeout(60), client:
                answers = await asyncio.gather(*(client.lookup(n) for n in names))
            errors.extend(a.error if a.error_kind is not None else None for a in answers)

    with ThrottlingWhoisServer(min_gap_seconds=0.2) as server:
        threads = [
            threading.Thread(
                target=asyncio.run,
                args=(worker(server, [f"w{w}-{i}.io" for i in range(3)], f"c{w}"),),
            )
            for w in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        assert not any(thread.is_alive() for thread in threads)
        assert (server.refused, server.max_in_flight) == (0, 1)
        assert len(server.queries) == 6
    assert errors == [None] * 6


def test_a_batch_that_fails_for_good_still_completes_its_run(postgres_url, monkeypatch):
    """The queue's last attempt at a batch failed: the batch is closed, the run
    completes, and the next run is planned one interval later, not hours later."""
    from backend import queue
    from backend.analytics import NullAnalytics
    from backend.queue import WorkerRuntime, build_app
    from core.config import Settings as CoreSettings
    from tests.backend.conftest import FakeMailer

    seed_subscribers(postgres_url, [["a.test"], ["b.test"]])
    monkeypatch.setattr(queue, "BATCH_RETRY", queue.procrastinate.RetryStrategy(max_attempts=1))
    clock = FakeClock()
    interval = timedelta(hours=1)
    engine = db.make_engine(postgres_url)
    sessions = db.make_sessionmaker(engine)
    settings = make_settings(postgres_url)

    class BrokenRuntime(WorkerRuntime):
        attempts = 0

        async def check(self, targets):
            BrokenRuntime.attempts += 1
            raise RuntimeError("the checker is broken")

    runtime = BrokenRuntime(
        settings=settings,
        session_factory=sessions,
        mailer=FakeMailer(),
        analytics=NullAnalytics(),
        core_settings=CoreSettings(),
        clock=clock,
    )
    app = build_app(settings, runtime)

    async def work(planned: runs.PlannedRun) -> None:
        async with app.open_async():
            for seq in planned.seqs:
                await app.tasks["domaincheck.check_batch"].defer_async(
                    run_id=planned.run_id, seq=seq
                )
            for _ in range(3):  # the first attempt, then the retry once it is due
                await app.run_worker_async(wait=False, concurrency=1, install_signal_handlers=False)

    try:
        with sessions() as session:
            planned = runs.plan_run(session, now=clock(), interval=interval, batch_names=1)
        assert planned is not None and planned.seqs == (0, 1)
        asyncio.run(asyncio.wait_for(work(planned), 60))
        # Two batches, two attempts each (and the periodic tick may have planned and
        # failed a run of its own meanwhile, which must be closed just as well).
        assert BrokenRuntime.attempts >= 4
        with sessions() as session:
            assert runs.batch_subscribers(session, run_id=planned.run_id, seq=0) is None
            assert runs.batch_subscribers(session, run_id=planned.run_id, seq=1) is None
            assert runs.open_runs(session) == 0
            clock.advance(hours=1, seconds=1)
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=1)
    finally:
        engine.dispose()


def test_an_open_run_blocks_the_next_for_about_one_interval(postgres_url):
    seed_subscribers(postgres_url, [["a.test"]])
    clock = FakeClock()
    interval = timedelta(hours=1)
    engine = db.make_engine(postgres_url)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions() as session:
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=10)
            clock.advance(minutes=59)
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=10) is None
            clock.advance(minutes=2)  # the run is still open, but an interval passed
            assert runs.plan_run(session, now=clock(), interval=interval, batch_names=10)
    finally:
        engine.dispose()
    assert runs.abandoned_after(timedelta(seconds=5)) == runs.ABANDONED_AFTER_MIN
    assert runs.abandoned_after(timedelta(days=7)) == runs.ABANDONED_AFTER
