"""Reminder workers on a real PostgreSQL: ``domaincheck-backend worker`` processes.

A run is split into batches that three worker processes share against the loopback
TLS/RDAP world, and every reminder reaches a real SMTP server exactly once; a
worker SIGKILLed in the middle of a batch does not stop the run (its job goes to
another worker once its heartbeat stops) and nobody gets a second mail; the
periodic task fires again after a short ``CHECK_INTERVAL_SECONDS``. Every process
is bounded in time and killed at the end.
"""

from __future__ import annotations

import collections
import itertools

import pytest

from backend.cli import main as backend_main
from backend.config import get_settings
from tests.backend.conftest import TEST_SECRET, wait_for
from tests.helpers.backend_server import SmtpInbox
from tests.helpers.backend_workers import (
    WorkerProcesses,
    completed_runs,
    doing_jobs,
    open_runs,
    seed_subscribers,
)

pytestmark = pytest.mark.slow

RUN_TIMEOUT_SECONDS = 90.0


@pytest.fixture
def inbox():
    with SmtpInbox() as inbox:
        yield inbox


def worker_env(postgres_url, inbox, world, tmp_path, **overrides):
    env = {
        **world.env,
        "DOMAINCHECK_TIMEOUT": "5",
        "DATABASE_URL": postgres_url,
        "AUTO_MIGRATE": "false",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(inbox.port),
        "SMTP_TLS": "none",
        "OTP_SECRET": TEST_SECRET,
        "PUBLIC_URL": "http://testserver",
        "MAIL_FROM": "Domain Check <reminders@domaincheck.test>",
        "CHECK_INTERVAL_SECONDS": "3600",
        "WORKER_CONCURRENCY": "1",
        "WORKER_STALLED_SECONDS": "3",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "POSTHOG_API_KEY": "",
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def recipients(inbox) -> collections.Counter[str]:
    return collections.Counter(str(message["To"]) for message in inbox.messages)


def test_three_workers_share_a_run_and_mail_each_reminder_once(
    postgres_url, inbox, world, tmp_path
):
    addresses = seed_subscribers(
        postgres_url, [["expiring.test", "valid.test", f"site{i}.test"] for i in range(12)]
    )
    env = worker_env(
        postgres_url, inbox, world, tmp_path, REMINDER_BATCH_NAMES=3, RDAP_PER_SERVER_LIMIT=2
    )
    # Slow RDAP answers: three workers (two requests each on their own) would have six
    # in flight at the registry without the shared limit.
    world.rdap_server.reset_log()
    world.rdap_server.response_delay_seconds = 0.2
    try:
        with WorkerProcesses(3, env, tmp_path) as workers:
            wait_for(lambda: len(completed_runs(postgres_url)) == 1, RUN_TIMEOUT_SECONDS)
            wait_for(lambda: len(inbox.messages) >= len(addresses), RUN_TIMEOUT_SECONDS)
            assert workers.alive()
            logs = workers.logs()
    finally:
        world.rdap_server.response_delay_seconds = 0
    assert len(world.rdap_server.request_log) >= 12
    assert world.rdap_server.max_concurrent == 2  # the per-registry limit, over all workers
    run = completed_runs(postgres_url)[0]
    assert (run.subscribers, run.batches) == (12, 12)
    # Each batch was checked once, and more than one worker took part.
    batch_lines = [line for log in logs for line in log.splitlines() if " batch " in line]
    assert len(batch_lines) == 12
    assert sum(1 for log in logs if " batch " in log) >= 2
    assert recipients(inbox) == collections.Counter(addresses)
    assert len({m["Message-ID"] for m in inbox.messages}) == 12
    body = inbox.body(0)
    assert "expiring.test" in body and "certificate expires in" in body
    assert "site" in body and "not valid" in body


def test_a_killed_worker_does_not_stop_the_run_or_double_mail(postgres_url, inbox, world, tmp_path):
    # hang.test makes every batch last DOMAINCHECK_TIMEOUT: time to kill a worker in one.
    addresses = seed_subscribers(postgres_url, [["expiring.test", "hang.test"] for _ in range(4)])
    env = worker_env(
        postgres_url, inbox, world, tmp_path, REMINDER_BATCH_NAMES=2, DOMAINCHECK_TIMEOUT=3
    )
    with WorkerProcesses(1, env, tmp_path) as workers:
        wait_for(lambda: doing_jobs(postgres_url, "domaincheck.check_batch") == 1, 60)
        workers.kill(0)
        assert open_runs(postgres_url) == 1
        workers.start()
        workers.start()
        wait_for(lambda: len(completed_runs(postgres_url)) == 1, RUN_TIMEOUT_SECONDS)
        wait_for(lambda: len(inbox.messages) >= len(addresses), RUN_TIMEOUT_SECONDS)
        logs = workers.logs()
    assert any("its worker stopped" in log for log in logs[1:])  # the stalled job retried
    assert recipients(inbox) == collections.Counter(addresses)


def test_the_periodic_task_fires_at_a_short_interval(postgres_url, inbox, world, tmp_path):
    addresses = seed_subscribers(postgres_url, [["expiring.test"], ["valid.test"]])
    env = worker_env(postgres_url, inbox, world, tmp_path, CHECK_INTERVAL_SECONDS=2)
    with WorkerProcesses(1, env, tmp_path):
        wait_for(lambda: len(completed_runs(postgres_url)) >= 3, RUN_TIMEOUT_SECONDS)
    runs = completed_runs(postgres_url)
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(runs)]
    assert all(gap >= 2 for gap in gaps), gaps
    # Three runs, one piece of news: one mail, to the owner of the expiring name.
    assert recipients(inbox) == collections.Counter([addresses[0]])


def test_worker_with_sqlite_says_it_is_not_needed(monkeypatch, sqlite_url, capsys):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("OTP_SECRET", TEST_SECRET)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_info:
            backend_main(["worker"])
    finally:
        get_settings.cache_clear()
    message = str(exit_info.value.code)
    assert "not needed with SQLite" in message and "PostgreSQL" in message
