"""The system tray: icon, menu and notifications; the background scheduler; reminders.

The scheduler takes its timer and clock as constructor arguments (like Vorta's
``scheduler.py``), so tests drive hours of schedule with a fake timer and a fake
clock. It ticks every ``TICK_INTERVAL_MS`` and compares wall-clock time with the next
due time, so a run missed while the computer slept happens on the first tick after
resume (and a tick that comes much later than expected is reported as a wake-up).

Reminders are a pure decision (:func:`reminder_for`) plus a per-day log kept in the
watchlist database (:meth:`core.storage.Watchlist.was_notified`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from core.models import CheckResult, Status, Target, utcnow
from desktop import icons

log = logging.getLogger(__name__)

#: How often the scheduler looks at the clock.
TICK_INTERVAL_MS = 60_000
#: First background check after start, when the last one is overdue.
STARTUP_DELAY = timedelta(minutes=1)
#: A tick this many intervals late means the computer was asleep.
WAKE_GAP_FACTOR = 3
PAUSE_REMINDERS = timedelta(hours=24)
NOTIFICATION_TIMEOUT_MS = 15_000

#: Statuses worth a notification.
ALERT_STATUSES = frozenset({Status.EXPIRING, Status.EXPIRED, Status.INVALID})


class TimerLike(Protocol):
    """The part of ``QTimer`` the scheduler uses (tests pass a fake)."""

    @property
    def timeout(self) -> SignalInstance: ...
    def start(self, msec: int) -> None: ...
    def stop(self) -> None: ...


Clock = Callable[[], datetime]


class Scheduler(QObject):
    """Says when the watchlist is due for a background check.

    Signals:
        check_due(): time for a background check of the whole watchlist.
        woke_up(float): a tick came this many seconds late (sleep/resume).
    """

    check_due = Signal()
    woke_up = Signal(float)

    def __init__(
        self,
        *,
        interval: timedelta,
        last_check_at: datetime | None,
        timer: TimerLike | None = None,
        clock: Clock = utcnow,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._interval = interval
        self._last_check_at = last_check_at
        self._timer: TimerLike = timer if timer is not None else QTimer(self)
        self._clock = clock
        self._last_tick: datetime | None = None
        self._next_due: datetime | None = None
        self._timer.timeout.connect(self._tick)

    @property
    def next_due(self) -> datetime | None:
        return self._next_due

    def start(self) -> None:
        now = self._clock()
        self._last_tick = now
        self._schedule_from(now)
        self._timer.start(TICK_INTERVAL_MS)
        log.info("next background check at %s", self._next_due)

    def stop(self) -> None:
        self._timer.stop()

    def set_interval(self, interval: timedelta) -> None:
        self._interval = interval
        self._schedule_from(self._clock())

    def mark_checked(self, at: datetime) -> None:
        """A check of the whole watchlist finished (background or not)."""
        self._last_check_at = at
        self._next_due = at + self._interval

    def _schedule_from(self, now: datetime) -> None:
        if self._last_check_at is None:
            self._next_due = now + STARTUP_DELAY
            return
        due = self._last_check_at + self._interval
        self._next_due = max(due, now + STARTUP_DELAY) if due <= now else due

    def _tick(self) -> None:
        now = self._clock()
        if self._last_tick is not None:
            late = (now - self._last_tick).total_seconds()
            if late > WAKE_GAP_FACTOR * TICK_INTERVAL_MS / 1000:
                log.info("woke up after %.0f s", late)
                self.woke_up.emit(late)
        self._last_tick = now
        if self._next_due is not None and now >= self._next_due:
            # Until the run reports back (mark_checked), do not fire again every tick.
            self._next_due = now + self._interval
            self.check_due.emit()


@dataclasses.dataclass(frozen=True, slots=True)
class Reminder:
    """One thing worth telling the user about."""

    target: Target
    status: Status
    fingerprint: str | None
    text: str


def reminder_for(
    previous: CheckResult | None,
    current: CheckResult,
    *,
    status: Status | None = None,
    previous_status: Status | None = None,
    problem: str | None = None,
) -> Reminder | None:
    """A reminder when ``current`` newly needs attention, got worse, or changed certificate.

    ``status``, ``previous_status`` and ``problem`` are the results' own when left
    out; callers that worked them out already pass them (``CheckResult`` computes
    them anew on every read). The caller still applies the once-per-domain-per-status-
    per-day rule.
    """
    status = current.status if status is None else status
    if status not in ALERT_STATUSES:
        return None
    fingerprint = current.tls.fingerprint_sha256 if current.tls else None
    previous_fingerprint = previous.tls.fingerprint_sha256 if previous and previous.tls else None
    if previous is not None and previous_status is None:
        previous_status = previous.status
    worse = previous_status is None or previous_status.severity < status.severity
    new_certificate = (
        previous_fingerprint is not None
        and fingerprint is not None
        and previous_fingerprint != fingerprint
    )
    if not (worse or new_certificate):
        return None
    problem = (current.problem if problem is None else problem) or status.label.lower()
    if new_certificate and not worse:
        problem = f"new certificate, still {status.label.lower()}: {problem}"
    return Reminder(current.target, status, fingerprint, f"{current.target.display}: {problem}")


def notification_text(reminders: Sequence[Reminder]) -> tuple[str, str]:
    """Title and body for one notification about ``reminders`` (most severe first)."""
    ordered = sorted(reminders, key=lambda r: -r.status.severity)
    if len(ordered) == 1:
        reminder = ordered[0]
        return (f"{reminder.target.display} is {reminder.status.label.lower()}", reminder.text)
    shown = [r.text for r in ordered[:4]]
    if len(ordered) > 4:
        shown.append(f"…and {len(ordered) - 4} more")
    return (f"{len(ordered)} domains need attention", "\n".join(shown))


@dataclasses.dataclass(frozen=True, slots=True)
class TrayState:
    """What the menu shows; asked for each time it opens."""

    checking: bool
    paused_until: datetime | None


class Tray(QObject):
    """The tray icon and its menu.

    Signals:
        open_requested(): show the main window.
        check_requested(): check the whole watchlist now.
        pause_requested(bool): pause (True) or resume (False) reminders.
        quit_requested(): quit the application.
        reminders_requested(): open the Email Reminders dialog.
        notification_clicked(): the last notification was clicked.
    """

    open_requested = Signal()
    check_requested = Signal()
    pause_requested = Signal(bool)
    quit_requested = Signal()
    reminders_requested = Signal()
    notification_clicked = Signal()

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

    def notify(self, title: str, body: str) -> None:
        self.icon.showMessage(
            title, body, QSystemTrayIcon.MessageIcon.Warning, NOTIFICATION_TIMEOUT_MS
        )

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()
