"""Reminders: what is worth telling, whether to tell it now, and how to tell it.

Manners, in one place: a check the user started while looking at the window shows
its news in the window (a status-bar message), never a balloon over it; background
checks (the schedule, the start-up check, a change made from a terminal) notify once
per domain, status, certificate and day, in one grouped notification with the
information icon unless something is already broken (expired or invalid). Clicking
the notification opens the window on the rows it named.

The decision (:func:`reminder_for`) is pure; the once-a-day log lives in the
watchlist database and is written on the watchlist writer's thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from core.models import (
    EXPIRED_EPP_STATUSES,
    HOLD_EPP_STATUSES,
    CheckResult,
    Status,
    Target,
)
from core.storage import Watchlist
from desktop.messages import MessageBridge

if TYPE_CHECKING:
    from desktop.tray import Tray

log = logging.getLogger(__name__)

#: Statuses worth a notification.
ALERT_STATUSES = frozenset({Status.EXPIRING, Status.EXPIRED, Status.INVALID})
#: Statuses that mean "broken now": the notification gets the warning icon.
BROKEN_STATUSES = frozenset({Status.EXPIRED, Status.INVALID})
#: How many domains a grouped notification names before "…and N more".
NAMED_IN_NOTIFICATION = 3
PAUSE_REMINDERS = timedelta(hours=24)
#: Where the end of a pause is kept (the watchlist database's meta table).
PAUSED_UNTIL_META = "reminders_paused_until"

#: What started a check (``check_started``'s ``trigger``).
Trigger = Literal["manual", "scheduled", "startup"]
NotificationItem = tuple[tuple[str, int], Status, str | None]


@dataclasses.dataclass(frozen=True, slots=True)
class Reminder:
    """One thing worth telling the user about."""

    target: Target
    status: Status
    fingerprint: str | None
    text: str
    #: What it is about: a status (expiring, expired...) or a registration change.
    kind: Literal["status", "registration"] = "status"
    #: Worth the warning icon whatever the status: a new registrar (possible hijack),
    #: a hold or redemption status.
    warning: bool = False


#: Marks a registration change's "fingerprint" in the once-a-day log (a change is told
#: once, apart from the status reminders of the same domain).
REGISTRATION_CHANGE_PREFIX = "registration:"
#: EPP statuses whose arrival is bad news on its own.
ALARMING_EPP_STATUSES = EXPIRED_EPP_STATUSES | HOLD_EPP_STATUSES


def registration_reminder(previous: CheckResult | None, current: CheckResult) -> Reminder | None:
    """A reminder when core found the registration changed since the last check
    (``Registration.changes``: a new registrar, name servers, statuses), else ``None``.

    Core compares with the last stored registration, so a change is in one result
    only: told once. The warning icon goes to a new registrar and to hold or
    redemption statuses that were not there before.
    """
    registration = current.registration
    if registration is None or not registration.changes:
        return None
    old = previous.registration if previous is not None else None
    old_registrar = old.registrar if old is not None else None
    new_registrar = registration.registrar
    registrar_moved = bool(
        old_registrar and new_registrar and old_registrar.casefold() != new_registrar.casefold()
    )
    old_statuses = set(old.statuses) if old is not None else set()
    alarming = bool(ALARMING_EPP_STATUSES.intersection(set(registration.statuses) - old_statuses))
    digest = hashlib.sha256("\n".join(registration.changes).encode()).hexdigest()[:16]
    return Reminder(
        current.target,
        current.status,
        f"{REGISTRATION_CHANGE_PREFIX}{digest}",
        f"{current.target.display}: {'; '.join(registration.changes)}",
        kind="registration",
        warning=registrar_moved or alarming,
    )


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


def ordered(reminders: Sequence[Reminder]) -> list[Reminder]:
    """Most severe first, warnings before the rest of their status (a stable sort:
    equal ones keep their order)."""
    return sorted(reminders, key=lambda r: (-r.status.severity, not r.warning))


def notification_text(reminders: Sequence[Reminder]) -> tuple[str, str]:
    """Title and body for one notification about ``reminders`` (most severe first)."""
    worst_first = ordered(reminders)
    if len(worst_first) == 1:
        reminder = worst_first[0]
        if reminder.kind == "registration":
            return (f"{reminder.target.display}: registration changed", reminder.text)
        return (f"{reminder.target.display} is {reminder.status.label.lower()}", reminder.text)
    shown = [r.text for r in worst_first[:NAMED_IN_NOTIFICATION]]
    if len(worst_first) > NAMED_IN_NOTIFICATION:
        shown.append(f"…and {len(worst_first) - NAMED_IN_NOTIFICATION} more")
    return (f"{len(worst_first)} domains need attention", "\n".join(shown))


def notification_icon(reminders: Sequence[Reminder]) -> QSystemTrayIcon.MessageIcon:
    """Information, unless something is broken now (then a warning)."""
    if any(r.warning or (r.kind == "status" and r.status in BROKEN_STATUSES) for r in reminders):
        return QSystemTrayIcon.MessageIcon.Warning
    return QSystemTrayIcon.MessageIcon.Information


class Recorder(Protocol):
    """Runs jobs on the watchlist's writer, maybe with an answer back (the service)."""

    def run(self, job: Callable[[Watchlist], object]) -> None: ...

    def ask(
        self,
        job: Callable[[Watchlist], object],
        on_answer: Callable[[object, BaseException | None], None],
    ) -> None: ...


class Notifier(QObject):
    """Decides whether, where and how reminders are told.

    Signals:
        notified(str, str): reminders were told (title, body), in a balloon or the window.
        reminded(int): how many reminders that was.
        open_requested(list): the user clicked a notification: show these keys.
    """

    notified = Signal(str, str)
    reminded = Signal(int)
    open_requested = Signal(list)

    def __init__(
        self,
        *,
        recorder: Recorder,
        messages: MessageBridge,
        clock: Callable[[], datetime],
        window_in_use: Callable[[], bool],
        enabled: Callable[[], bool],
        paused_until: datetime | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._recorder = recorder
        self._messages = messages
        self._clock = clock
        self._window_in_use = window_in_use
        self._enabled = enabled
        self._tray: Tray | None = None
        self._paused_until = paused_until
        self._last_keys: list[tuple[str, int]] = []
        self._closed = False

    def set_tray(self, tray: Tray | None) -> None:
        """Where balloons go (without a tray, every reminder goes to the window)."""
        self._tray = tray
        if tray is not None:
            tray.notification_clicked.connect(self._on_clicked)

    @property
    def paused_until(self) -> datetime | None:
        until = self._paused_until
        return until if until is not None and until > self._clock() else None

    def pause(self, pause: bool) -> None:
        """Pause (for ``PAUSE_REMINDERS``, kept across restarts) or resume."""
        until = self._clock() + PAUSE_REMINDERS if pause else None
        self._paused_until = until
        self._recorder.run(lambda store: store.set_time(PAUSED_UNTIL_META, until))
        self._messages.info("Reminders paused for 24 hours" if pause else "Reminders resumed")

    @property
    def last_keys(self) -> list[tuple[str, int]]:
        """The rows the last notification named (a click selects them)."""
        return list(self._last_keys)

    def close(self) -> None:
        self._closed = True

    def report(self, reminders: Sequence[Reminder], *, trigger: Trigger) -> None:
        """Tell ``reminders`` of a finished run, once per domain, status and day."""
        if not reminders or not self._enabled() or self.paused_until is not None:
            return
        by_item: dict[NotificationItem, Reminder] = {
            (r.target.key, r.status, r.fingerprint): r for r in reminders
        }
        now = self._clock()

        def record(store: Watchlist) -> list[NotificationItem]:
            return store.record_new_notifications(by_item, now)

        def answered(new_items: object, error: BaseException | None) -> None:
            if error is not None or not isinstance(new_items, list):
                # A missed expiry warning is worse than a repeated one: tell them all.
                log.warning("could not record reminders, showing them anyway: %s", error)
                new_items = list(by_item)
            if not self._closed:
                self._tell([by_item[item] for item in new_items], trigger=trigger)

        self._recorder.ask(record, answered)

    def _tell(self, fresh: Sequence[Reminder], *, trigger: Trigger) -> None:
        if not fresh:
            return
        title, body = notification_text(fresh)
        self._last_keys = [r.target.key for r in ordered(fresh)]
        in_window = trigger == "manual" and self._window_in_use()
        if self._tray is not None and not in_window:
            self._tray.notify(title, body, notification_icon(fresh))
        else:  # the user is looking at the window (or there is no tray): say it there
            self._messages.info(f"{title}: {body.splitlines()[0]}")
        self.reminded.emit(len(fresh))
        self.notified.emit(title, body)

    def _on_clicked(self) -> None:
        self.open_requested.emit(self.last_keys)
