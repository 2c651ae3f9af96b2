"""The check in progress: starts the worker, takes its results into the table.

Why its own class: a run has book-keeping of its own (what was asked, what came
back, what is worth a reminder, what is queued behind it) and a hot path that must
stay cheap. Results arrive from the worker in batches; they are queued and taken
into the table at most ``RESULTS_PER_TURN`` per turn of the event loop, so a burst of
hundreds never keeps the window from repainting.

Results for targets no longer in the table (removed while the check ran, here or
from a terminal) are dropped: neither shown nor stored.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from core.config import Settings
from core.models import CheckResult, Registration, Target
from core.problems import looks_offline
from desktop.analytics import DesktopAnalytics
from desktop.engine_process import CheckBatch, CheckContext
from desktop.messages import MessageBridge
from desktop.notifications import Reminder, Trigger, registration_reminder, reminder_for
from desktop.results_model import ResultsModel
from desktop.worker import CheckerFactory, CheckRunner

log = logging.getLogger(__name__)

#: Results taken into the table per turn of the event loop: a burst of hundreds is
#: spread over several turns, so no single turn keeps the window from repainting.
#: A result costs about 0.1 ms to take in; each turn then costs one re-sort and one
#: repaint of the table (~10 ms), so a turn takes what a usual batch brings.
RESULTS_PER_TURN = 100
#: Delay before taking in queued results. A timer rather than a posted event, so that
#: input, paint and other timers get their turn between two batches even when the
#: worker's batches pile up behind a busy moment.
DRAIN_DELAY_MS = 1


@dataclasses.dataclass
class Run:
    """Book-keeping for one check."""

    targets: list[Target]
    #: A check of the whole watchlist (resets the background schedule).
    full: bool
    trigger: Trigger = "manual"
    reminders: list[Reminder] = dataclasses.field(default_factory=list)
    #: Results taken into the table so far (what the progress bar shows).
    done: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    #: Results of this run per status value (``check_completed``).
    counts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    #: The results themselves (is the machine offline?).
    results: list[CheckResult] = dataclasses.field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 1)

    @property
    def offline(self) -> bool:
        """Every check failed the way they do when this machine has no network."""
        return bool(self.results) and looks_offline(self.results)


class RunController(QObject):
    """Runs checks one at a time; more asked for meanwhile are queued behind.

    Signals:
        started(object): a ``Run`` started.
        progress(int, int): rows filled in so far, of how many.
        results_taken(): rows were updated (time to refresh the summary).
        finished(object, bool): the ``Run`` ended, all its results in the table;
            ``True`` if cancelled.
        failed(str): the worker stopped on an unexpected error.
    """

    started = Signal(object)
    progress = Signal(int, int)
    results_taken = Signal()
    finished = Signal(object, bool)
    failed = Signal(str)

    def __init__(
        self,
        model: ResultsModel,
        checker_factory: CheckerFactory,
        *,
        settings: Callable[[], Settings],
        save: Callable[[CheckBatch], None],
        messages: MessageBridge,
        analytics: DesktopAnalytics,
        batch_interval_ms: int | None = None,
        manual_expiries: Callable[[], Mapping[tuple[str, int], datetime]] = dict,
        parent: QObject | None = None,
    ) -> None:
        """``manual_expiries``: the typed registration dates (kept in memory by the
        watchlist service): with the rows' last registrations, each run's context."""
        super().__init__(parent)
        self._model = model
        self._manual_expiries = manual_expiries
        self._settings = settings
        self._save = save
        self._messages = messages
        self._analytics = analytics
        runner_kwargs = (
            {} if batch_interval_ms is None else {"batch_interval_ms": batch_interval_ms}
        )
        self.runner = CheckRunner(checker_factory, parent=self, **runner_kwargs)
        self.runner.results_ready.connect(self._on_results)
        self.runner.failed.connect(self.failed)
        self.runner.failed.connect(messages.error)
        self.runner.finished.connect(self._on_run_finished)
        self._run: Run | None = None
        self._queued: list[tuple[Target, Trigger]] = []
        self._incoming: collections.deque[CheckBatch] = collections.deque()
        self._drain_scheduled = False
        #: ``cancelled`` of a run whose worker finished while results are still queued.
        self._finished_pending: bool | None = None
        self._closed = False

    @property
    def is_checking(self) -> bool:
        return self._run is not None

    @property
    def current(self) -> Run | None:
        return self._run

    def check_all(self, trigger: Trigger = "manual") -> bool:
        """Check the whole watchlist (Check button, tray, schedule)."""
        return self.check(self._model.targets(), full=True, trigger=trigger)

    def check_targets(self, targets: Sequence[Target], trigger: Trigger = "manual") -> bool:
        """Check some targets (the whole watchlist if that is what they are)."""
        full = len(targets) == self._model.rowCount()
        return self.check(targets, full=full, trigger=trigger)

    def check_keys(self, keys: Sequence[tuple[str, int]]) -> bool:
        """The rows' "Check now": just those."""
        model = self._model
        rows = [model.row_at(p) for key in keys if (p := model.row_of(key)) is not None]
        return self.check_targets([row.target for row in rows])

    def check_stale(self, oldest: datetime) -> bool:
        """Targets never checked, or last checked at ``oldest`` or before (at start)."""
        if self._run is not None:
            return False  # a full check is under way: it covers them
        stale = [
            row.target
            for row in self._model.rows()
            if row.result is None or row.result.checked_at <= oldest
        ]
        if stale:
            log.info("checking %d stale targets", len(stale))
        return self.check_targets(stale, trigger="startup")

    def check(
        self, targets: Sequence[Target], *, full: bool = False, trigger: Trigger = "manual"
    ) -> bool:
        """Check ``targets`` now, or queue them behind the running check.

        Returns True when a run started now.
        """
        if self._closed or not targets:
            return False
        if self._run is not None:
            known = {t.key for t, _ in self._queued} | {t.key for t in self._run.targets}
            if not full:
                self._queued += [(t, trigger) for t in targets if t.key not in known]
            return False
        if not self.runner.start(list(targets), self._settings(), self._context(targets)):
            return False
        self._run = Run(list(targets), full, trigger=trigger)
        self._analytics.capture("check_started", {"count": len(targets), "trigger": trigger})
        self.started.emit(self._run)
        self.progress.emit(0, len(targets))
        return True

    def _context(self, targets: Sequence[Target]) -> CheckContext:
        """Typed dates and last registrations of ``targets`` (memory only: no disk)."""
        model = self._model

        def previous(key: tuple[str, int]) -> Registration | None:
            position = model.row_of(key)
            result = None if position is None else model.row_at(position).result
            return None if result is None else result.registration

        return CheckContext.for_targets(targets, self._manual_expiries(), previous)

    def cancel(self) -> None:
        self._queued.clear()
        self.runner.cancel()

    def forget(self, keys: Sequence[tuple[str, int]]) -> None:
        """Targets no longer watched: not checked later if they were queued."""
        gone = set(keys)
        self._queued = [(t, trigger) for t, trigger in self._queued if t.key not in gone]

    def flush_results(self) -> None:
        """Take every queued result into the table now (quit, tests)."""
        while self._incoming or self._finished_pending is not None:
            self._drain()

    def shutdown(self) -> CheckBatch:
        """Stop the worker; returns results received but not taken in yet."""
        self._closed = True
        self._queued.clear()
        self.runner.shutdown()
        received = CheckBatch.join(self._incoming)
        self._incoming.clear()
        return self._watched_only(received)

    # -- the hot path --------------------------------------------------------------------

    def _on_results(self, batch: CheckBatch) -> None:
        """A batch from the worker: queue it, and take it in over a few event-loop turns."""
        if self._closed:
            return
        self._incoming.append(batch)
        self._schedule_drain()

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            QTimer.singleShot(DRAIN_DELAY_MS, self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        if self._closed:
            return
        taken: list[CheckBatch] = []
        room = RESULTS_PER_TURN
        while self._incoming and room > 0:
            batch = self._incoming.popleft()
            if len(batch) > room:
                self._incoming.appendleft(batch[room:])
                batch = batch[:room]
            taken.append(batch)
            room -= len(batch)
        if taken:
            self._take_results(taken[0] if len(taken) == 1 else CheckBatch.join(taken))
        if self._incoming:
            self._schedule_drain()
        elif self._finished_pending is not None:
            cancelled, self._finished_pending = self._finished_pending, None
            self._complete(cancelled)

    def _watched_only(self, batch: CheckBatch) -> CheckBatch:
        """The part of ``batch`` whose targets are still in the table."""
        row_of = self._model.row_of
        if all(row_of(result.target.key) is not None for result in batch.results):
            return batch  # the usual case: nothing to copy
        keep = [i for i, r in enumerate(batch.results) if row_of(r.target.key) is not None]
        return CheckBatch(
            [batch.results[i] for i in keep],
            [batch.values[i] for i in keep],
            [batch.documents[i] for i in keep],
        )

    def _take_results(self, batch: CheckBatch) -> None:
        run = self._run
        received = len(batch)
        batch = self._watched_only(batch)
        if run is not None:
            # The progress bar counts the rows filled in, so it moves with the table.
            run.done += received
            self.progress.emit(run.done, len(run.targets))
            run.results += batch.results
            model = self._model
            for result, values in zip(batch.results, batch.values, strict=True):
                status = values.status
                assert status is not None  # a result always has one
                run.counts[status.value] += 1
                position = model.row_of(result.target.key)
                previous = None if position is None else model.row_at(position)
                reminder = reminder_for(
                    None if previous is None else previous.result,
                    result,
                    status=status,
                    previous_status=None if previous is None else previous.status,
                    problem=values.problem,
                )
                if reminder is not None:
                    run.reminders.append(reminder)
                changed = registration_reminder(
                    None if previous is None else previous.result, result
                )
                if changed is not None:
                    run.reminders.append(changed)
        if batch:
            self._model.apply_results(batch.results, batch.values)
            self._save(batch)
        self.results_taken.emit()

    def _on_run_finished(self, cancelled: bool) -> None:
        if self._incoming:  # finish once the last results are in the table
            self._finished_pending = cancelled
            self._schedule_drain()
            return
        self._complete(cancelled)

    def _complete(self, cancelled: bool) -> None:
        run, self._run = self._run, None
        if self._closed or run is None:
            return
        self._report(run, cancelled)
        self.finished.emit(run, cancelled)
        if self._queued and not cancelled and self._run is None:
            queued, self._queued = self._queued, []
            self.check([t for t, _ in queued], trigger=queued[0][1])

    def _report(self, run: Run, cancelled: bool) -> None:
        """How the run went: for the statistics, and in a word for the user."""
        self._analytics.capture(
            "check_completed",
            {
                **run.counts,
                "total": run.done,
                "duration_ms": run.duration_ms,
                "cancelled": cancelled,
                "trigger": run.trigger,
            },
        )
        # Offline: rows say "not checked: no network", not "no such domain" each.
        self._model.set_offline(not cancelled and run.offline)
        if cancelled:
            self._messages.info("Check cancelled")
        elif run.offline:
            # One message, rather than every row looking like a broken domain; a
            # dialog only for a check the user is waiting for.
            text = f"No network connection: {len(run.results):,} checks could not run"
            say = self._messages.warning if run.trigger == "manual" else self._messages.info
            say(text)
        else:
            done = self._model.rowCount() - self._model.unchecked_count()
            self._messages.info(f"Checked {done:,} domain{'s' if done != 1 else ''}")
