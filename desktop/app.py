"""The application shell: builds the services and the window, and wires them together.

Each behaviour lives in one obvious place, and this module only connects them:

- :mod:`desktop.watchlist_editor`: what Add, Check, Remove, Undo and groups mean;
- :mod:`desktop.watchlist_service`: every read and write of the watchlist, off the
  GUI thread, Undo, and changes made by other processes;
- :mod:`desktop.run_controller`: the check in progress and its results;
- :mod:`desktop.scheduler`: when the next background check is due;
- :mod:`desktop.notifications`: what is worth telling, and how;
- :mod:`desktop.login_start`: start at login;
- :mod:`desktop.app_dialogs`: preferences, statistics, Email Reminders and export
  (what an export writes: :mod:`desktop.export`);
- :mod:`desktop.app_wiring`: the tray, the notifier, the runs, the schedule, and
  which window request goes to which of these.

Every collaborator that touches the outside world is a constructor argument (engine
factory, watchlist, tray availability, timers, clock, message bridge, autostart), so
tests build the real app against the loopback world and a fake clock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication

from core.api import BackendClient
from core.config import Settings
from core.errors import DomainCheckError
from core.models import Target, utcnow
from core.secrets import TokenStore
from core.storage import Watchlist
from desktop import preferences as prefs_io
from desktop.analytics import DesktopAnalytics
from desktop.app_dialogs import AppDialogs
from desktop.app_wiring import (
    build_notifier,
    build_runs,
    build_scheduler,
    build_tray,
    connect_window,
)
from desktop.engine_process import CheckBatch
from desktop.intake import FileOpenFilter, sensitive_texts
from desktop.login_start import AutostartLike, StartAtLogin
from desktop.mainwindow import MainWindow
from desktop.memory import settle_memory
from desktop.messages import MessageBridge
from desktop.notifications import Trigger
from desktop.preferences import Preferences, PreferencesDialog
from desktop.reminders import RemindersDialog, ReminderService
from desktop.results_model import ResultsModel
from desktop.run_controller import Run
from desktop.scheduler import TimerLike
from desktop.summary import summary_text
from desktop.tray import TrayState
from desktop.watchlist_editor import ImportSource, WatchlistEditor
from desktop.watchlist_service import WatchlistService
from desktop.worker import CheckerFactory, default_checker_factory

__all__ = ["DomainCheckApp", "ImportSource", "Trigger", "settle_memory", "summary_text"]

log = logging.getLogger(__name__)

META_LAST_CHECK = "last_full_check_at"
META_TOLD_ABOUT_TRAY = "told_about_tray"


class DomainCheckApp(QObject):
    """Signals:
    check_finished(bool): a run ended; ``True`` if cancelled.
    exported(bool): an export finished; ``True`` if the file was written.
    notified(str, str): a reminder notification (title, body) was shown.
    watchlist_reloaded(): changes made elsewhere (or an Undo) are in the table.
    quitting(): the app is shutting down (state saved, worker stopped).
    """

    check_finished = Signal(bool)
    exported = Signal(bool)
    notified = Signal(str, str)
    watchlist_reloaded = Signal()
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
        poll_timer: TimerLike | None = None,
        clock: Callable[[], datetime] = utcnow,
        messages: MessageBridge | None = None,
        batch_interval_ms: int | None = None,
        exit_app: Callable[[], None] | None = None,
        analytics: DesktopAnalytics | None = None,
        token_store: TokenStore | None = None,
        backend_client_factory: Callable[[], BackendClient] | None = None,
        autostart: AutostartLike | None = None,
    ) -> None:
        """``autostart``: the login entry. By default the real one only when the app
        uses the real preferences file (``preferences_path`` is None), so tests,
        benchmarks and the self-test never touch the user's login items."""
        super().__init__()
        self.messages = messages or MessageBridge(self)
        #: Usage statistics (all calls return at once; the client starts off-thread).
        self.analytics = analytics if analytics is not None else DesktopAnalytics(parent=self)
        self._clock = self.clock = clock
        #: Leaves the Qt event loop once everything is saved (tests pass a stub).
        self._exit_app = exit_app or QApplication.quit
        self._preferences_path = preferences_path
        self.preferences = prefs_io.load(preferences_path)
        self.base_settings = settings if settings is not None else self._settings_from_env()
        self.store = WatchlistService(
            watchlist if watchlist is not None else WatchlistService.open(self.messages),
            poll_timer=poll_timer,
            parent=self,
        )
        self.watchlist = self.store.watchlist
        self.store.failed.connect(lambda reason: self.messages.error("Could not save.", reason))
        self._told_about_tray = self.watchlist.get_meta(META_TOLD_ABOUT_TRAY) is not None
        self._file_open_filter: FileOpenFilter | None = None
        self._closed = False

        self.model = ResultsModel(self)
        self.model.set_rows((e.target, e.result) for e in self.watchlist.entries())
        self.analytics.add_sensitive(sensitive_texts(self.model.targets()))
        self.model.set_threshold(self.preferences.threshold_days)

        self.window = window = MainWindow(self.model)
        window.set_threshold(self.preferences.threshold_days)
        window.set_groups(self.model.groups())
        window.close_handler = self._on_close
        self.messages.shown.connect(window.show_message)

        self.runs = build_runs(self, checker_factory, batch_interval_ms)
        self.runner = self.runs.runner
        self.runs.finished.connect(self._on_run_finished)
        self.editor = WatchlistEditor(
            model=self.model,
            store=self.store,
            window=window,
            messages=self.messages,
            analytics=self.analytics,
            clock=clock,
            check=lambda targets, trigger: self.check_targets(targets, trigger),
            check_all=lambda: self.check_all(),
            forget=self.runs.forget,
            settings=lambda: self.settings,
            parent=self,
        )
        self.editor.changed.connect(self._watchlist_changed)
        self.editor.reloaded.connect(self.watchlist_reloaded)
        self.login = StartAtLogin.create(
            autostart,
            real=preferences_path is None,
            wanted=self.preferences.start_at_login,
            messages=self.messages,
            parent=self,
        )
        if self.login is not None:
            self.login.decided.connect(self._save_login_choice)
            self.login.told.connect(window.login_notice.tell)
            window.login_notice_answered.connect(self.set_start_at_login)

        self.notifier = build_notifier(self, clock)
        self.tray = build_tray(self, tray_available, clock)
        QApplication.setQuitOnLastWindowClosed(self.tray is None)
        self.notifier.set_tray(self.tray)

        self.scheduler = build_scheduler(self, timer, clock, META_LAST_CHECK)
        self.scheduler.check_due.connect(self._on_check_due)

        self.dialogs = AppDialogs(self, token_store, backend_client_factory, preferences_path)
        connect_window(self)
        self.refresh_summary()
        self.analytics.start()  # after every connection: its signals come from a thread

    # -- start-up ----------------------------------------------------------------------

    def _settings_from_env(self) -> Settings:
        try:
            return Settings.from_env()
        except DomainCheckError as exc:
            self.messages.warning(f"Ignoring a DOMAINCHECK_* setting: {exc}")
            return Settings()

    def start(self, files: Sequence[Path] = (), *, hidden: bool = False) -> None:
        """Show the window (or only the tray), start the schedule, take in ``files``.

        ``hidden`` (started at login): never show the window; with a tray the app sits
        there, without one it still checks and reminds, and shows the window when the
        user starts the app again.
        """
        if self.tray is not None:
            self.tray.show()
        if not hidden and not (self.preferences.start_hidden and self.tray is not None):
            self.window.show()
        self.scheduler.start()
        self.store.start_polling()
        if self.login is not None and self.model.rowCount():
            self.login.first_domain_watched()  # watched before this version asked
        if self._file_open_filter is None:
            self._file_open_filter = FileOpenFilter.install(
                self, lambda paths: self.add_files(paths, source="drop")
            )
        if files:
            self.add_files(files, source="cli", trigger="startup")

    @property
    def settings(self) -> Settings:
        """Engine settings: environment/injected base with the preferences applied."""
        return self.preferences.apply_to(self.base_settings)

    # -- the watchlist (the rules are the editor's) ---------------------------------------

    def check_input(self, text: str) -> None:
        """The Check button: add the new lines, then check the whole watchlist."""
        self.editor.check_input(text)

    def add_files(
        self, paths: Iterable[Path], *, source: ImportSource = "drop", trigger: Trigger = "manual"
    ) -> None:
        """Files dropped, opened or given on the command line: watch and check them."""
        self.editor.add_files(paths, source=source, trigger=trigger)

    @property
    def reading_files(self) -> bool:
        return self.editor.reading_files

    def watch(self, targets: Sequence[Target]) -> list[Target]:
        """Watch ``targets`` as Add does (without a message); returns the new ones."""
        return self.editor.watch(targets)

    _watch = watch  # the name older tests know

    def _watchlist_changed(self) -> None:
        self.window.set_groups(self.model.groups())
        self.refresh_summary()
        self.dialogs.watchlist_changed()
        if self.login is not None and self.model.rowCount():
            self.login.first_domain_watched()  # nothing to do once the user decided

    def flush_writes(self) -> bool:
        """Wait until every queued write (watchlist, preferences) is on disk (tests)."""
        watchlist = self.store.flush()
        return self.dialogs.flush() and watchlist

    # -- checking (the run controller's) ---------------------------------------------------

    @property
    def is_checking(self) -> bool:
        return self.runs.is_checking

    def flush_results(self) -> None:
        """Take every queued result into the table now (quit, tests)."""
        self.runs.flush_results()

    def check_all(self, trigger: Trigger = "manual") -> bool:
        """Check the whole watchlist (Check button, tray, schedule)."""
        return self.runs.check_all(trigger)

    def check_targets(self, targets: Sequence[Target], trigger: Trigger = "manual") -> bool:
        """Check some targets; queued behind a running check."""
        return self.runs.check_targets(targets, trigger)

    def cancel(self) -> None:
        self.runs.cancel()

    def _on_run_finished(self, run: Run, cancelled: bool) -> None:
        self.window.set_checking(False)
        if run.full and not cancelled:
            now = self._clock()
            self.store.run(lambda store: store.set_time(META_LAST_CHECK, now))
            self.scheduler.mark_checked(now)
        if not cancelled and not run.offline:
            self.notifier.report(run.reminders, trigger=run.trigger)
        self.check_finished.emit(cancelled)

    def _on_check_due(self) -> None:
        if not self.runs.is_checking and self.model.rowCount():
            log.info("background check of %d domains", self.model.rowCount())
            self.check_all(trigger="scheduled")

    # -- reminders, start at login -----------------------------------------------------------

    @property
    def reminders_paused_until(self) -> datetime | None:
        return self.notifier.paused_until

    def pause_reminders(self, pause: bool = True) -> None:
        self.notifier.pause(pause)

    def show_rows(self, keys: list[tuple[str, int]]) -> None:
        """Open the window on these rows (a notification was clicked)."""
        self.show_window()
        if keys:
            self.window.select_keys(keys)

    def tray_state(self) -> TrayState:
        """What the tray menu shows when it opens."""
        login = None if self.login is None else bool(self.login.wanted)
        return TrayState(
            checking=self.is_checking,
            paused_until=self.reminders_paused_until,
            start_at_login=login,
        )

    def set_start_at_login(self, enabled: bool) -> None:
        """The tray entry or Preferences: turn starting at login on or off."""
        if self.login is not None:
            self.login.set_wanted(enabled)

    def _save_login_choice(self, enabled: bool) -> None:
        self.dialogs.save_preferences(dataclasses.replace(self.preferences, start_at_login=enabled))

    # -- preferences, export -------------------------------------------------------------

    def set_threshold(self, days: int) -> None:
        self.apply_preferences(dataclasses.replace(self.preferences, threshold_days=days))

    def apply_preferences(self, preferences: Preferences) -> None:
        self.dialogs.apply_preferences(preferences)

    def open_preferences(self) -> PreferencesDialog:
        return self.dialogs.open_preferences()

    def open_reminders(self) -> RemindersDialog:
        return self.dialogs.open_reminders()

    @property
    def reminders_dialog(self) -> RemindersDialog | None:
        return self.dialogs.reminders_dialog

    def reminder_service(self) -> ReminderService:
        return self.dialogs.reminder_service()

    def export(self, path: Path, keys: Sequence[tuple[str, int]] | None = None) -> None:
        """Save the results (of ``keys``, in that order: what the view shows) to ``path``."""
        self.dialogs.export(path, keys, self.editor.input_errors)

    # -- window, tray, quit -----------------------------------------------------------------

    def show_window(self) -> None:
        self.window.bring_to_front()

    def refresh_summary(self) -> None:
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
            self.store.run(lambda store: store.set_meta(META_TOLD_ABOUT_TRAY, "1"))
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
        self.dialogs.close()
        self.editor.close()
        if self._file_open_filter is not None:
            self._file_open_filter.uninstall()
        self.scheduler.stop()
        self.notifier.close()
        if self.login is not None:
            self.login.close()
        received: CheckBatch = self.runs.shutdown()
        if received:  # results already received are saved, not dropped
            self.store.save_results(received.results, received.documents)
        self.store.close()
        if self.tray is not None:
            self.tray.hide()
        self.window.close()
        self.watchlist.close()
        QTimer.singleShot(0, self._exit_app)
