"""Reminder workers as real processes, and subscribers seeded straight into the database.

    seed_subscribers(url, [["expiring.test", "valid.test"]] * 10)
    with WorkerProcesses(3, env) as workers:     # ``domaincheck-backend worker`` x 3
        wait_for_runs(url, 1)
        workers.kill(0)                            # SIGKILL one of them

Shared by ``tests/backend/test_workers.py`` and ``bench/backend_load.py``. Every
process is killed when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from sqlalchemy import func, select

from backend import db
from backend.models import ReminderRun, Subscriber, Subscription

REPO_ROOT = Path(__file__).resolve().parents[2]


def seed_subscribers(
    database_url: str, watched: Sequence[Sequence[str]], *, threshold_days: int = 30
) -> list[str]:
    """One subscriber per entry of ``watched`` (their names, port 443); their addresses."""
    engine = db.make_engine(database_url)
    now = datetime.now(UTC)
    addresses = [f"owner{i}@example.com" for i in range(len(watched))]
    try:
        with db.make_sessionmaker(engine)() as session:
            for address, names in zip(addresses, watched, strict=True):
                subscriber = Subscriber(
                    public_id=secrets.token_hex(16),
                    email=address,
                    threshold_days=threshold_days,
                    created_at=now,
                    updated_at=now,
                )
                subscriber.subscriptions = [
                    Subscription(host=name, port=443, display=name, created_at=now)
                    for name in names
                ]
                session.add(subscriber)
            session.commit()
    finally:
        engine.dispose()
    return addresses


def completed_runs(database_url: str) -> list[ReminderRun]:
    engine = db.make_engine(database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            return list(
                session.scalars(
                    select(ReminderRun)
                    .where(ReminderRun.completed_at.is_not(None))
                    .order_by(ReminderRun.id)
                )
            )
    finally:
        engine.dispose()


def doing_jobs(database_url: str, task_name: str) -> int:
    """Jobs of ``task_name`` a worker is running right now (procrastinate's table)."""
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            from sqlalchemy import text

            count = connection.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE status = 'doing' AND task_name = :task"
                ),
                {"task": task_name},
            ).scalar()
            return int(count or 0)
    finally:
        engine.dispose()


def open_runs(database_url: str) -> int:
    engine = db.make_engine(database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            count = session.scalar(
                select(func.count())
                .select_from(ReminderRun)
                .where(ReminderRun.completed_at.is_(None))
            )
            return int(count or 0)
    finally:
        engine.dispose()


class WorkerProcesses:
    """``count`` ``domaincheck-backend worker`` processes with ``env`` (logs in ``log_dir``)."""

    def __init__(self, count: int, env: Mapping[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        for _ in range(count):
            self.start()

    def start(self) -> subprocess.Popen[bytes]:
        """One more worker."""
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "backend", "worker"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def kill(self, index: int) -> None:
        """SIGKILL: no clean-up, no goodbye to the database."""
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self) -> list[str]:
        for log in self._logs:
            log.flush()
        return [
            (self.log_dir / f"worker-{i}.log").read_text(errors="replace")
            for i in range(len(self.processes))
        ]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes if p.returncode is None)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in self._logs:
            log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
