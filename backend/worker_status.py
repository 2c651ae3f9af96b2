"""Are the reminder workers alive and are runs happening? (``domaincheck-backend worker-status``)

``/readyz`` answers for the API process it runs in; the workers are separate
processes, so this check is separate too: a container health check or a
monitoring probe runs it and alerts on exit status 1. It reads procrastinate's
worker heartbeats (a worker whose heartbeat is older than
``WORKER_STALLED_SECONDS`` counts as dead; its jobs are retried elsewhere) and
our own run records.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backend.config import BackendSettings
from backend.models import ReminderRun

#: Slack on top of two intervals before "no run started" is a problem.
RUN_GRACE = timedelta(hours=1)


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerStatus:
    live_workers: int
    jobs_waiting: int
    jobs_running: int
    open_runs: int
    last_started: datetime | None
    last_completed: datetime | None
    problems: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        def when(moment: datetime | None) -> str:
            return moment.isoformat(timespec="seconds") if moment else "never"

        return [
            f"live workers: {self.live_workers}",
            f"jobs waiting: {self.jobs_waiting}, running: {self.jobs_running}",
            f"runs open: {self.open_runs}; last started {when(self.last_started)}, "
            f"last completed {when(self.last_completed)}",
            *(f"PROBLEM: {problem}" for problem in self.problems),
        ]


def worker_status(session: Session, *, settings: BackendSettings, now: datetime) -> WorkerStatus:
    live = session.execute(
        text(
            "SELECT count(*) FROM procrastinate_workers "
            "WHERE last_heartbeat > NOW() - make_interval(secs => :seconds)"
        ),
        {"seconds": settings.worker_stalled_seconds},
    ).scalar()
    jobs: dict[str, int] = dict(
        session.execute(
            text(
                "SELECT status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing') GROUP BY status"
            )
        ).all()
    )
    open_runs = session.scalar(
        select(func.count()).select_from(ReminderRun).where(ReminderRun.completed_at.is_(None))
    )
    last_started = session.scalar(select(func.max(ReminderRun.started_at)))
    last_completed = session.scalar(select(func.max(ReminderRun.completed_at)))
    session.rollback()
    problems: list[str] = []
    if not live:
        problems.append("no reminder worker is alive (start `domaincheck-backend worker`)")
    interval = timedelta(seconds=settings.check_interval_seconds)
    overdue = last_started is not None and now - last_started > 2 * interval + RUN_GRACE
    if settings.check_interval_seconds > 0 and last_started is not None and overdue:
        problems.append(f"no reminder run started since {last_started.isoformat()}")
    return WorkerStatus(
        live_workers=int(live or 0),
        jobs_waiting=int(jobs.get("todo", 0)),
        jobs_running=int(jobs.get("doing", 0)),
        open_runs=int(open_runs or 0),
        last_started=last_started,
        last_completed=last_completed,
        problems=tuple(problems),
    )
