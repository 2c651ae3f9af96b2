"""The "Email Reminders" dialog: a thin switcher between its pages.

Flow: email (:mod:`.email_page`) → *Send code* → the code, the domains and the
threshold (:mod:`.code_page`) → *Register* → what is watched, update, unsubscribe
(:mod:`.manage_page`). With a stored sign-in the dialog opens on the loading page
(:mod:`.loading_page`) and goes straight to managing. The pages share a
:class:`ReminderSession` (the sign-in, the calls in flight, the waits); this class
only wires their signals to page changes.

Only the current page is in the layout (the others are hidden), so the dialog's
minimum size is the current page's, computed by its layouts: nothing overlaps at
any size the dialog can be given.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLayout, QVBoxLayout, QWidget

from core.api import CodeSent, Subscription
from desktop.analytics import DesktopAnalytics
from desktop.reminders.code_page import CodePage
from desktop.reminders.email_page import EmailPage
from desktop.reminders.loading_page import LoadingPage
from desktop.reminders.manage_page import ManagePage
from desktop.reminders.service import ReminderService
from desktop.reminders.session import ReminderSession
from desktop.reminders.texts import TRY_AGAIN_NOW_TEXT, too_many_requests
from desktop.reminders.watched import WatchlistLike
from desktop.reminders.widgets import Notice, PageBase

SIGNED_UP_TEXT = "Done. You'll get an email before anything expires."
UNSUBSCRIBED_TEXT = "You're unsubscribed, and the service has deleted your address."


class Page(enum.IntEnum):
    """The dialog's steps."""

    #: Looking up a stored sign-in / the subscription (with a retry on failure).
    LOADING = 0
    #: Step 1: the email address.
    EMAIL = enum.auto()
    #: Step 2: the code, the domains and the threshold.
    CODE = enum.auto()
    #: Signed up: what is watched, update, unsubscribe.
    MANAGE = enum.auto()


class RemindersDialog(QDialog):
    """Email reminders from the Domain Check service. Non-modal; never blocks.

    ``watchlist`` is :class:`~desktop.reminders.watched.WatchlistItem` (or plain
    ``(domain, display)`` pairs): what is sent (``host``, ``host:port``,
    ``smtp://host``, with the target's own settings) and what people read.

    Signals:
        email_changed(str): the address reminders go to ("" after unsubscribing).
        busy_changed(bool): a backend call started (True) or every call ended.
    """

    email_changed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self,
        service: ReminderService,
        *,
        watchlist: WatchlistLike,
        threshold_days: int,
        email: str = "",
        analytics: DesktopAnalytics | None = None,
        clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Email Reminders")
        self.setAccessibleName("Email reminders")
        self.service = service
        self.session = ReminderSession(
            service, email=email, analytics=analytics, clock=clock, parent=self
        )
        self.session.busy_changed.connect(self.busy_changed)
        self.session.countdown.timeout.connect(self.tick)

        self.loading_page = LoadingPage(self.session)
        self.email_page = EmailPage(self.session)
        self.code_page = CodePage(self.session, watchlist=watchlist, threshold_days=threshold_days)
        self.manage_page = ManagePage(self.session, watchlist=watchlist)
        self._pages: dict[Page, PageBase] = {
            Page.LOADING: self.loading_page,
            Page.EMAIL: self.email_page,
            Page.CODE: self.code_page,
            Page.MANAGE: self.manage_page,
        }
        self._page = Page.LOADING
        self._wire()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.close)
        layout = self._layout = QVBoxLayout(self)
        # The dialog can never be made smaller than its layouts need.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        for page in self._pages.values():
            page.layout_.setContentsMargins(0, 0, 0, 0)
            page.hide()
            layout.addWidget(page, 1)
        layout.addWidget(self.buttons)
        self.reload()

    def _wire(self) -> None:
        loading, email, code, manage = (
            self.loading_page,
            self.email_page,
            self.code_page,
            self.manage_page,
        )
        loading.retry_button.clicked.connect(self.reload)
        loading.sign_in_needed.connect(self._sign_in)
        loading.subscription_loaded.connect(self._show_subscription)
        loading.load_failed.connect(lambda: self.show_page(Page.LOADING))
        email.code_sent.connect(self._code_sent)
        email.enter_code_requested.connect(lambda: self.show_page(Page.CODE))
        code.change_email_requested.connect(lambda: self.show_page(Page.EMAIL))
        code.registered.connect(self._registered)
        manage.refresh_requested.connect(self.reload)
        manage.unsubscribed.connect(self._unsubscribed)
        manage.sign_in_lost.connect(lambda text: self._sign_in(text, "error"))

    # ------------------------------------------------------------------ pages

    @property
    def page(self) -> Page:
        return self._page

    @property
    def busy(self) -> bool:
        return self.session.busy

    @property
    def subscription(self) -> Subscription | None:
        return self.session.subscription

    def notice(self) -> Notice:
        """The inline message of the page shown now."""
        return self._pages[self._page].notice

    def show_page(self, page: Page) -> None:
        """Show ``page`` (only it takes part in the layout) and focus its first field."""
        self._page = page
        for key, widget in self._pages.items():
            widget.setVisible(key is page)
        current = self._pages[page]
        focus = current.focus_widget()
        if focus is not None:
            focus.setFocus()
        self.session.refresh()
        if self.isVisible():
            # A page with more to show than the last one: grow to its preferred size.
            self._layout.activate()
            self.resize(self.size().expandedTo(self.sizeHint()))

    def set_watchlist(self, watchlist: WatchlistLike) -> None:
        """The app's watchlist changed while the dialog is open."""
        self.code_page.set_watchlist(watchlist)
        self.manage_page.set_watchlist(watchlist)

    def reload(self) -> None:
        """Find a stored sign-in; with one, show what the service has (else: step 1)."""
        self.show_page(Page.LOADING)
        self.loading_page.find_sign_in()

    def tick(self) -> None:
        """Countdown timer: redraw the waits; say so when waiting is over."""
        session = self.session
        notice = self.notice()
        was_limited = notice.kind == "error" and session.rate_limited_until > 0
        session.refresh()
        if was_limited and not session.rate_limited:
            session.rate_limited_until = 0.0
            notice.show_text(TRY_AGAIN_NOW_TEXT)
        elif session.rate_limited:
            notice.show_text(too_many_requests(session.wait_seconds()), "error")

    # ------------------------------------------------------------------ page changes

    def _sign_in(self, message: str, kind: str) -> None:
        self.show_page(Page.EMAIL)
        if message:
            self.email_page.notice.show_text(message, kind)

    def _code_sent(self, answer: CodeSent) -> None:
        self.code_page.show_sent(answer)
        self.show_page(Page.CODE)

    def _registered(self, warning: str) -> None:
        self.email_changed.emit(self.session.email)
        if warning:
            self.manage_page.notice.show_text(warning, "error")
            self.show_page(Page.MANAGE)
            return
        self.manage_page.notice.show_text(SIGNED_UP_TEXT, "success")
        self.loading_page.load_subscription()

    def _show_subscription(self, subscription: Subscription) -> None:
        self.manage_page.show_subscription(subscription)
        self.show_page(Page.MANAGE)

    def _unsubscribed(self) -> None:
        self.email_changed.emit("")
        self._sign_in(UNSUBSCRIBED_TEXT, "success")

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self.session.shut()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.session.shut()
        super().done(result)
