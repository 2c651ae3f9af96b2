"""Usage statistics for the desktop: :class:`core.analytics.Analytics`, off the GUI thread.

Why a wrapper: making the client reads the preferences and the analytics ID from disk
and imports and starts the PostHog SDK (a few hundred milliseconds on a cold disk),
and opting out or resetting the ID writes files. None of that may run on the GUI
thread, so every call is queued to one daemon thread, in order, and returns at once.
Calls made before the client exists simply wait in that queue.

First run: nothing is sent until the user has answered the notice.
:attr:`notice_needed` fires when the window should show it; "Send Statistics"
starts sending (:meth:`accept_notice`), "No Thanks" opts out (:meth:`decline_notice`).
Either answer is remembered; a notice left unanswered comes back the next run, and
nothing is sent meanwhile.

Quitting: :meth:`begin_shutdown` (returns at once, starts a ~2 s hard cap) from the
quit path, :meth:`wait_for_shutdown` once the event loop has ended.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal, qVersion

from core import analytics as core_analytics
from core.analytics import SHUTDOWN_TIMEOUT_SECONDS, Analytics, AnalyticsConfig, OffReason

log = logging.getLogger(__name__)

FRONTEND = "desktop"

AnalyticsFactory = Callable[[], Analytics]


def create_desktop_analytics(env: Mapping[str, str] | None = None) -> Analytics:
    """The run's one ``Analytics`` (disk and SDK start-up: call it off the GUI thread).

    On the first run (the notice not shown yet) it starts *off* with
    ``OffReason.FIRST_RUN`` but keeps the configuration, so the notice's "OK" can turn
    it on for this run.
    """
    env = os.environ if env is None else env
    if core_analytics.notice_shown(FRONTEND):
        return Analytics.create(FRONTEND, env=env)
    config = AnalyticsConfig.from_environment(env)
    reason = core_analytics.off_reason(env, config) or OffReason.FIRST_RUN
    return Analytics(config, frontend=FRONTEND, reason=reason)


class DesktopAnalytics(QObject):
    """Queues analytics calls to a daemon thread; every method returns at once.

    Signals:
        ready(): the client exists (maybe off); :attr:`reason` is meaningful now.
        notice_needed(): first run with statistics possible: show the notice.
    """

    ready = Signal()
    notice_needed = Signal()

    def __init__(
        self,
        factory: AnalyticsFactory = create_desktop_analytics,
        *,
        shutdown_timeout_seconds: float = SHUTDOWN_TIMEOUT_SECONDS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = factory
        self._shutdown_timeout_seconds = shutdown_timeout_seconds
        self._analytics: Analytics | None = None
        self._calls: queue.SimpleQueue[Callable[[Analytics], object] | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._pending = 0
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="desktop-analytics", daemon=True)

    def start(self) -> None:
        """Make the client in the background (connect to the signals first). Idempotent."""
        with self._lock:
            if self._thread.is_alive() or self._thread.ident is not None:
                return
            self._thread.start()

    # ----------------------------------------------------------------- state

    @property
    def analytics(self) -> Analytics | None:
        """The client once made (``None`` before: tests wait for :attr:`ready`)."""
        return self._analytics

    @property
    def enabled(self) -> bool:
        return self._analytics is not None and self._analytics.enabled

    @property
    def reason(self) -> OffReason | None:
        return None if self._analytics is None else self._analytics.reason

    def correlation_ids(self) -> tuple[str | None, str | None]:
        """For ``BackendClient(distinct_id=…, session_id=…)``; ``(None, None)`` while off."""
        current = self._analytics
        return (None, None) if current is None else current.correlation_ids()

    # ----------------------------------------------------------------- calls

    def capture(self, event: str, properties: Mapping[str, object] | None = None) -> None:
        snapshot = dict(properties or {})
        self._queue(lambda a: a.capture(event, snapshot))

    def capture_exception(self, exc: BaseException) -> None:
        self._queue(lambda a: a.capture_exception(exc))

    def add_sensitive(self, values: Iterable[str]) -> None:
        """Never send anything containing these (domains, file names, the email)."""
        snapshot = [v for v in values if isinstance(v, str)]
        if snapshot:
            self._queue(lambda a: a.add_sensitive(snapshot))

    def set_opted_out(self, opted_out: bool) -> None:
        self._queue(lambda a: a.set_opted_out(opted_out))

    def accept_notice(self) -> None:
        """The notice's "OK": start sending now (unless something else keeps it off)."""

        def accept(a: Analytics) -> None:
            core_analytics.mark_notice_shown(FRONTEND)
            if a.reason is OffReason.FIRST_RUN:
                a.set_opted_out(False)
                a.set_person_properties(qt_version=qVersion())
                a.capture("app_opened", {"frontend": FRONTEND, "first_run": True})

        self._queue(accept)

    def decline_notice(self) -> None:
        """The notice's "No Thanks": opted out, for every front end, remembered."""

        def decline(a: Analytics) -> None:
            core_analytics.mark_notice_shown(FRONTEND)
            a.set_opted_out(True)

        self._queue(decline)

    def reset_id(self) -> None:
        self._queue(lambda a: a.reset_id())

    def begin_shutdown(self) -> None:
        """Start flushing in the background; the hard cap starts now. Returns at once."""
        with self._lock:
            if self._deadline is not None:
                return
            self._deadline = time.monotonic() + self._shutdown_timeout_seconds

        def stop(a: Analytics) -> None:
            deadline = self._deadline or time.monotonic()
            a.begin_shutdown(max(0.0, deadline - time.monotonic()))

        self._queue(stop, even_after_shutdown=True)
        self._calls.put(None)  # the thread ends after the shutdown call

    def wait_for_shutdown(self) -> bool:
        """After the event loop: wait for the flush, at most until the cap. True: all sent."""
        with self._lock:
            deadline = self._deadline
        if deadline is None:
            self.begin_shutdown()
            deadline = self._deadline or time.monotonic()
        if self._thread.ident is None:  # never started: nothing to flush
            return True
        self._thread.join(max(0.0, deadline - time.monotonic()))
        current = self._analytics
        if self._thread.is_alive() or current is None:
            log.debug("analytics did not start or stop in time; nothing more is sent")
            return False
        return current.wait_for_shutdown()

    def flush_queue(self, timeout_seconds: float = 5.0) -> bool:
        """Wait until every queued call has run (tests)."""
        return self._idle.wait(timeout_seconds)

    # ----------------------------------------------------------------- thread

    def _queue(
        self, call: Callable[[Analytics], object], even_after_shutdown: bool = False
    ) -> None:
        with self._lock:
            if self._deadline is not None and not even_after_shutdown:
                return
            self._pending += 1
            self._idle.clear()
        self._calls.put(call)

    def _run(self) -> None:
        try:
            current = self._factory()
        except Exception:
            log.debug("analytics did not start", exc_info=True)
            current = Analytics.disabled(FRONTEND, OffReason.UNAVAILABLE)
        self._analytics = current
        if current.enabled:
            current.set_person_properties(qt_version=qVersion())
            current.capture("app_opened", {"frontend": FRONTEND, "first_run": False})
        self._emit(self.ready)
        if current.reason is OffReason.FIRST_RUN:
            self._emit(self.notice_needed)
        while True:
            with self._lock:
                if self._pending == 0:
                    self._idle.set()
            call = self._calls.get()
            if call is None:
                with self._lock:
                    self._idle.set()
                return
            try:
                call(current)
            except Exception:  # analytics never breaks the app
                log.debug("analytics call failed", exc_info=True)
            with self._lock:
                self._pending -= 1

    def _emit(self, signal: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the QObject is gone (quit at start-up)
            signal.emit()
