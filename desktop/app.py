"""The application: wires the watchlist, the window, the worker, the tray and the scheduler.

``DomainCheckApp`` is the one place that decides what user actions mean. Every
collaborator that touches the outside world is a constructor argument (engine
factory, watchlist, tray availability, timer, clock, message bridge), so tests build
the real app against the loopback world and a fake clock.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import gc
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFileOpenEvent
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from core import domains
from core.analytics import OffReason
from core.api import BackendClient
from core.config import Settings
from core.errors import DomainCheckError, InputFileError
from core.models import InputError, Status, Target, utcnow
from core.report import report_document, write_csv
from core.secrets import TokenStore
from core.storage import StorageError, Watchlist
from desktop import preferences as prefs_io
from desktop.analytics import DesktopAnalytics
from desktop.background import BackgroundCall
from desktop.engine_process import CheckBatch
from desktop.mainwindow import INPUT_SOURCE, MainWindow
from desktop.messages import MessageBridge
from desktop.persistence import LatestSaver, ResultsWriter
from desktop.preferences import Preferences, PreferencesDialog, StatisticsState
from desktop.reminders import RemindersDialog, ReminderService
from desktop.results_model import ResultsModel
from desktop.rows import WatchRow, unchecked_rows
from desktop.tray import (
    PAUSE_REMINDERS,
    Reminder,
    Scheduler,
    TimerLike,
    Tray,
    TrayState,
    notification_text,
    reminder_for,
)
from desktop.worker import CheckerFactory, CheckRunner, default_checker_factory

log = logging.getLogger(__name__)

META_LAST_CHECK = "last_full_check_at"
META_PAUSED_UNTIL = "reminders_paused_until"
META_TOLD_ABOUT_TRAY = "told_about_tray"
META_DRAFT = "input_draft"
#: Results taken into the table per turn of the event loop: a burst of hundreds is
#: spread over several turns, so no single turn keeps the window from repainting.
#: A result costs about 0.1 ms to take in; each turn then costs one re-sort and one
#: repaint of the table (~10 ms), so a turn takes what a usual batch brings.
RESULTS_PER_TURN = 100
#: Delay before taking in queued results. A timer rather than a posted event, so that
#: input, paint and other timers get their turn between two batches even when the
#: worker's batches pile up behind a busy moment.
DRAIN_DELAY_MS = 1

#: Where domains came from (``domains_imported``'s ``source``).
ImportSource = Literal["drop", "paste", "file", "cli"]
#: What started a check (``check_started``'s ``trigger``).
Trigger = Literal["manual", "scheduled", "startup"]


def summary_text(counts: dict[Status, int], unchecked: int = 0) -> str:
    """``12 valid · 3 expiring · 1 expired · 2 errors`` (zero counts left out)."""
    parts = []
    for status, singular, plural in (
        (Status.VALID, "valid", "valid"),
        (Status.EXPIRING, "expiring", "expiring"),
        (Status.EXPIRED, "expired", "expired"),
        (Status.INVALID, "invalid", "invalid"),
    ):
        if counts.get(status):
            parts.append(f"{counts[status]:,} {singular if counts[status] == 1 else plural}")
    errors = counts.get(Status.ERROR, 0) + counts.get(Status.UNKNOWN, 0)
    if errors:
        parts.append(f"{errors:,} error{'s' if errors != 1 else ''}")
    if unchecked:
        parts.append(f"{unchecked:,} not checked")
    return " · ".join(parts)


def settle_memory() -> None:
    """Collect once, then leave everything alive now out of later garbage collections.

    Python's full collection walks every object the process holds: with Qt's
    wrappers, the modules and the watchlist loaded, a pass of 20-30 ms in the GUI
    thread, at a moment nobody chooses (mid-check, mid-scroll). What exists once the
    window is up lives as long as the app does, so it is frozen out of the passes
    (``gc.freeze``) and a full collection only walks what came later. Called by the
    app's entry point once the window is up (not by ``DomainCheckApp``: tests make
    many of those in one process, and frozen objects are never collected).
    """
    gc.collect()
    gc.freeze()


def sensitive_texts(targets: Iterable[Target]) -> list[str]:
    """Every form of every domain, for the analytics scrubber."""
    return [text for t in targets for text in {t.host, t.display, str(t)}]


@dataclasses.dataclass
class _ReadLists:
    """Dropped or opened lists, read, parsed and made into rows on a reading thread."""

    files: int
    problems: list[str]
    merged: domains.ParseResult
    rows: list[WatchRow]
    sensitive: list[str]

    @classmethod
    def read(cls, paths: Sequence[Path]) -> _ReadLists:
        results, problems = [], []
        for path in paths:
            try:
                results.append(domains.read_file(path))
            except InputFileError as exc:
                problems.append(str(exc))
        merged = domains.merge(results)
        return cls(
            files=len(results),
            problems=problems,
            merged=merged,
            rows=unchecked_rows(merged.targets),
            sensitive=sensitive_texts(merged.targets),
        )


@dataclasses.dataclass
class _Run:
    """Book-keeping for the check in progress."""

    targets: list[Target]
    #: A check of the whole watchlist (resets the background schedule).
    full: bool
    reminders: list[Reminder] = dataclasses.field(default_factory=list)
    #: Results taken into the table so far (what the progress bar shows).
    done: int = 0
    trigger: Trigger = "manual"
    started: float = dataclasses.field(default_factory=time.monotonic)
    #: Results of this run per status value (``check_completed``).
    counts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


class FileOpenFilter(QObject):
    """Files opened through the OS: on macOS, lists dropped on the Dock icon.

    They arrive as ``QFileOpenEvent`` on the ``QApplication`` (not on a window), so
    this filter is installed on the application object.

    Signals:
        files_opened(list[Path]): local files the OS asked us to open.
    """

    files_opened = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file() or event.url().toLocalFile()
            if path:
                self.files_opened.emit([Path(path)])
                return True
        return False


class DomainCheckApp(QObject):
    """Signals:
    check_finished(bool): a run ended; ``True`` if cancelled.
    exported(bool): an export finished; ``True`` if the file was written.
    notified(str, str): a reminder notification (title, body) was shown.
    quitting(): the app is shutting down (state saved, worker stopped).
    """

    check_finished = Signal(bool)
    exported = Signal(bool)
    notified = Signal(str, str)
    quitting = Signal()

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        watchlist: Watchlist | None = None,
        preferences_path: Path | None = None,
        checker_factory: CheckerFactory = default_checker_factory,
        tray_available: bool | None = None,
        timer: TimerLike | None = None,
        clock: Callable[[], datetime] = utcnow,
        messages: MessageBridge | None = None,
        batch_interval_ms: int | None = None,
        exit_app: Callable[[], None] | None = None,
        analytics: DesktopAnalytics | None = None,
        token_store: TokenStore | None = None,
        backend_client_factory: Callable[[], BackendClient] | None = None,
    ) -> None:
        super().__init__()
        self.messages = messages or MessageBridge(self)
        #: Usage statistics (all calls return at once; the client starts off-thread).
        self.analytics = analytics if analytics is not None else DesktopAnalytics(parent=self)
        self._token_store = token_store
        self._backend_client_factory = backend_client_factory
        self.reminders_dialog: RemindersDialog | None = None
        self._file_open_filter: FileOpenFilter | None = None
        self._clock = clock
        #: Leaves the Qt event loop once everything is saved (tests pass a stub).
        self._exit_app = exit_app or QApplication.quit
        self._preferences_path = preferences_path
        self.preferences = prefs_io.load(preferences_path)
        self.base_settings = settings if settings is not None else self._settings_from_env()
        self.watchlist = watchlist if watchlist is not None else self._open_watchlist()
        #: Saves arriving results in a thread of its own (an in-memory fallback
        #: database cannot be shared with another connection, so it is written here).
        self._writer: ResultsWriter | None = None
        if str(self.watchlist.path) != ":memory:":
            self._writer = ResultsWriter(self.watchlist.path, parent=self)
            self._writer.failed.connect(self._on_save_failed)
        self._preferences_saver: LatestSaver[Preferences] = LatestSaver(
            lambda value: prefs_io.save(value, preferences_path), "preferences", parent=self
        )
        self._preferences_saver.failed.connect(
            lambda reason: self.messages.error("Could not save the preferences.", reason)
        )
        # Kept in memory (the database copy is written behind, off the GUI thread).
        self._paused_until = self.watchlist.get_time(META_PAUSED_UNTIL)
        self._told_about_tray = self.watchlist.get_meta(META_TOLD_ABOUT_TRAY) is not None
        #: Lists being read off the GUI thread; kept so their answers are delivered.
        self._reads: set[BackgroundCall[_ReadLists]] = set()
        self._exports: set[BackgroundCall[None]] = set()
        self._closed = False
        self._run: _Run | None = None
        self._queued: list[Target] = []
        self._last_input_errors: list[InputError] = []
        self._last_notified_key: tuple[str, int] | None = None
        self._incoming: collections.deque[CheckBatch] = collections.deque()
        self._drain_scheduled = False
        #: ``cancelled`` of a run whose worker finished while results are still queued.
        self._finished_pending: bool | None = None

        self.model = ResultsModel(self)
        self.model.set_rows((e.target, e.result) for e in self.watchlist.entries())
        self._add_sensitive_targets(self.model.targets())
        self.model.set_threshold(self.preferences.threshold_days)

        self.window = MainWindow(self.model)
        self.window.set_threshold(self.preferences.threshold_days)
        self.window.input.setPlainText(self.watchlist.get_meta(META_DRAFT, "") or "")
        self.window.close_handler = self._on_close
        self.messages.shown.connect(self.window.show_message)

        runner_kwargs = (
            {} if batch_interval_ms is None else {"batch_interval_ms": batch_interval_ms}
        )
        self.runner = CheckRunner(checker_factory, parent=self, **runner_kwargs)
        self.runner.results_ready.connect(self._on_results)
        self.runner.failed.connect(self.messages.error)
        self.runner.finished.connect(self._on_run_finished)

        if tray_available is None:
            tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: Tray | None = None
        if tray_available:
            self.tray = Tray(self._tray_state, clock=clock, parent=self)
            self.tray.open_requested.connect(self.show_window)
            self.tray.check_requested.connect(self.check_all)
            self.tray.pause_requested.connect(self.pause_reminders)
            self.tray.quit_requested.connect(self.quit)
            self.tray.reminders_requested.connect(self.open_reminders)
            self.tray.notification_clicked.connect(self._on_notification_clicked)
        QApplication.setQuitOnLastWindowClosed(self.tray is None)

        self.scheduler = Scheduler(
            interval=timedelta(hours=self.preferences.check_interval_hours),
            last_check_at=self.watchlist.get_time(META_LAST_CHECK),
            timer=timer,
            clock=clock,
            parent=self,
        )
        self.scheduler.check_due.connect(self._on_check_due)

        window = self.window
        window.check_requested.connect(self.check_input)
        window.cancel_requested.connect(self.cancel)
        window.files_dropped.connect(lambda paths: self.add_files(paths, source="drop"))
        window.files_opened.connect(lambda paths: self.add_files(paths, source="file"))
        window.reminders_requested.connect(self.open_reminders)
        window.analytics_notice_answered.connect(self._on_analytics_notice_answered)
        self.analytics.notice_needed.connect(window.show_analytics_notice)
        window.export_requested.connect(self.export)
        window.remove_requested.connect(self.remove)
        window.threshold_changed.connect(self.set_threshold)
        window.preferences_requested.connect(self.open_preferences)
        window.quit_requested.connect(self.quit)
        self._refresh_summary()
        self.analytics.start()  # after every connection: its signals come from a thread

    # -- start-up ----------------------------------------------------------------------

    def _settings_from_env(self) -> Settings:
        try:
            return Settings.from_env()
        except DomainCheckError as exc:
            self.messages.warning(f"Ignoring a DOMAINCHECK_* setting: {exc}")
            return Settings()

    def _open_watchlist(self) -> Watchlist:
        try:
            return Watchlist()
        except StorageError as exc:
            self.messages.error(
                "The watchlist could not be opened; changes will not be saved.", str(exc)
            )
            return Watchlist(Path(":memory:"))

    def start(self, files: Sequence[Path] = ()) -> None:
        """Show the window (or only the tray), start the schedule, take in ``files``."""
        if self.tray is not None:
            self.tray.show()
        if not (self.preferences.start_hidden and self.tray is not None):
            self.window.show()
        self.scheduler.start()
        app = QApplication.instance()
        if app is not None and self._file_open_filter is None:
            self._file_open_filter = FileOpenFilter(self)
            self._file_open_filter.files_opened.connect(
                lambda paths: self.add_files(paths, source="drop")
            )
            app.installEventFilter(self._file_open_filter)
        if files:
            self.add_files(files, source="cli", trigger="startup")

    @property
    def settings(self) -> Settings:
        """Engine settings: environment/injected base with the preferences applied."""
        return self.preferences.apply_to(self.base_settings)

    # -- adding domains ------------------------------------------------------------------

    def check_input(self, text: str) -> None:
        """The Check button: add the typed domains, then check the whole watchlist."""
        parsed = domains.parse_text(text, INPUT_SOURCE) if text.strip() else None
        if parsed is not None:
            self._show_input_errors(parsed.errors)
            self._watch(parsed.targets)
            self._imported("paste", len(parsed.targets), len(parsed.errors))
        else:
            self._show_input_errors([])
        if not self.model.rowCount():
            self.messages.info("Type, paste or drop some domains first.")
            return
        self.check_all()

    def add_files(
        self,
        paths: Iterable[Path],
        *,
        source: ImportSource = "drop",
        trigger: Trigger = "manual",
    ) -> None:
        """Files dropped, opened or given on the command line: watch and check them now.

        The files are read and parsed on a thread of their own (a big list, or a file
        on a slow network share, must not freeze the window); the rest follows in
        ``_files_read`` back on the GUI thread.
        """
        paths = list(paths)
        if not paths:
            return
        self.analytics.add_sensitive(text for p in paths for text in (str(p), p.name))

        def done(answer: _ReadLists | None, error: BaseException | None) -> None:
            self._reads.discard(call)
            if self._closed:
                return
            if answer is None:
                self.messages.error(f"Could not read the list ({type(error).__name__})")
                return
            self._files_read(answer, source=source, trigger=trigger)

        call = BackgroundCall(
            functools.partial(_ReadLists.read, paths), done, name="domaincheck-read-list"
        )
        self._reads.add(call)

    @property
    def reading_files(self) -> bool:
        """True while dropped or opened lists are still being read."""
        return bool(self._reads)

    def _files_read(self, lists: _ReadLists, *, source: ImportSource, trigger: Trigger) -> None:
        for problem in lists.problems:
            self.messages.error(f"Could not read the list: {problem}")
        if lists.files == 0:
            return
        merged = lists.merged
        self._show_input_errors(merged.errors)
        self._watch(merged.targets, rows=lists.rows, sensitive=lists.sensitive)
        count = len(merged.targets)
        rejected = len(merged.errors)
        self._imported(source, count, rejected)
        self.messages.info(
            f"Added {count:,} domain{'s' if count != 1 else ''} from "
            f"{lists.files} file{'s' if lists.files != 1 else ''}"
            + (f"; {rejected} line{'s' if rejected != 1 else ''} rejected" if rejected else "")
        )
        if merged.targets:
            self.check_targets(merged.targets, trigger=trigger)

    def _imported(self, source: ImportSource, count: int, rejected: int) -> None:
        self.analytics.capture(
            "domains_imported", {"source": source, "count": count, "rejected": rejected}
        )

    def _add_sensitive_targets(self, targets: Iterable[Target]) -> None:
        self.analytics.add_sensitive(sensitive_texts(targets))

    def _watch(
        self,
        targets: Sequence[Target],
        *,
        rows: Sequence[WatchRow] | None = None,
        sensitive: Sequence[str] | None = None,
    ) -> None:
        """Add ``targets`` to the watchlist; ``rows`` and ``sensitive`` are their
        table rows and private texts when a reading thread made them already."""
        if targets:
            if sensitive is None:
                self._add_sensitive_targets(targets)
            else:
                self.analytics.add_sensitive(sensitive)
            added, now = list(targets), self._clock()
            self._store(lambda store: store.add(added, now=now))
            self.model.add_rows(unchecked_rows(targets) if rows is None else rows)
            self._refresh_summary()
            self._watchlist_changed()

    def _show_input_errors(self, errors: Sequence[InputError]) -> None:
        self._last_input_errors = list(errors)
        self.window.show_input_errors(errors)

    def _store(self, job: Callable[[Watchlist], object]) -> None:
        """A write to the watchlist, behind the GUI thread and in order with results."""
        if self._writer is not None:
            self._writer.run(job)
        else:  # an in-memory fallback database: only this connection can reach it
            job(self.watchlist)

    def flush_writes(self) -> bool:
        """Wait until every queued write (watchlist, preferences) is on disk (tests)."""
        watchlist = self._writer.flush() if self._writer is not None else True
        return self._preferences_saver.flush() and watchlist

    def remove(self, keys: Sequence[tuple[str, int]]) -> None:
        # Queued after any result still waiting for these targets, so none adds it back.
        removed = list(keys)
        self._store(lambda store: store.remove(removed))
        self.model.remove_keys(keys)
        self._refresh_summary()
        self.messages.info(f"Removed {len(keys)} from the watchlist")
        self._watchlist_changed()

    # -- checking ----------------------------------------------------------------------

    @property
    def is_checking(self) -> bool:
        return self._run is not None

    def flush_results(self) -> None:
        """Take every queued result into the table now (quit, tests)."""
        while self._incoming or self._finished_pending is not None:
            self._drain()

    def check_all(self, trigger: Trigger = "manual") -> bool:
        """Check the whole watchlist (Check button, tray, schedule)."""
        return self._start(self.model.targets(), full=True, trigger=trigger)

    def check_targets(self, targets: Sequence[Target], trigger: Trigger = "manual") -> bool:
        """Check some targets; queued behind a running check."""
        if self._run is not None:
            known = {t.key for t in self._queued}
            self._queued += [t for t in targets if t.key not in known]
            return False
        return self._start(
            list(targets), full=len(targets) == self.model.rowCount(), trigger=trigger
        )

    def _start(self, targets: list[Target], *, full: bool, trigger: Trigger = "manual") -> bool:
        if self._closed or self._run is not None or not targets:
            return False
        if not self.runner.start(targets, self.settings):
            return False
        self._run = _Run(targets, full, trigger=trigger)
        self.analytics.capture("check_started", {"count": len(targets), "trigger": trigger})
        self.window.set_checking(True)
        self.window.set_progress(0, len(targets))
        return True

    def cancel(self) -> None:
        self._queued.clear()
        self.runner.cancel()

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
            self._complete_run(cancelled)

    def _take_results(self, batch: CheckBatch) -> None:
        run = self._run
        if run is not None:
            # The progress bar counts the rows filled in, so it moves with the table.
            run.done += len(batch)
            self.window.set_progress(run.done, len(run.targets))
            for result, values in zip(batch.results, batch.values, strict=True):
                status = values.status
                assert status is not None  # a result always has one
                run.counts[status.value] += 1
                position = self.model.row_of(result.target.key)
                previous = None if position is None else self.model.row_at(position)
                reminder = reminder_for(
                    None if previous is None else previous.result,
                    result,
                    status=status,
                    previous_status=None if previous is None else previous.status,
                    problem=values.problem,
                )
                if reminder is not None:
                    run.reminders.append(reminder)
        self.model.apply_results(batch.results, batch.values)
        if self._writer is not None:
            self._writer.save(batch.results, batch.documents)
        else:
            try:
                self.watchlist.save_results(batch.results, batch.documents)
            except Exception as exc:  # a full disk must not stop the check
                log.exception("could not save results")
                self.messages.error("Could not save the results.", str(exc))
        self._refresh_summary()

    def _on_save_failed(self, reason: str) -> None:
        self.messages.error("Could not save the results.", reason)

    def _on_run_finished(self, cancelled: bool) -> None:
        if self._incoming:  # finish once the last results are in the table
            self._finished_pending = cancelled
            self._schedule_drain()
            return
        self._complete_run(cancelled)

    def _complete_run(self, cancelled: bool) -> None:
        run, self._run = self._run, None
        if self._closed:
            return
        self.window.set_checking(False)
        if run is not None:
            self.analytics.capture(
                "check_completed",
                {
                    **run.counts,
                    "total": run.done,
                    "duration_ms": round((time.monotonic() - run.started) * 1000, 1),
                    "cancelled": cancelled,
                    "trigger": run.trigger,
                },
            )
            if run.full and not cancelled:
                now = self._clock()
                self._store(lambda store: store.set_time(META_LAST_CHECK, now))
                self.scheduler.mark_checked(now)
            self._send_reminders(run.reminders)
        done = self.model.rowCount() - self.model.unchecked_count()
        noun = "domain" if done == 1 else "domains"
        self.messages.info("Check cancelled" if cancelled else f"Checked {done:,} {noun}")
        self.check_finished.emit(cancelled)
        if self._queued and not cancelled:
            queued, self._queued = self._queued, []
            self.check_targets(queued)

    def _on_check_due(self) -> None:
        if self._run is None and self.model.rowCount():
            log.info("background check of %d domains", self.model.rowCount())
            self.check_all(trigger="scheduled")

    # -- reminders -----------------------------------------------------------------------

    @property
    def reminders_paused_until(self) -> datetime | None:
        until = self._paused_until
        return until if until is not None and until > self._clock() else None

    def pause_reminders(self, pause: bool = True) -> None:
        until = self._clock() + PAUSE_REMINDERS if pause else None
        self._paused_until = until
        self._store(lambda store: store.set_time(META_PAUSED_UNTIL, until))
        self.messages.info("Reminders paused for 24 hours" if pause else "Reminders resumed")

    def _send_reminders(self, reminders: Sequence[Reminder]) -> None:
        if not reminders or not self.preferences.reminders_enabled:
            return
        if self.reminders_paused_until is not None:
            return
        by_item = {(r.target.key, r.status, r.fingerprint): r for r in reminders}
        now = self._clock()

        def record(store: Watchlist) -> list[tuple[tuple[str, int], Status, str | None]]:
            return store.record_new_notifications(by_item, now)

        def answered(new_items: object, error: BaseException | None) -> None:
            if error is not None or not isinstance(new_items, list):
                # A missed expiry warning is worse than a repeated one: tell them all.
                log.warning("could not record reminders, showing them anyway: %s", error)
                new_items = list(by_item)
            if not self._closed:
                self._show_reminders([by_item[item] for item in new_items])

        if self._writer is not None:  # on the writer's thread, after the saved results
            self._writer.ask(record, answered)
            return
        try:  # an in-memory fallback database: only this connection can reach it
            answered(record(self.watchlist), None)
        except sqlite3.Error as exc:
            answered(None, exc)

    def _show_reminders(self, fresh: Sequence[Reminder]) -> None:
        if not fresh:
            return
        title, body = notification_text(fresh)
        worst = max(fresh, key=lambda r: r.status.severity)
        self._last_notified_key = worst.target.key
        if self.tray is not None:
            self.tray.notify(title, body)
        else:
            self.messages.info(f"{title}: {body.splitlines()[0]}")
        self.analytics.capture("reminder_shown", {"count": len(fresh)})
        self.notified.emit(title, body)

    def _on_notification_clicked(self) -> None:
        self.show_window()
        if self._last_notified_key is not None:
            self.window.select_key(self._last_notified_key)

    def _tray_state(self) -> TrayState:
        return TrayState(checking=self.is_checking, paused_until=self.reminders_paused_until)

    # -- preferences, threshold, export ---------------------------------------------------

    def set_threshold(self, days: int) -> None:
        self.apply_preferences(dataclasses.replace(self.preferences, threshold_days=days))

    def apply_preferences(self, preferences: Preferences) -> None:
        old, self.preferences = self.preferences, preferences
        self._preferences_saver.save(preferences)  # written on a thread of its own
        for field in dataclasses.fields(Preferences):
            if field.name in prefs_io.UNTRACKED_FIELDS:
                continue
            if getattr(old, field.name) != getattr(preferences, field.name):
                self.analytics.capture("settings_changed", {"setting": field.name})
        if preferences.threshold_days != old.threshold_days:
            self.model.set_threshold(preferences.threshold_days)
            self.window.set_threshold(preferences.threshold_days)
            self._refresh_summary()
        if preferences.check_interval_hours != old.check_interval_hours:
            self.scheduler.set_interval(timedelta(hours=preferences.check_interval_hours))

    def open_preferences(self) -> PreferencesDialog:
        statistics = self._statistics_state()
        dialog = PreferencesDialog(
            self.preferences,
            tray_available=self.tray is not None,
            statistics=statistics,
            parent=self.window,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(functools.partial(self._preferences_accepted, before=statistics))
        dialog.reset_analytics_requested.connect(self.analytics.reset_id)
        dialog.reminders_requested.connect(self.open_reminders)
        dialog.open()
        return dialog

    def _statistics_state(self) -> StatisticsState:
        reason = self.analytics.reason
        locked = reason in (OffReason.DO_NOT_TRACK, OffReason.NO_ANALYTICS_ENV)
        note = ""
        if locked and reason is not None:
            note = f"Off: {reason.value}."
        elif reason is OffReason.NO_KEY:
            note = "This copy of Domain Check is built without statistics; nothing is sent."
        return StatisticsState(
            enabled=reason not in (OffReason.OPTED_OUT, OffReason.DO_NOT_TRACK)
            and reason is not OffReason.NO_ANALYTICS_ENV,
            locked=locked,
            note=note,
        )

    def _preferences_accepted(
        self, preferences: Preferences, wanted: bool, *, before: StatisticsState
    ) -> None:
        self.apply_preferences(preferences)
        if not before.locked and wanted != before.enabled:
            self.set_statistics(wanted)

    def set_statistics(self, enabled: bool) -> None:
        """The preference toggle: opting out sends nothing more, from now on."""
        self.analytics.set_opted_out(not enabled)
        if enabled:
            self.analytics.capture("settings_changed", {"setting": "usage_statistics"})
        self.window.hide_analytics_notice()

    def _on_analytics_notice_answered(self, keep_on: bool) -> None:
        if keep_on:
            self.analytics.accept_notice()
        else:
            self.analytics.decline_notice()

    # -- email reminders -------------------------------------------------------------------

    def watchlist_domains(self) -> list[tuple[str, str]]:
        """``(domain, display)`` of every watched target, as the backend takes them."""
        pairs = []
        for target in self.model.targets():
            if target.is_ip:
                continue  # the service watches names, not addresses
            display = target.display if target.port == 443 else f"{target.display}:{target.port}"
            pairs.append((str(target), display))
        return pairs

    def reminder_service(self) -> ReminderService:
        if self._token_store is None:
            self._token_store = TokenStore()
        return ReminderService(
            token_store=self._token_store,
            backend_url=self.preferences.backend_url or None,
            correlation_ids=self.analytics.correlation_ids,
            client_factory=self._backend_client_factory,
        )

    def open_reminders(self) -> RemindersDialog:
        """Email Reminders: one non-modal dialog at a time."""
        if self.reminders_dialog is not None:
            self.reminders_dialog.show()
            self.reminders_dialog.raise_()
            self.reminders_dialog.activateWindow()
            return self.reminders_dialog
        self.show_window()
        dialog = RemindersDialog(
            self.reminder_service(),
            watchlist=self.watchlist_domains(),
            threshold_days=self.preferences.threshold_days,
            email=self.preferences.reminder_email,
            analytics=self.analytics,
            parent=self.window,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.email_changed.connect(self._on_reminder_email_changed)
        dialog.destroyed.connect(self._on_reminders_closed)
        self.reminders_dialog = dialog
        dialog.show()
        return dialog

    def _on_reminders_closed(self) -> None:
        self.reminders_dialog = None

    def _on_reminder_email_changed(self, email: str) -> None:
        """Kept locally, for display only (preferences, the dialog's next opening)."""
        if email:
            self.analytics.add_sensitive([email])
        self.apply_preferences(dataclasses.replace(self.preferences, reminder_email=email))

    def _watchlist_changed(self) -> None:
        dialog = self.reminders_dialog
        if dialog is not None:
            dialog.set_watchlist(self.watchlist_domains())
        elif self.preferences.reminder_email:
            self.messages.info(
                "Your watchlist changed. Open Email Reminders to update your reminders."
            )

    def export(self, path: Path) -> None:
        """Save the results as JSON (``--format json`` document) or CSV, by suffix.

        Written on a thread of its own (thousands of rows, maybe to a slow network
        drive); ``exported`` says how it went.
        """
        results = self.model.results()  # frozen values: safe to read from the thread
        input_errors = list(self._last_input_errors)
        threshold = self.preferences.threshold_days
        checked_at = max((r.checked_at for r in results), default=self._clock())
        as_json = path.suffix.lower() == ".json"

        def write() -> None:
            with open(path, "w", encoding="utf-8", newline="") as stream:
                if as_json:
                    document = report_document(results, input_errors, threshold, checked_at)
                    json.dump(document, stream, indent=2, ensure_ascii=False)
                    stream.write("\n")
                else:
                    write_csv(results, stream)

        def done(_: None, error: BaseException | None) -> None:
            self._exports.discard(call)
            if error is not None:
                self.messages.error(f"Could not export to {path}.", str(error))
                self.exported.emit(False)
                return
            self.analytics.add_sensitive([str(path), path.name])
            self.analytics.capture(
                "results_exported", {"format": "json" if as_json else "csv", "count": len(results)}
            )
            self.messages.info(f"Exported {len(results):,} results to {path.name}")
            self.exported.emit(True)

        call = BackgroundCall(write, done, name="domaincheck-export")
        self._exports.add(call)

    # -- window, tray, quit -----------------------------------------------------------------

    def show_window(self) -> None:
        self.window.bring_to_front()

    def _refresh_summary(self) -> None:
        text = summary_text(self.model.counts(), self.model.unchecked_count())
        self.window.set_summary(text)
        if self.tray is not None:
            self.tray.set_summary(self.model.worst_status(), text)

    def _on_close(self, event: QCloseEvent) -> None:
        if self._closed or self.tray is None:
            event.accept()
            self.quit()
            return
        event.ignore()
        self.window.hide()
        if not self._told_about_tray:
            self._told_about_tray = True
            self._store(lambda store: store.set_meta(META_TOLD_ABOUT_TRAY, "1"))
            self.tray.notify(
                "Domain Check is still running",
                "It keeps checking in the background. Use Quit in the tray menu to exit.",
            )

    def quit(self) -> None:
        """Save state, stop the worker, close everything, leave the event loop."""
        if self._closed:
            return
        self._closed = True
        # First, so the flush runs while the rest shuts down; returns at once.
        self.analytics.begin_shutdown()
        self.quitting.emit()
        if self.reminders_dialog is not None:
            self.reminders_dialog.close()
        if self._file_open_filter is not None:
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self._file_open_filter)
        self._queued.clear()
        self.scheduler.stop()
        self.runner.shutdown()
        if self._writer is not None:  # what the table already shows reaches the disk
            self._writer.close()
        self._preferences_saver.close()
        if self._incoming:  # results already received are saved, not dropped
            received = CheckBatch.join(self._incoming)
            try:
                self.watchlist.save_results(received.results, received.documents)
            except Exception:
                log.exception("could not save the last results")
            self._incoming.clear()
        try:
            self.watchlist.set_meta(META_DRAFT, self.window.input.toPlainText() or None)
        except Exception:
            log.exception("could not save the draft")
        if self.tray is not None:
            self.tray.hide()
        self.window.close()
        self.watchlist.close()
        QTimer.singleShot(0, self._exit_app)
