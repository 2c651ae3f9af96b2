"""The background scheduler: says when the watchlist is due for a check.

The scheduler takes its timer and clock as constructor arguments (like Vorta's
``scheduler.py``), so tests drive hours of schedule with a fake timer and a fake
clock. It ticks every ``TICK_INTERVAL_MS`` and compares wall-clock time with the next
due time, so a run missed while the computer slept happens on the first tick after
resume (and a tick that comes much later than expected is reported as a wake-up).

The first tick comes ``STARTUP_DELAY`` after start (not a whole tick interval), so
what is overdue at start (the whole watchlist, or targets never checked) is checked
within seconds: ``startup_due`` is the app's cue to check stale targets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance

from core.models import utcnow

log = logging.getLogger(__name__)

#: How often the scheduler looks at the clock.
TICK_INTERVAL_MS = 60_000
#: First tick after start: overdue and never-checked targets are checked this soon.
STARTUP_DELAY = timedelta(seconds=10)
#: A tick this many intervals late means the computer was asleep.
WAKE_GAP_FACTOR = 3
#: The first tick may come this much early (coarse timers fire up to 5 % early).
FIRST_TICK_SLACK = timedelta(seconds=1)


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
        startup_due(): the first tick after start (time to check stale targets).
        woke_up(float): a tick came this many seconds late (sleep/resume).
    """

    check_due = Signal()
    startup_due = Signal()
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
        self._first_tick_pending = False
        self._timer.timeout.connect(self._tick)

    @property
    def next_due(self) -> datetime | None:
        return self._next_due

    @property
    def interval(self) -> timedelta:
        return self._interval

    def start(self) -> None:
        now = self._clock()
        self._last_tick = now
        self._schedule_from(now)
        self._first_tick_pending = True
        self._timer.start(int(STARTUP_DELAY.total_seconds() * 1000))
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
        first = self._first_tick_pending
        if first:
            self._first_tick_pending = False
            self._timer.start(TICK_INTERVAL_MS)  # from now on, the usual pace
        elif self._last_tick is not None:
            late = (now - self._last_tick).total_seconds()
            if late > WAKE_GAP_FACTOR * TICK_INTERVAL_MS / 1000:
                log.info("woke up after %.0f s", late)
                self.woke_up.emit(late)
        self._last_tick = now
        slack = FIRST_TICK_SLACK if first else timedelta(0)
        if self._next_due is not None and now + slack >= self._next_due:
            # Until the run reports back (mark_checked), do not fire again every tick.
            self._next_due = now + self._interval
            self.check_due.emit()
        if first:
            self.startup_due.emit()
