"""How the app's parts are put together: the tray, the notifier, and the window's
requests routed to the services that carry them out.

``DomainCheckApp`` builds the services; this module only connects them, so the app
class stays a short list of what exists and what each public call means, and a
newcomer looking for "what happens when the user clicks X" finds it here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QSystemTrayIcon

from desktop.notifications import PAUSED_UNTIL_META, Notifier
from desktop.run_controller import RunController
from desktop.scheduler import Scheduler, TimerLike
from desktop.tray import Tray
from desktop.worker import CheckerFactory

if TYPE_CHECKING:
    from desktop.app import DomainCheckApp


def build_notifier(app: DomainCheckApp, clock: Callable[[], datetime]) -> Notifier:
    """The reminders: told in the window while the user looks at it, else in the tray;
    a click on one opens the window on its rows."""
    window = app.window
    notifier = Notifier(
        recorder=app.store,
        messages=app.messages,
        clock=clock,
        window_in_use=lambda: window.isVisible() and window.isActiveWindow(),
        enabled=lambda: app.preferences.reminders_enabled,
        paused_until=app.watchlist.get_time(PAUSED_UNTIL_META),
        parent=app,
    )
    notifier.notified.connect(app.notified)
    notifier.reminded.connect(
        lambda count: app.analytics.capture("reminder_shown", {"count": count})
    )
    notifier.open_requested.connect(app.show_rows)
    return notifier


def build_tray(
    app: DomainCheckApp, available: bool | None, clock: Callable[[], datetime]
) -> Tray | None:
    """The tray icon and its menu, when the desktop has a tray (``None`` otherwise)."""
    if available is None:
        available = QSystemTrayIcon.isSystemTrayAvailable()
    if not available:
        return None
    tray = Tray(app.tray_state, clock=clock, parent=app)
    tray.open_requested.connect(app.show_window)
    tray.check_requested.connect(app.check_all)
    tray.pause_requested.connect(app.pause_reminders)
    tray.quit_requested.connect(app.quit)
    tray.start_at_login_toggled.connect(app.set_start_at_login)
    return tray


def connect_window(app: DomainCheckApp) -> None:
    """Route what the user asks of the window to the editor, the runs and the app."""
    window = app.window
    editor = app.editor
    window.check_requested.connect(editor.check_input)
    window.add_requested.connect(editor.add_input)
    window.cancel_requested.connect(app.cancel)
    window.files_dropped.connect(lambda paths: app.add_files(paths, source="drop"))
    window.files_opened.connect(lambda paths: app.add_files(paths, source="file"))
    window.remove_requested.connect(editor.remove)
    window.undo_requested.connect(editor.undo)
    window.check_now_requested.connect(app.runs.check_keys)
    window.group_requested.connect(editor.set_group)
    window.target_threshold_requested.connect(editor.set_threshold)
    window.registration_expiry_requested.connect(editor.set_registration_expiry)
    window.export_requested.connect(app.export)
    window.threshold_changed.connect(app.set_threshold)
    window.quit_requested.connect(app.quit)
    app.store.undo_changed.connect(lambda text: window.set_undo_available(text or None))


def build_runs(
    app: DomainCheckApp, checker_factory: CheckerFactory, batch_interval_ms: int | None
) -> RunController:
    """The checks: results saved through the store, progress shown in the window."""
    window = app.window
    runs = RunController(
        app.model,
        checker_factory,
        settings=lambda: app.settings,
        save=lambda batch: app.store.save_results(batch.results, batch.documents),
        messages=app.messages,
        analytics=app.analytics,
        batch_interval_ms=batch_interval_ms,
        manual_expiries=lambda: app.store.manual_expiries,
        parent=app,
    )
    runs.started.connect(lambda: window.set_checking(True))
    runs.progress.connect(window.set_progress)
    runs.results_taken.connect(app.refresh_summary)
    return runs


def build_scheduler(
    app: DomainCheckApp,
    timer: TimerLike | None,
    clock: Callable[[], datetime],
    last_check_meta: str,
) -> Scheduler:
    """Background checks every interval, and the stale ones shortly after start."""
    scheduler = Scheduler(
        interval=timedelta(hours=app.preferences.check_interval_hours),
        last_check_at=app.watchlist.get_time(last_check_meta),
        timer=timer,
        clock=clock,
        parent=app,
    )
    scheduler.startup_due.connect(lambda: app.runs.check_stale(clock() - scheduler.interval))
    return scheduler
