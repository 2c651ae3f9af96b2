"""The app's side of its dialogs and files: preferences, statistics, Email Reminders, export.

Why apart from :mod:`desktop.app`: these are the app's answers to "the user opened a
dialog" or "the user asked for a file", each with its own state (the preferences
file written behind, the one Email Reminders dialog, exports under way), and none of
them is part of watching or checking domains.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer

from core.api import BackendClient
from core.models import InputError
from core.secrets import TokenStore
from desktop import preferences as prefs_io
from desktop.background import BackgroundCall
from desktop.export import ExportRow, write_csv, write_json
from desktop.persistence import LatestSaver
from desktop.preferences import Preferences, PreferencesDialog, StatisticsState
from desktop.reminders import RemindersDialog, ReminderService, WatchlistItem
from desktop.watchlist_editor import domains_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from desktop.app import DomainCheckApp

log = logging.getLogger(__name__)


class AppDialogs:
    """Preferences (kept and saved), statistics, Email Reminders and export for ``app``."""

    def __init__(
        self,
        app: DomainCheckApp,
        token_store: TokenStore | None,
        backend_client_factory: Callable[[], BackendClient] | None,
        preferences_path: Path | None,
    ) -> None:
        self._app = app
        self._token_store = token_store
        self._backend_client_factory = backend_client_factory
        self.reminders_dialog: RemindersDialog | None = None
        self._exports: set[BackgroundCall[None]] = set()
        self._saver: LatestSaver[Preferences] = LatestSaver(
            lambda value: prefs_io.save(value, preferences_path), "preferences", parent=app
        )
        self._saver.failed.connect(
            lambda reason: app.messages.error("Could not save the preferences.", reason)
        )
        window = app.window
        window.reminders_requested.connect(self.open_reminders)
        window.preferences_requested.connect(self.open_preferences)
        window.analytics_notice_answered.connect(self._on_analytics_notice_answered)
        # A row's own threshold or typed date changes what reminders should send; the
        # editor applies the change in its own slot, so look once it has.
        window.target_threshold_requested.connect(self._after_settings_changed)
        window.registration_expiry_requested.connect(self._after_settings_changed)
        app.analytics.notice_needed.connect(window.show_analytics_notice)
        if app.tray is not None:
            app.tray.reminders_requested.connect(self.open_reminders)

    def flush(self) -> bool:
        return self._saver.flush()

    def close(self) -> None:
        if self.reminders_dialog is not None:
            self.reminders_dialog.close()
        self._saver.close()

    # -- preferences and statistics ---------------------------------------------------------

    def save_preferences(self, preferences: Preferences) -> None:
        """Make ``preferences`` the app's, and write them behind (a thread of their own)."""
        app = self._app
        old, app.preferences = app.preferences, preferences
        self._saver.save(preferences)
        for field in dataclasses.fields(Preferences):
            if field.name in prefs_io.UNTRACKED_FIELDS:
                continue
            if getattr(old, field.name) != getattr(preferences, field.name):
                app.analytics.capture("settings_changed", {"setting": field.name})

    def apply_preferences(self, preferences: Preferences) -> None:
        """Make ``preferences`` the app's, and apply what changed."""
        app, old = self._app, self._app.preferences
        self.save_preferences(preferences)
        if preferences.threshold_days != old.threshold_days:
            app.model.set_threshold(preferences.threshold_days)
            app.window.set_threshold(preferences.threshold_days)
            app.refresh_summary()
        if preferences.check_interval_hours != old.check_interval_hours:
            app.scheduler.set_interval(timedelta(hours=preferences.check_interval_hours))
        if preferences.start_at_login is not None and app.login is not None:
            app.login.set_wanted(preferences.start_at_login)

    def open_preferences(self) -> PreferencesDialog:
        app = self._app
        statistics = self.statistics_state()
        dialog = PreferencesDialog(
            app.preferences,
            tray_available=app.tray is not None,
            statistics=statistics,
            parent=app.window,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(functools.partial(self._accepted, before=statistics))
        dialog.reset_analytics_requested.connect(app.analytics.reset_id)
        dialog.reminders_requested.connect(self.open_reminders)
        dialog.open()
        return dialog

    def statistics_state(self) -> StatisticsState:
        return StatisticsState.current(self._app.analytics.reason)

    def _accepted(self, preferences: Preferences, wanted: bool, *, before: StatisticsState) -> None:
        self._app.apply_preferences(preferences)
        if not before.locked and wanted != before.enabled:
            self.set_statistics(wanted)

    def set_statistics(self, enabled: bool) -> None:
        """The preference toggle: opting out sends nothing more, from now on."""
        analytics = self._app.analytics
        analytics.set_opted_out(not enabled)
        if enabled:
            analytics.capture("settings_changed", {"setting": "usage_statistics"})
        self._app.window.hide_analytics_notice()

    def _on_analytics_notice_answered(self, keep_on: bool) -> None:
        if keep_on:
            self._app.analytics.accept_notice()
        else:
            self._app.analytics.decline_notice()

    # -- email reminders -------------------------------------------------------------------

    def watchlist_domains(self) -> list[WatchlistItem]:
        """Every watched target as the backend takes it (``example.com:8443``,
        ``smtp://mx1.example.com``), with its group, own threshold and typed date."""
        app = self._app
        expiries = app.store.manual_expiries
        items = []
        for row in app.model.rows():
            target = row.target
            if target.is_ip:
                continue  # the service watches names, not addresses
            items.append(WatchlistItem.of(target, group=row.group, expires=expiries.get(row.key)))
        return items

    def reminder_service(self) -> ReminderService:
        if self._token_store is None:
            self._token_store = TokenStore()
        app = self._app
        return ReminderService(
            token_store=self._token_store,
            backend_url=app.preferences.backend_url or None,
            correlation_ids=app.analytics.correlation_ids,
            client_factory=self._backend_client_factory,
        )

    def open_reminders(self) -> RemindersDialog:
        """Email Reminders: one non-modal dialog at a time."""
        if self.reminders_dialog is not None:
            self.reminders_dialog.show()
            self.reminders_dialog.raise_()
            self.reminders_dialog.activateWindow()
            return self.reminders_dialog
        app = self._app
        app.show_window()
        dialog = RemindersDialog(
            self.reminder_service(),
            watchlist=self.watchlist_domains(),
            threshold_days=app.preferences.threshold_days,
            email=app.preferences.reminder_email,
            analytics=app.analytics,
            parent=app.window,
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
        app = self._app
        if email:
            app.analytics.add_sensitive([email])
        app.apply_preferences(dataclasses.replace(app.preferences, reminder_email=email))

    def _after_settings_changed(self, *_args: object) -> None:
        QTimer.singleShot(0, self._app, self._refresh_reminders_watchlist)

    def _refresh_reminders_watchlist(self) -> None:
        """An open reminders dialog follows the rows' settings (closed: read on opening)."""
        if self.reminders_dialog is not None:
            self.reminders_dialog.set_watchlist(self.watchlist_domains())

    def watchlist_changed(self) -> None:
        dialog = self.reminders_dialog
        if dialog is not None:
            dialog.set_watchlist(self.watchlist_domains())
        elif self._app.preferences.reminder_email:
            self._app.messages.info(
                "Your watchlist changed. Open Email Reminders to update your reminders."
            )

    # -- export ------------------------------------------------------------------------------

    def export(
        self,
        path: Path,
        keys: Sequence[tuple[str, int]] | None,
        input_errors: Sequence[InputError],
    ) -> None:
        """Save the rows as JSON or CSV, by suffix, with their groups (``desktop.export``).

        ``keys``: the rows to write, in order (what the view shows); all when None.
        Written on a thread of its own (thousands of rows, maybe to a slow network
        drive); the app's ``exported`` says how it went.
        """
        app = self._app
        model = app.model
        if keys is None:
            keys = [row.key for row in model.rows()]
        shown = [model.row_at(p) for k in keys if (p := model.row_of(k)) is not None]
        # Frozen values, safe to read from the thread.
        rows = [ExportRow(row.target, row.group, row.result) for row in shown]
        results = [row.result for row in rows if row.result is not None]
        errors = list(input_errors)
        threshold = app.preferences.threshold_days
        checked_at = max((r.checked_at for r in results), default=app.clock())
        as_json = path.suffix.lower() == ".json"
        written: list[int] = []

        def write() -> None:
            with open(path, "w", encoding="utf-8", newline="") as stream:
                if as_json:
                    count = write_json(
                        rows,
                        stream,
                        input_errors=errors,
                        threshold_days=threshold,
                        checked_at=checked_at,
                    )
                else:
                    count = write_csv(rows, stream)
            written.append(count)

        def done(_: None, error: BaseException | None) -> None:
            self._exports.discard(call)
            if error is not None:
                app.messages.error(f"Could not export to {path}.", str(error))
                app.exported.emit(False)
                return
            app.analytics.add_sensitive([str(path), path.name])
            app.analytics.capture(
                "results_exported", {"format": "json" if as_json else "csv", "count": sum(written)}
            )
            app.messages.info(f"Exported {domains_text(sum(written))} to {path.name}")
            app.exported.emit(True)

        call = BackgroundCall(write, done, name="domaincheck-export")
        self._exports.add(call)
