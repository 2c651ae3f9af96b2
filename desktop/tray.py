"""The system tray: the icon, its menu and its notifications.

The menu is rebuilt from a ``TrayState`` each time it opens, so it always says what
is true now (checking or not, reminders paused, start at login on or off). What the
entries mean is decided elsewhere: the tray only emits signals.

The scheduler (:mod:`desktop.scheduler`) and the reminder decisions
(:mod:`desktop.notifications`) lived here once; their names are still importable
from this module.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from core.models import Status, utcnow
from desktop import icons
from desktop.notifications import (
    ALERT_STATUSES,
    PAUSE_REMINDERS,
    Reminder,
    notification_text,
    reminder_for,
)
from desktop.scheduler import (
    STARTUP_DELAY,
    TICK_INTERVAL_MS,
    WAKE_GAP_FACTOR,
    Clock,
    Scheduler,
    TimerLike,
)

__all__ = [
    "ALERT_STATUSES",
    "NOTIFICATION_TIMEOUT_MS",
    "PAUSE_REMINDERS",
    "STARTUP_DELAY",
    "TICK_INTERVAL_MS",
    "WAKE_GAP_FACTOR",
    "Clock",
    "Reminder",
    "Scheduler",
    "TimerLike",
    "Tray",
    "TrayState",
    "notification_text",
    "reminder_for",
]

log = logging.getLogger(__name__)

NOTIFICATION_TIMEOUT_MS = 15_000


@dataclasses.dataclass(frozen=True, slots=True)
class TrayState:
    """What the menu shows; asked for each time it opens."""

    checking: bool
    paused_until: datetime | None
    #: The checkable "Start at login" entry (``None``: no such entry, e.g. in tests).
    start_at_login: bool | None = None


class Tray(QObject):
    """The tray icon and its menu.

    Signals:
        open_requested(): show the main window.
        check_requested(): check the whole watchlist now.
        pause_requested(bool): pause (True) or resume (False) reminders.
        quit_requested(): quit the application.
        reminders_requested(): open the Email Reminders dialog.
        notification_clicked(): the last notification was clicked.
        start_at_login_toggled(bool): the "Start at login" entry was (un)checked.
    """

    open_requested = Signal()
    check_requested = Signal()
    pause_requested = Signal(bool)
    quit_requested = Signal()
    reminders_requested = Signal()
    notification_clicked = Signal()
    start_at_login_toggled = Signal(bool)

    def __init__(
        self,
        state: Callable[[], TrayState],
        *,
        clock: Clock = utcnow,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._state = state
        self._clock = clock
        self.icon = QSystemTrayIcon(icons.tray_icon(None), self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self.notification_clicked)
        self.icon.setToolTip("Domain Check")
        self.rebuild_menu()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def rebuild_menu(self) -> None:
        """Fill the menu from the current state (connected to ``aboutToShow``)."""
        state = self._state()
        self.menu.clear()
        self._add(self.menu, "&Open Domain Check", self.open_requested.emit)
        check = self._add(
            self.menu, "Checking…" if state.checking else "&Check now", self.check_requested.emit
        )
        check.setEnabled(not state.checking)
        paused = state.paused_until is not None and state.paused_until > self._clock()
        if paused:
            assert state.paused_until is not None
            until = state.paused_until.astimezone().strftime("%a %H:%M")
            self._add(
                self.menu,
                f"&Resume reminders (paused until {until})",
                lambda: self.pause_requested.emit(False),
            )
        else:
            self._add(
                self.menu, "&Pause reminders for 24 hours", lambda: self.pause_requested.emit(True)
            )
        self._add(self.menu, "Email &Reminders…", self.reminders_requested.emit)
        if state.start_at_login is not None:
            login = self.menu.addAction("Start at &login")
            login.setCheckable(True)
            login.setChecked(state.start_at_login)
            login.toggled.connect(self.start_at_login_toggled)
        self.menu.addSeparator()
        self._add(self.menu, "&Quit", self.quit_requested.emit)

    @staticmethod
    def _add(menu: QMenu, text: str, slot: Callable[[], object]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        return action

    def set_summary(self, worst: Status | None, summary: str) -> None:
        self.icon.setIcon(icons.tray_icon(worst))
        self.icon.setToolTip(f"Domain Check\n{summary}" if summary else "Domain Check")

    def notify(
        self,
        title: str,
        body: str,
        icon: QSystemTrayIcon.MessageIcon = QSystemTrayIcon.MessageIcon.Information,
    ) -> None:
        """A balloon (a desktop notification); ``icon`` says how serious it is."""
        self.icon.showMessage(title, body, icon, NOTIFICATION_TIMEOUT_MS)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()
