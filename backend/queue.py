"""Reminder work on procrastinate, a PostgreSQL task queue: ``domaincheck-backend worker``.

Four tasks, all plain functions registered with the queue (retries and locks are
declared, not hand-written):

``retry_stalled`` (periodic, every third of ``WORKER_STALLED_SECONDS``)
    Retries the jobs of workers whose heartbeat stopped: a SIGKILLed worker's
    batch goes to another.
``tick`` (periodic, every second to every minute depending on the interval)
    Plans a run when one is due
    (:func:`backend.runs.plan_run`) and queues one ``check_batch`` job per batch,
    plus a ``send_reminder`` job for every reminder left unsent by earlier runs.
    Ticks cost a few small queries; ``CHECK_INTERVAL_SECONDS`` is honoured to
    within one tick (a second for intervals under half a minute).
``check_batch(run_id, seq)``
    Checks the batch's watched names with the core engine, queues each
    subscriber's reminder (:func:`backend.reminders.queue_reminders`), queues a
    ``send_reminder`` job for each, and marks the batch done; the last batch of
    a run completes it and prunes old rows. A batch whose last attempt fails is
    closed too (:func:`backend.runs.give_up_batch`): the run still completes.
``send_reminder(reminder_id)``
    Claims and sends one reminder at most once (:func:`backend.outbox.send_one`);
    a send that failed for sure is retried with a growing wait.

Any number of workers run these; the RDAP servers' limits and the WHOIS servers'
etiquette (one query in flight, a pace) are shared by all of them through
PostgreSQL (:mod:`backend.registry_limits`). procrastinate's own
loop runs the schedule, so it cannot die silently inside our code; monitor the
workers as README explains.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from sqlalchemy.orm import Session, sessionmaker

from backend import db, runs
from backend.analytics import Analytics, analytics_from_settings
from backend.checking import check_targets
from backend.config import BackendSettings, core_settings_for
from backend.email import Mailer, mailer_from_settings
from backend.outbox import SendOutcome, send_one
from backend.registry_limits import SharedServerSlots, libpq_conninfo, shared_registry_gates
from backend.reminders import _watched_targets, default_owner, prune_old_rows, queue_reminders
from core.config import Settings as CoreSettings
from core.models import CheckResult, Target, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

SEND_RETRY = procrastinate.RetryStrategy(max_attempts=6, exponential_wait=4)
BATCH_RETRY = procrastinate.RetryStrategy(max_attempts=8, exponential_wait=2)


class SendFailed(Exception):
    """A reminder could not be sent this time (for sure): the queue retries it."""


def every_cron(seconds: float) -> str:
    """A cron (with procrastinate's seconds column) firing at least every ``seconds``,
    and at most once a second or at least once a minute."""
    if seconds >= 60:
        return "* * * * *"
    step = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= max(seconds, 1))
    return "* * * * * *" if step == 1 else f"* * * * * */{step}"


def tick_cron(interval_seconds: int) -> str:
    """How often ``tick`` fires: every second below half a minute, then 5 s, then 60 s."""
    if interval_seconds < 30:
        return "* * * * * *"
    if interval_seconds < 300:
        return "* * * * * */5"
    return "* * * * *"


@dataclasses.dataclass
class WorkerRuntime:
    """What the tasks of one worker process share (built by :func:`open_runtime`)."""

    settings: BackendSettings
    session_factory: sessionmaker[Session]
    mailer: Mailer
    analytics: Analytics
    core_settings: CoreSettings
    slots: SharedServerSlots | None = None
    #: One WHOIS query (and its pace) at a time per WHOIS server, across workers.
    whois_slots: SharedServerSlots | None = None
    clock: Callable[[], datetime] = utcnow
    owner: str = dataclasses.field(default_factory=default_owner)

    def in_session(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Blocking: ``function(session, **kwargs)`` in a fresh session."""
        with self.session_factory() as session:
            return function(session, **kwargs)

    async def db(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        return await asyncio.to_thread(self.in_session, function, **kwargs)

    async def check(self, targets: Sequence[Target]) -> dict[tuple[str, int], CheckResult]:
        """Check ``targets`` with the core engine, RDAP and WHOIS limited across workers."""
        return await check_targets(
            targets,
            self.core_settings,
            rdap_per_server_limit=self.settings.rdap_per_server_limit,
            rdap_gate=self.slots,
            whois_gate=self.whois_slots,
        )


async def _defer(task: Any, queueing_lock: str, **kwargs: Any) -> None:
    """Queue ``task`` unless a job with the same lock is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        await task.configure(queueing_lock=queueing_lock).defer_async(**kwargs)


def build_app(settings: BackendSettings, runtime: WorkerRuntime | None = None) -> procrastinate.App:
    """The procrastinate app with our tasks; ``runtime`` is needed to run them."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_conninfo(db.normalize_url(settings.effective_database_url))
        ),
    )

    def need_runtime() -> WorkerRuntime:
        if runtime is None:
            raise RuntimeError("this app can only queue jobs, not run them")
        return runtime

    @app.task(name="domaincheck.send_reminder", retry=SEND_RETRY)
    async def send_reminder(reminder_id: int) -> str:
        rt = need_runtime()
        outcome = await rt.db(
            send_one,
            reminder_id=reminder_id,
            mailer=rt.mailer,
            settings=rt.settings,
            owner=rt.owner,
            clock=rt.clock,
        )
        if outcome is SendOutcome.FAILED:
            raise SendFailed(f"reminder {reminder_id} not sent; retried later")
        return outcome.name

    async def queue_sends(reminder_ids: Sequence[int]) -> None:
        for reminder_id in reminder_ids:
            await _defer(send_reminder, f"send-{reminder_id}", reminder_id=reminder_id)

    batch_retry = BATCH_RETRY

    @app.task(name="domaincheck.check_batch", retry=batch_retry, pass_context=True)
    async def check_batch(context: procrastinate.JobContext, run_id: int, seq: int) -> int:
        rt = need_runtime()
        try:
            return await run_batch(rt, run_id, seq)
        except Exception:
            max_attempts = batch_retry.max_attempts
            if max_attempts is not None and context.job.attempts >= max_attempts:
                # The queue gives up on this batch: close it, so that its run
                # completes and the next run is planned on time.
                log.error("run %d batch %d failed for good; its subscribers wait", run_id, seq)
                completed = await rt.db(runs.give_up_batch, run_id=run_id, seq=seq, now=rt.clock())
                if completed is not None:
                    await run_completed(rt, completed)
            raise

    async def run_batch(rt: WorkerRuntime, run_id: int, seq: int) -> int:
        subscriber_ids = await rt.db(runs.batch_subscribers, run_id=run_id, seq=seq)
        if subscriber_ids is None:
            return 0  # done already (a retry of a finished batch)
        targets = await rt.db(_watched_targets, subscriber_ids=subscriber_ids)
        log.info("run %d batch %d: checking %d names", run_id, seq, len(targets))
        results = await rt.check(targets)
        queued = await rt.db(
            queue_reminders,
            results=results,
            settings=rt.settings,
            now=rt.clock(),
            subscriber_ids=subscriber_ids,
        )
        # All of these subscribers' unsent reminders, not only the new ones: a retry
        # of a batch that died after queueing finds no news, but its mail is here.
        pending = await rt.db(runs.pending_reminders, now=rt.clock(), subscriber_ids=subscriber_ids)
        await queue_sends(pending)
        completed = await rt.db(
            runs.finish_batch, run_id=run_id, seq=seq, reminders_queued=queued, now=rt.clock()
        )
        if completed is not None:
            await run_completed(rt, completed)
        return queued

    async def run_completed(rt: WorkerRuntime, completed: runs.CompletedRun) -> None:
        await asyncio.to_thread(prune_old_rows, rt.session_factory, now=rt.clock())
        rt.analytics.capture(
            "scheduled_check_completed",
            {
                "subscriber_count": completed.subscribers,
                "domain_count": completed.domains,
                "reminders_queued": completed.reminders_queued,
                "duration_ms": completed.duration_ms,
            },
        )
        log.info(
            "reminder run %d done: %d domains, %d reminders queued",
            completed.run_id,
            completed.domains,
            completed.reminders_queued,
        )

    async def queue_batches(planned: runs.PlannedRun) -> None:
        for seq in planned.seqs:
            await _defer(
                check_batch, f"batch-{planned.run_id}-{seq}", run_id=planned.run_id, seq=seq
            )

    @app.periodic(cron=every_cron(settings.worker_stalled_seconds / 3))
    @app.task(name="domaincheck.retry_stalled", queueing_lock="domaincheck-retry-stalled")
    async def retry_stalled(timestamp: int) -> int:
        return await retry_stalled_jobs(app, need_runtime().settings.worker_stalled_seconds)

    @app.periodic(cron=tick_cron(settings.check_interval_seconds))
    @app.task(name="domaincheck.tick", queueing_lock="domaincheck-tick")
    async def tick(timestamp: int) -> None:
        rt = need_runtime()
        planned = await rt.db(runs.unqueued_run)
        leftovers: list[int] = []
        if planned is None:
            leftovers = await rt.db(runs.pending_reminders, now=rt.clock())
            planned = await rt.db(
                runs.plan_run,
                now=rt.clock(),
                interval=timedelta(seconds=rt.settings.check_interval_seconds),
                batch_names=rt.settings.reminder_batch_names,
            )
            if planned is None:
                return
            run = await rt.db(_run_sizes, run_id=planned.run_id)
            rt.analytics.capture("scheduled_check_started", run)
            log.info("reminder run %d: %d batches", planned.run_id, len(planned.seqs))
        await queue_batches(planned)
        await rt.db(runs.mark_queued, run_id=planned.run_id, now=rt.clock())
        if leftovers:
            await queue_sends(leftovers)

    return app


def _run_sizes(session: Session, *, run_id: int) -> dict[str, int]:
    from backend.models import ReminderRun

    run = session.get(ReminderRun, run_id)
    session.rollback()
    if run is None:
        return {}
    return {"subscriber_count": run.subscribers, "domain_count": run.domains}


async def retry_stalled_jobs(app: procrastinate.App, seconds_since_heartbeat: float) -> int:
    """Hand the jobs of workers that stopped sending heartbeats to the others."""
    retried = 0
    manager = app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat):
        log.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
        try:
            await manager.retry_job(job)
        except ConnectorException as exc:
            if isinstance(exc.__cause__, psycopg.errors.RaiseException):
                # procrastinate_retry_job refused: the job is no longer "doing"
                # (another worker retried it, or it finished meanwhile).
                log.info("job %s was retried or finished meanwhile", job.id)
            else:
                log.error("could not retry job %s: %s", job.id, exc, exc_info=exc)
        except Exception:  # a bug must not stop the others' retries, but shows
            log.exception("could not retry job %s", job.id)
        else:
            retried += 1
    return retried


@contextlib.asynccontextmanager
async def open_runtime(settings: BackendSettings) -> AsyncIterator[WorkerRuntime]:
    """The database, mail, analytics and shared RDAP limits of one worker process."""
    engine = db.make_engine(settings.effective_database_url)
    analytics = analytics_from_settings(settings)
    gates = shared_registry_gates(
        db.normalize_url(settings.effective_database_url),
        rdap_limit=settings.rdap_per_server_limit,
    )
    try:
        async with gates as (slots, whois_slots):
            yield WorkerRuntime(
                settings=settings,
                session_factory=db.make_sessionmaker(engine),
                mailer=mailer_from_settings(settings),
                analytics=analytics,
                core_settings=core_settings_for(settings),
                slots=slots,
                whois_slots=whois_slots,
            )
    finally:
        await asyncio.to_thread(analytics.shutdown)
        engine.dispose()


async def run_worker(settings: BackendSettings) -> None:
    """``domaincheck-backend worker``: run jobs until SIGINT/SIGTERM."""
    async with open_runtime(settings) as runtime:
        app = build_app(settings, runtime)
        async with app.open_async():
            await app.run_worker_async(
                concurrency=settings.worker_concurrency,
                name=runtime.owner,
                delete_jobs="successful",
                update_heartbeat_interval=max(settings.worker_stalled_seconds / 3, 0.5),
                stalled_worker_timeout=settings.worker_stalled_seconds,
            )
