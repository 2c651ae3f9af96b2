"""What every page of the reminders dialog shares: the sign-in, the calls, the waits.

One :class:`ReminderSession` per dialog. Pages start backend and keyring calls
through it (never on the GUI thread: each runs as a
:class:`desktop.background.BackgroundCall`), read the sign-in it holds, and redraw
their buttons when it says something changed. Closing the dialog shuts the session:
answers still on their way go nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from core.api import BackendClient, CodeSent, RateLimited, Subscription, reason_code
from core.secrets import StorageLocation
from desktop.analytics import DesktopAnalytics
from desktop.background import BackgroundCall
from desktop.reminders.service import ReminderService
from desktop.reminders.texts import explain

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often the resend / rate-limit countdowns are redrawn.
COUNTDOWN_TICK_MS = 1_000
#: How long to wait after a 429 that named no time.
DEFAULT_RATE_LIMIT_SECONDS = 60


class ReminderSession(QObject):
    """The state the dialog's pages share, and the one way they call the backend.

    Signals:
        changed(): a call started or ended, or a countdown ticked: redraw the buttons.
        busy_changed(bool): a call started (True), or every call ended (False).
    """

    changed = Signal()
    busy_changed = Signal(bool)

    def __init__(
        self,
        service: ReminderService,
        *,
        email: str,
        analytics: DesktopAnalytics | None,
        clock: Callable[[], float],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.analytics = analytics
        self.clock = clock
        #: The address being signed up, or the one reminders go to.
        self.email = email
        #: The management token, once signed in (``None``: not signed in).
        self.token: str | None = None
        self.subscription: Subscription | None = None
        #: Where the token is kept, once known.
        self.storage: StorageLocation | None = None
        #: A code was mailed in this dialog (so "I already have a code" makes sense).
        self.code_sent = False
        #: ``clock()`` when "Send again" may be used again.
        self.resend_at = 0.0
        #: ``clock()`` when the service takes requests again after a 429.
        self.rate_limited_until = 0.0
        self._calls: list[BackgroundCall[Any]] = []
        self._closed = False
        self.countdown = QTimer(self)
        self.countdown.setInterval(COUNTDOWN_TICK_MS)

    # ------------------------------------------------------------------ state

    @property
    def busy(self) -> bool:
        return any(call.running for call in self._calls)

    @property
    def rate_limited(self) -> bool:
        return self.clock() < self.rate_limited_until

    def wait_seconds(self) -> int:
        """Seconds until a code may be requested again (0: now)."""
        now = self.clock()
        return max(0, round(self.resend_at - now), round(self.rate_limited_until - now))

    def refresh(self) -> None:
        """Tell the pages to redraw; stop the countdown once nothing is waited for."""
        self.changed.emit()
        if self.wait_seconds() == 0 and self.countdown.isActive():
            self.countdown.stop()

    def start_countdown(self) -> None:
        if not self.countdown.isActive():
            self.countdown.start()
        self.refresh()

    # ------------------------------------------------------------------ calls

    def run(
        self,
        action: Callable[[BackendClient], T],
        on_success: Callable[[T], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """``action(client)`` on a background thread; the outcome back here."""

        def done(result: T | None, error: BaseException | None) -> None:
            if error is not None:
                if not isinstance(error, Exception) or type(error).__module__ != "core.api":
                    log.warning("reminders call failed: %s", type(error).__name__)
                on_error(error)
            else:
                on_success(result)  # type: ignore[arg-type]

        self.run_function(lambda: self.service.call(action), done)

    def run_function(
        self,
        function: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None],
    ) -> None:
        """``function()`` on a background thread; ``done(result, error)`` back here."""
        if self._closed:
            return

        def finished(result: T | None, error: BaseException | None) -> None:
            self._calls = [c for c in self._calls if c.running]
            self.refresh()
            self.busy_changed.emit(self.busy)
            done(result, error)

        self._calls.append(BackgroundCall(function, finished, name="reminders-call"))
        self.refresh()
        self.busy_changed.emit(True)

    def request_code(
        self,
        *,
        resend: bool,
        on_sent: Callable[[CodeSent], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Mail a sign-up code to :attr:`email`; start the resend countdown."""
        email = self.email

        def sent(answer: CodeSent) -> None:
            self.capture("signup_code_requested", {"operation": "register", "resend": resend})
            self.code_sent = True
            self.resend_at = self.clock() + answer.resend_after_seconds
            self.start_countdown()
            on_sent(answer)

        self.run(lambda c: c.request_code(email, "register", force_new=resend), sent, on_error)

    def forget_token(self) -> None:
        """The sign-in is no longer valid: drop it here and from the store."""
        self.token = None
        self.subscription = None
        self.run_function(self.service.token_store.delete, lambda _r, _e: None)

    def note_failure(self, step: str, exc: BaseException) -> str:
        """Count a failed step, start the wait a 429 asks for; the text to show."""
        self.capture("signup_failed", {"reason": reason_code(exc), "step": step})
        if isinstance(exc, RateLimited):
            wait = exc.retry_after_seconds or DEFAULT_RATE_LIMIT_SECONDS
            self.rate_limited_until = self.clock() + wait
            self.start_countdown()
        return explain(exc)

    def capture(self, event: str, properties: dict[str, object] | None = None) -> None:
        if self.analytics is not None:
            self.analytics.capture(event, properties)

    def shut(self) -> None:
        """Answers still on their way go nowhere; the countdown stops."""
        self._closed = True
        for call in self._calls:
            call.cancel()
        self._calls.clear()
        self.countdown.stop()
