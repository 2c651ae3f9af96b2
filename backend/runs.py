"""Reminder runs split into batches: the database side of the task queue (PostgreSQL).

A run is planned by one worker in one transaction, serialised on the
``reminder-queue`` row of ``scheduler_leases`` (``SELECT .. FOR UPDATE``): it is
due ``CHECK_INTERVAL_SECONDS`` after the previous run started, and not while that
run is still open (for about one interval at most: :func:`abandoned_after`). A batch
whose last queue attempt failed is closed anyway (:func:`give_up_batch`), so one
broken batch never holds the other subscribers' reminders back. Its
subscribers are cut into batches of about ``REMINDER_BATCH_NAMES`` watched names;
one subscriber is never split, so everyone still gets one mail per run with all
their news. Each batch is a job any worker may run (:mod:`backend.queue`); the
batch that finds no other batch open completes the run.

Every step can be repeated safely, which is what makes queue retries harmless: a
batch run twice finds the news already taken off the subscription state, the
same news has one Message-ID (one reminder row), and sending claims the row first
(:mod:`backend.outbox`). These functions block; callers run them in threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from backend import crud
from backend.models import Reminder, ReminderBatch, ReminderRun, SchedulerLease, Subscription

#: The lease row whose lock serialises planning (it is never leased, only locked).
QUEUE_LOCK_NAME = "reminder-queue"
#: An open run blocks the next one for about one interval (:func:`abandoned_after`):
#: never less than this (a batch may be waiting for a stalled worker's retry)...
ABANDONED_AFTER_MIN = timedelta(minutes=15)
#: ...and never more than this, however long the interval.
ABANDONED_AFTER = timedelta(hours=6)


def abandoned_after(interval: timedelta) -> timedelta:
    """How long an open run blocks the next: about the interval, within bounds.

    Batches that fail for good are closed (:func:`give_up_batch`), so a run stays
    open only while a batch is still being tried, or when its worker died and the
    queue has not handed the job on yet. Waiting longer than an interval for that
    would skip a whole run's reminders.
    """
    return min(ABANDONED_AFTER, max(interval, ABANDONED_AFTER_MIN))


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedRun:
    """A run whose batches (by ``seq``) still have to be handed to the queue."""

    run_id: int
    seqs: tuple[int, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class CompletedRun:
    """What the batch that completed a run reports (analytics)."""

    run_id: int
    subscribers: int
    domains: int
    reminders_queued: int
    duration_ms: int


def split_into_batches(name_counts: Sequence[tuple[int, int]], batch_names: int) -> list[list[int]]:
    """Subscriber ids, in order, cut into groups of at most ``batch_names`` names.

    ``name_counts`` is ``(subscriber_id, watched names)``. A subscriber with more
    names than a batch holds gets a batch of their own.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for subscriber_id, names in name_counts:
        if current and size + names > batch_names:
            batches.append(current)
            current, size = [], 0
        current.append(subscriber_id)
        size += names
    if current:
        batches.append(current)
    return batches


def _lock_planning(session: Session) -> None:
    crud._insert_ignoring_conflicts(session, SchedulerLease, [{"name": QUEUE_LOCK_NAME}])
    session.commit()
    session.execute(
        select(SchedulerLease.name).where(SchedulerLease.name == QUEUE_LOCK_NAME).with_for_update()
    )


def unqueued_run(session: Session) -> PlannedRun | None:
    """The open run whose batches were never all handed to the queue (its planner died)."""
    run = session.scalar(
        select(ReminderRun)
        .where(ReminderRun.queued_at.is_(None), ReminderRun.completed_at.is_(None))
        .order_by(ReminderRun.id.desc())
        .limit(1)
    )
    if run is None:
        session.rollback()
        return None
    seqs = session.scalars(
        select(ReminderBatch.seq)
        .where(ReminderBatch.run_id == run.id, ReminderBatch.done_at.is_(None))
        .order_by(ReminderBatch.seq)
    ).all()
    session.rollback()
    return PlannedRun(run.id, tuple(seqs))


def plan_run(
    session: Session, *, now: datetime, interval: timedelta, batch_names: int
) -> PlannedRun | None:
    """Store a new run with its batches if one is due; ``None`` if not."""
    _lock_planning(session)
    last = session.scalar(select(ReminderRun).order_by(ReminderRun.id.desc()).limit(1))
    if last is not None:
        still_open = last.completed_at is None and now < last.started_at + abandoned_after(interval)
        if still_open or now < last.started_at + interval:
            session.rollback()
            return None
    name_counts = [
        (int(subscriber_id), int(count))
        for subscriber_id, count in session.execute(
            select(Subscription.subscriber_id, func.count())
            .group_by(Subscription.subscriber_id)
            .order_by(Subscription.subscriber_id)
        ).all()
    ]
    domains = session.scalar(
        select(func.count()).select_from(
            select(Subscription.host, Subscription.port).distinct().subquery()
        )
    )
    batches = split_into_batches(name_counts, batch_names)
    counts = dict(name_counts)
    run = ReminderRun(
        started_at=now,
        subscribers=len(name_counts),
        domains=int(domains or 0),
        batches=len(batches),
        completed_at=None if batches else now,
        queued_at=None if batches else now,
    )
    session.add(run)
    session.flush()
    for seq, subscriber_ids in enumerate(batches):
        session.add(
            ReminderBatch(
                run_id=run.id,
                seq=seq,
                subscriber_ids=",".join(str(i) for i in subscriber_ids),
                names=sum(counts[s] for s in subscriber_ids),
                reminders_queued=0,
            )
        )
    session.commit()
    return PlannedRun(run.id, tuple(range(len(batches))))


def mark_queued(session: Session, *, run_id: int, now: datetime) -> None:
    session.execute(
        update(ReminderRun)
        .where(ReminderRun.id == run_id, ReminderRun.queued_at.is_(None))
        .values(queued_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def batch_subscribers(session: Session, *, run_id: int, seq: int) -> list[int] | None:
    """The subscribers of an open batch; ``None`` if it is done (or gone)."""
    row = session.scalar(
        select(ReminderBatch.subscriber_ids).where(
            ReminderBatch.run_id == run_id,
            ReminderBatch.seq == seq,
            ReminderBatch.done_at.is_(None),
        )
    )
    session.rollback()
    if row is None:
        return None
    return [int(part) for part in row.split(",") if part]


def finish_batch(
    session: Session, *, run_id: int, seq: int, reminders_queued: int, now: datetime
) -> CompletedRun | None:
    """Mark a batch done; if it was the last open one, complete the run and say so."""
    session.execute(
        update(ReminderBatch)
        .where(
            ReminderBatch.run_id == run_id,
            ReminderBatch.seq == seq,
            ReminderBatch.done_at.is_(None),
        )
        .values(done_at=now, reminders_queued=reminders_queued)
        .execution_options(synchronize_session=False)
    )
    session.commit()  # committed before counting: the last batch to commit sees 0
    still_open = session.scalar(
        select(func.count())
        .select_from(ReminderBatch)
        .where(ReminderBatch.run_id == run_id, ReminderBatch.done_at.is_(None))
    )
    if still_open:
        session.rollback()
        return None
    completed = session.execute(
        update(ReminderRun)
        .where(ReminderRun.id == run_id, ReminderRun.completed_at.is_(None))
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if int(getattr(completed, "rowcount", 0)) != 1:
        return None  # another batch completed it at the same moment
    run = session.get(ReminderRun, run_id)
    queued = session.scalar(
        select(func.coalesce(func.sum(ReminderBatch.reminders_queued), 0)).where(
            ReminderBatch.run_id == run_id
        )
    )
    session.rollback()
    if run is None:
        return None
    return CompletedRun(
        run_id=run_id,
        subscribers=run.subscribers,
        domains=run.domains,
        reminders_queued=int(queued or 0),
        duration_ms=int((now - run.started_at).total_seconds() * 1000),
    )


def give_up_batch(session: Session, *, run_id: int, seq: int, now: datetime) -> CompletedRun | None:
    """Close a batch whose last attempt failed, so that its run can complete.

    Its subscribers get no mail from this run (their state was not touched, so the
    next run finds the same news); the other batches' subscribers are not held up.
    """
    return finish_batch(session, run_id=run_id, seq=seq, reminders_queued=0, now=now)


def pending_reminders(
    session: Session, *, now: datetime, subscriber_ids: Sequence[int] | None = None
) -> list[int]:
    """Queued reminders nobody is sending or has tried to send (all, or these subscribers')."""
    query = (
        select(Reminder.id)
        .where(
            Reminder.sent_at.is_(None),
            Reminder.send_started_at.is_(None),
            or_(Reminder.lease_until.is_(None), Reminder.lease_until < now),
        )
        .order_by(Reminder.id)
    )
    if subscriber_ids is not None:
        query = query.where(Reminder.subscriber_id.in_(subscriber_ids))
    ids = list(session.scalars(query))
    session.rollback()
    return ids


def open_runs(session: Session) -> int:
    """How many runs are not complete (tests and monitoring)."""
    count = session.scalar(
        select(func.count()).select_from(ReminderRun).where(ReminderRun.completed_at.is_(None))
    )
    session.rollback()
    return int(count or 0)
