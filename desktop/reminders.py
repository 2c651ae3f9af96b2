"""The "Email Reminders" dialog: sign up with a one-time code, then manage or unsubscribe.

Flow: email → *Send code* → the 6-digit code from the mail (pasting "123 456" or the
whole mail line works) → which domains (the watchlist, ticked) and how many days
ahead → *Register* → "Reminders go to j***@example.com". With a stored management
token the dialog opens on the manage page: what the backend watches, update it to
match the watchlist (asked first), change the threshold, unsubscribe (asked first).

Nothing here blocks: every backend and keyring call runs through
:class:`desktop.background.BackgroundCall`, and closing the dialog mid-call drops the
answer. Every failure is shown inline, in the dialog, with what to do next
(:func:`explain`).

The email address stays on this machine for display only (the app keeps it in its
preferences); it is sent to nothing but the Domain Check service.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.api import (
    BackendClient,
    BackendUnreachable,
    CodeRejected,
    CodeSent,
    InvalidDomains,
    InvalidInput,
    NotRegistered,
    RateLimited,
    Registered,
    ServerError,
    Subscription,
    Unauthorized,
    reason_code,
)
from core.secrets import StorageKind, StorageLocation, TokenStorageError, TokenStore
from desktop.analytics import DesktopAnalytics
from desktop.background import BackgroundCall

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often the resend / rate-limit countdowns are redrawn.
COUNTDOWN_TICK_MS = 1_000
#: The backend's limits (``backend/schemas.py``).
MAX_THRESHOLD_DAYS = 365
CODE_LENGTH = 6

UNREACHABLE_TEXT = "Can't reach the Domain Check service; check your connection and try again."
CODE_REJECTED_TEXT = "That code is wrong or has expired; request a new one."
UNAUTHORIZED_TEXT = (
    "Your sign-in for these reminders is no longer valid. Enter your email address "
    "and the code we send to manage them again."
)

_CODE_RE = re.compile(r"(?<!\d)(\d{3})[\s\-–]?(\d{3})(?!\d)")
_EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


def extract_code(text: str) -> str | None:
    """The 6-digit code in ``text``: ``123456``, ``123 456``, or a whole line of the mail."""
    match = _CODE_RE.search(text)
    return match.group(1) + match.group(2) if match else None


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL_RE.fullmatch(text.strip()))


def format_wait(seconds: int) -> str:
    """``42 s`` or ``12:05`` (minutes:seconds)."""
    seconds = max(0, seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60}:{seconds % 60:02d}"


def explain(exc: BaseException) -> str:
    """What went wrong and what to do next, for the inline message."""
    if isinstance(exc, BackendUnreachable):
        return UNREACHABLE_TEXT
    if isinstance(exc, CodeRejected):
        return CODE_REJECTED_TEXT
    if isinstance(exc, RateLimited):
        wait = exc.retry_after_seconds
        return "Too many requests. " + (
            f"Try again in {format_wait(wait)}." if wait else "Try again in a few minutes."
        )
    if isinstance(exc, InvalidDomains):
        listed = "; ".join(f"{e.text} ({e.error})" for e in exc.entries[:10])
        more = f" and {len(exc.entries) - 10} more" if len(exc.entries) > 10 else ""
        return f"These entries can't be watched: {listed}{more}. Untick them and try again."
    if isinstance(exc, InvalidInput):
        return f"The service refused that: {exc}. Check what you entered and try again."
    if isinstance(exc, NotRegistered):
        return "No reminders are registered for this address. Sign up below."
    if isinstance(exc, Unauthorized):
        return UNAUTHORIZED_TEXT
    if isinstance(exc, ServerError):
        return (
            "The Domain Check service had a problem and could not do that. "
            "Try again in a few minutes."
        )
    if isinstance(exc, TokenStorageError):
        return f"Your sign-in could not be saved or read on this computer: {exc}"
    return f"Something went wrong ({type(exc).__name__}). Try again."


class Page(enum.IntEnum):
    """The dialog's steps (indexes into its stack)."""

    #: Looking up a stored sign-in / the subscription (with a retry on failure).
    LOADING = 0
    #: Step 1: the email address.
    EMAIL = enum.auto()
    #: Step 2: the code, the domains and the threshold.
    CODE = enum.auto()
    #: Signed up: what is watched, update, unsubscribe.
    MANAGE = enum.auto()


class ReminderService:
    """What the dialog needs from the outside world: backend clients and the token store.

    ``client_factory`` makes one ``BackendClient`` per call (tests inject one with a
    transport); by default it uses ``backend_url`` (the preference; ``None`` falls back
    to ``DOMAINCHECK_BACKEND_URL``, then the build's default) and the analytics IDs.
    """

    def __init__(
        self,
        *,
        token_store: TokenStore | None = None,
        backend_url: str | None = None,
        correlation_ids: Callable[[], tuple[str | None, str | None]] = lambda: (None, None),
        client_factory: Callable[[], BackendClient] | None = None,
    ) -> None:
        self.token_store = token_store if token_store is not None else TokenStore()
        self.backend_url = backend_url or None
        self._correlation_ids = correlation_ids
        self._client_factory = client_factory

    def client(self) -> BackendClient:
        if self._client_factory is not None:
            return self._client_factory()
        distinct_id, session_id = self._correlation_ids()
        return BackendClient(self.backend_url, distinct_id=distinct_id, session_id=session_id)

    def call(self, action: Callable[[BackendClient], T]) -> T:
        """Run ``action`` with a fresh client (blocking: call it off the GUI thread)."""
        with self.client() as client:
            return action(client)


class _Notice(QLabel):
    """The inline message under each step: info, success or error, with a colour."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setAccessibleName("Message")
        self.kind = ""
        self.show_text("")

    def show_text(self, text: str, kind: str = "info") -> None:
        self.kind = kind if text else ""
        self.setText(text)
        self.setVisible(bool(text))
        colour = {"error": "#b3261e", "success": "#1b6e2e"}.get(kind)
        weight = 600 if kind == "error" else 400
        self.setStyleSheet("" if colour is None else f"color: {colour}; font-weight: {weight};")


class _Confirm(QFrame):
    """An inline "are you sure?" bar: a question and two buttons (never a modal box)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.yes = QPushButton()
        self.no = QPushButton("Cancel")
        layout = QHBoxLayout(self)
        layout.addWidget(self.question, 1)
        layout.addWidget(self.no)
        layout.addWidget(self.yes)
        self._action: Callable[[], None] | None = None
        self.yes.clicked.connect(self._confirmed)
        self.no.clicked.connect(self.hide)
        self.hide()

    def ask(self, question: str, yes_text: str, action: Callable[[], None]) -> None:
        self.question.setText(question)
        self.yes.setText(yes_text)
        self._action = action
        self.show()
        self.yes.setFocus()

    def _confirmed(self) -> None:
        self.hide()
        if self._action is not None:
            self._action()


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    label.setFont(font)
    return label


def _paragraph(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class RemindersDialog(QDialog):
    """Email reminders from the Domain Check service. Non-modal; never blocks.

    ``watchlist`` is ``(domain, display)`` pairs: what is sent (``host`` or
    ``host:port``) and what people read.

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
        watchlist: Sequence[tuple[str, str]],
        threshold_days: int,
        email: str = "",
        analytics: DesktopAnalytics | None = None,
        clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Email Reminders")
        self.setAccessibleName("Email reminders")
        self.setMinimumWidth(520)
        self.service = service
        self.watchlist = list(watchlist)
        self.analytics = analytics
        self._clock = clock
        self._calls: list[BackgroundCall[Any]] = []
        self._closed = False
        self._email = email
        self._code_sent = False
        #: ``clock()`` when "Send again" / "Send code" may be used again.
        self._resend_at = 0.0
        self._rate_limited_until = 0.0
        self._token: str | None = None
        self.subscription: Subscription | None = None
        self.storage: StorageLocation | None = None

        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_loading_page())
        self.stack.addWidget(self._build_email_page(email))
        self.stack.addWidget(self._build_code_page(threshold_days))
        self.stack.addWidget(self._build_manage_page())

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.buttons)

        self.countdown = QTimer(self)
        self.countdown.setInterval(COUNTDOWN_TICK_MS)
        self.countdown.timeout.connect(self.tick)
        self._open()

    # ------------------------------------------------------------------ pages

    def _build_loading_page(self) -> QWidget:
        page = QWidget()
        self.loading_label = _paragraph("Looking up your reminders…")
        self.loading_notice = _Notice()
        self.retry_button = QPushButton("Try Again")
        self.retry_button.clicked.connect(self._open)
        self.retry_button.hide()
        layout = QVBoxLayout(page)
        layout.addWidget(_heading("Email reminders"))
        layout.addWidget(self.loading_label)
        layout.addWidget(self.loading_notice)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.retry_button)
        layout.addLayout(row)
        layout.addStretch(1)
        return page

    def _build_email_page(self, email: str) -> QWidget:
        page = QWidget()
        intro = _paragraph(
            "Get an email before a certificate or domain registration on your watchlist "
            "expires, even when this computer is off. The Domain Check service checks "
            "your domains once a day.\n\n"
            "We'll send a 6-digit code to prove the address is yours. Your address is "
            "used for these reminders only."
        )
        self.email_edit = QLineEdit(email)
        self.email_edit.setPlaceholderText("name@example.com")
        self.email_edit.setAccessibleName("Email address")
        self.email_edit.setClearButtonEnabled(True)
        self.email_edit.returnPressed.connect(self.send_code)
        self.send_button = QPushButton("Send Code")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send_code)
        self.email_notice = _Notice()
        self.have_code_button = QPushButton("I Already Have a Code")
        self.have_code_button.setFlat(True)
        self.have_code_button.clicked.connect(self._enter_code_again)
        self.have_code_button.hide()

        row = QHBoxLayout()
        row.addWidget(self.email_edit, 1)
        row.addWidget(self.send_button)
        layout = QVBoxLayout(page)
        layout.addWidget(_heading("Email reminders"))
        layout.addWidget(intro)
        email_label = QLabel("&Email address:")
        email_label.setBuddy(self.email_edit)
        layout.addWidget(email_label)
        layout.addLayout(row)
        layout.addWidget(self.email_notice)
        layout.addStretch(1)
        back = QHBoxLayout()
        back.addStretch(1)
        back.addWidget(self.have_code_button)
        layout.addLayout(back)
        return page

    def _build_code_page(self, threshold_days: int) -> QWidget:
        page = QWidget()
        self.code_intro = _paragraph()
        self.code_edit = QLineEdit()
        self.code_edit.setPlaceholderText("123456")
        self.code_edit.setAccessibleName("6-digit code from the email")
        self.code_edit.setMaxLength(200)  # a whole pasted line is cut down to the code
        self.code_edit.textChanged.connect(self._on_code_changed)
        mono = self.code_edit.font()
        mono.setFamily("monospace")
        mono.setStyleHint(mono.StyleHint.Monospace)
        mono.setPointSizeF(mono.pointSizeF() * 1.3)
        mono.setLetterSpacing(mono.SpacingType.AbsoluteSpacing, 2)
        self.code_edit.setFont(mono)
        self.code_edit.setMaximumWidth(self.code_edit.fontMetrics().horizontalAdvance("0") * 14)
        self.resend_button = QPushButton("Send Again")
        self.resend_button.clicked.connect(self.resend_code)
        self.change_email_button = QPushButton("Change Address")
        self.change_email_button.clicked.connect(lambda: self._show(Page.EMAIL))

        self.domain_list = QListWidget()
        self.domain_list.setAccessibleName("Domains to get reminders for")
        self.domain_list.setMinimumHeight(120)
        self.domain_list.itemChanged.connect(lambda _item: self._update_register_button())
        self.select_all = QPushButton("All")
        self.select_all.clicked.connect(lambda: self._check_all(True))
        self.select_none = QPushButton("None")
        self.select_none.clicked.connect(lambda: self._check_all(False))
        self.threshold = QSpinBox(minimum=0, maximum=MAX_THRESHOLD_DAYS, suffix=" days")
        self.threshold.setValue(min(threshold_days, MAX_THRESHOLD_DAYS))
        self.threshold.setAccessibleName("Email this many days before expiry")
        self.register_button = QPushButton("Register")
        self.register_button.setDefault(True)
        self.register_button.clicked.connect(self.register)
        self.code_notice = _Notice()
        self._fill_domain_list()

        code_row = QHBoxLayout()
        code_row.addWidget(self.code_edit)
        code_row.addWidget(self.resend_button)
        code_row.addStretch(1)
        code_row.addWidget(self.change_email_button)
        pick_row = QHBoxLayout()
        domains_label = QLabel("&Domains to watch:")
        domains_label.setBuddy(self.domain_list)
        pick_row.addWidget(domains_label)
        pick_row.addStretch(1)
        pick_row.addWidget(self.select_all)
        pick_row.addWidget(self.select_none)
        form = QFormLayout()
        form.addRow("Email &before expiry:", self.threshold)
        bottom = QHBoxLayout()
        bottom.addLayout(form)
        bottom.addStretch(1)
        bottom.addWidget(self.register_button)

        layout = QVBoxLayout(page)
        layout.addWidget(_heading("Enter the code"))
        layout.addWidget(self.code_intro)
        code_label = QLabel("&Code from the email:")
        code_label.setBuddy(self.code_edit)
        layout.addWidget(code_label)
        layout.addLayout(code_row)
        layout.addSpacing(6)
        layout.addLayout(pick_row)
        layout.addWidget(self.domain_list, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.code_notice)
        return page

    def _build_manage_page(self) -> QWidget:
        page = QWidget()
        self.manage_heading = _heading("Reminders are on")
        self.manage_summary = _paragraph()
        self.watched_list = QListWidget()
        self.watched_list.setAccessibleName("Domains the service watches")
        self.watched_list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.watched_list.setMinimumHeight(110)
        self.manage_threshold = QSpinBox(minimum=0, maximum=MAX_THRESHOLD_DAYS, suffix=" days")
        self.manage_threshold.setAccessibleName("Email this many days before expiry")
        self.manage_threshold.valueChanged.connect(self._on_manage_threshold_changed)
        self.save_threshold_button = QPushButton("Save")
        self.save_threshold_button.setEnabled(False)
        self.save_threshold_button.clicked.connect(self.save_threshold)
        self.difference_label = _paragraph()
        self.update_button = QPushButton("Update to Match Watchlist…")
        self.update_button.clicked.connect(self.ask_update)
        self.unsubscribe_button = QPushButton("Unsubscribe…")
        self.unsubscribe_button.clicked.connect(self.ask_unsubscribe)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self._open)
        self.confirm = _Confirm()
        self.storage_label = _paragraph()
        self.storage_label.setAccessibleName("Where the sign-in is kept")
        small = self.storage_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.storage_label.setFont(small)
        self.manage_notice = _Notice()

        threshold_row = QHBoxLayout()
        threshold_label = QLabel("Email &before expiry:")
        threshold_label.setBuddy(self.manage_threshold)
        threshold_row.addWidget(threshold_label)
        threshold_row.addWidget(self.manage_threshold)
        threshold_row.addWidget(self.save_threshold_button)
        threshold_row.addStretch(1)
        difference_row = QHBoxLayout()
        difference_row.addWidget(self.difference_label, 1)
        difference_row.addWidget(self.update_button)
        actions = QHBoxLayout()
        actions.addWidget(self.refresh_button)
        actions.addStretch(1)
        actions.addWidget(self.unsubscribe_button)

        layout = QVBoxLayout(page)
        layout.addWidget(self.manage_heading)
        layout.addWidget(self.manage_summary)
        layout.addWidget(self.watched_list, 1)
        layout.addLayout(threshold_row)
        layout.addLayout(difference_row)
        layout.addWidget(self.confirm)
        layout.addWidget(self.manage_notice)
        layout.addLayout(actions)
        layout.addWidget(self.storage_label)
        return page

    def _fill_domain_list(self) -> None:
        self.domain_list.clear()
        for domain, display in self.watchlist:
            item = QListWidgetItem(display if display == domain else f"{display}  ({domain})")
            item.setData(Qt.ItemDataRole.UserRole, domain)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.domain_list.addItem(item)
        if not self.watchlist:
            self.code_notice.show_text(
                "Your watchlist is empty: add some domains to the main window first."
            )

    # ------------------------------------------------------------------ state

    @property
    def page(self) -> Page:
        return Page(self.stack.currentIndex())

    @property
    def busy(self) -> bool:
        return any(call.running for call in self._calls)

    def notice(self) -> _Notice:
        """The inline message of the page shown now."""
        return {
            Page.LOADING: self.loading_notice,
            Page.EMAIL: self.email_notice,
            Page.CODE: self.code_notice,
            Page.MANAGE: self.manage_notice,
        }[self.page]

    def checked_domains(self) -> list[str]:
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for i in range(self.domain_list.count())
            if (item := self.domain_list.item(i)).checkState() == Qt.CheckState.Checked
        ]

    def _show(self, page: Page) -> None:
        self.stack.setCurrentIndex(int(page))
        focus = {
            Page.EMAIL: self.email_edit,
            Page.CODE: self.code_edit,
            Page.MANAGE: self.watched_list,
        }.get(page)
        if focus is not None:
            focus.setFocus()
        self._update_buttons()

    def _check_all(self, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for i in range(self.domain_list.count()):
            self.domain_list.item(i).setCheckState(state)

    def _update_buttons(self) -> None:
        busy = self.busy
        now = self._clock()
        limited = now < self._rate_limited_until
        self.send_button.setEnabled(not busy and not limited)
        self.email_edit.setReadOnly(busy)
        wait = max(0, round(self._resend_at - now), round(self._rate_limited_until - now))
        self.resend_button.setEnabled(not busy and wait == 0)
        self.resend_button.setText(f"Send Again in {format_wait(wait)}" if wait else "Send Again")
        if limited:
            self.send_button.setText(f"Wait {format_wait(wait)}")
        else:
            self.send_button.setText("Send Code")
        self.have_code_button.setVisible(self._code_sent and not busy)
        self._update_register_button()
        for button in (
            self.update_button,
            self.unsubscribe_button,
            self.refresh_button,
            self.confirm.yes,
        ):
            button.setEnabled(not busy)
        self.save_threshold_button.setEnabled(
            not busy
            and self.subscription is not None
            and self.manage_threshold.value() != self.subscription.threshold_days
        )
        if wait == 0 and self.countdown.isActive():
            self.countdown.stop()

    def _update_register_button(self) -> None:
        self.register_button.setEnabled(
            not self.busy
            and extract_code(self.code_edit.text()) is not None
            and bool(self.checked_domains())
        )

    def tick(self) -> None:
        """Countdown timer: redraw the waits; say so when waiting is over."""
        was_limited = self.notice().kind == "error" and self._rate_limited_until > 0
        self._update_buttons()
        if was_limited and self._clock() >= self._rate_limited_until:
            self._rate_limited_until = 0.0
            self.notice().show_text("You can try again now.")
        elif self._clock() < self._rate_limited_until:
            wait = round(self._rate_limited_until - self._clock())
            self.notice().show_text(
                f"Too many requests. Try again in {format_wait(wait)}.", "error"
            )

    def _start_countdown(self) -> None:
        if not self.countdown.isActive():
            self.countdown.start()
        self._update_buttons()

    # ------------------------------------------------------------------ calls

    def _run(
        self,
        action: Callable[[BackendClient], T],
        on_success: Callable[[T], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """``action(client)`` on a background thread; the outcome back here."""

        def done(result: T | None, error: BaseException | None) -> None:
            self._calls = [c for c in self._calls if c.running]
            self._update_buttons()
            self.busy_changed.emit(self.busy)
            if error is not None:
                if not isinstance(error, Exception) or type(error).__module__ != "core.api":
                    log.warning("reminders call failed: %s", type(error).__name__)
                on_error(error)
            else:
                on_success(result)  # type: ignore[arg-type]

        self._run_function(lambda: self.service.call(action), done)

    def _run_function(
        self,
        function: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None],
    ) -> None:
        if self._closed:
            return
        self._calls.append(BackgroundCall(function, done, name="reminders-call"))
        self._update_buttons()
        self.busy_changed.emit(True)

    def _capture(self, event: str, properties: dict[str, object] | None = None) -> None:
        if self.analytics is not None:
            self.analytics.capture(event, properties)

    def _failed(self, step: str, exc: BaseException) -> None:
        self._capture("signup_failed", {"reason": reason_code(exc), "step": step})
        if isinstance(exc, RateLimited):
            wait = exc.retry_after_seconds or 60
            self._rate_limited_until = self._clock() + wait
            self._start_countdown()
        self.notice().show_text(explain(exc), "error")

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        """Find a stored sign-in; with one, show what the service has (else: step 1)."""
        self._show(Page.LOADING)
        self.loading_label.setText("Looking up your reminders…")
        self.loading_notice.show_text("")
        self.retry_button.hide()
        store = self.service.token_store

        def load() -> tuple[str | None, StorageLocation]:
            return store.load(), store.location

        def loaded(
            found: tuple[str | None, StorageLocation] | None, error: BaseException | None
        ) -> None:
            self._calls = [c for c in self._calls if c.running]
            self._update_buttons()
            if error is not None or found is None:
                self._show(Page.EMAIL)
                if error is not None:
                    self.email_notice.show_text(explain(error), "error")
                return
            token, self.storage = found
            if token is None:
                self._show(Page.EMAIL)
                return
            self._token = token
            self._load_subscription()

        self._run_function(load, loaded)

    def _load_subscription(self) -> None:
        token = self._token
        assert token is not None

        def failed(exc: BaseException) -> None:
            if isinstance(exc, Unauthorized):
                self._forget_token()
                self._show(Page.EMAIL)
                self.email_notice.show_text(UNAUTHORIZED_TEXT, "error")
                return
            self._show(Page.LOADING)
            self.loading_label.setText("Your reminders could not be loaded.")
            self.loading_notice.show_text(explain(exc), "error")
            self.retry_button.show()

        self._run(lambda c: c.get_subscription(token), self._show_subscription, failed)

    def _forget_token(self) -> None:
        self._token = None
        store = self.service.token_store
        self._run_function(store.delete, lambda _r, _e: None)

    # ------------------------------------------------------------------ step 1

    def send_code(self) -> None:
        email = self.email_edit.text().strip()
        if not looks_like_email(email):
            self.email_notice.show_text(
                "Enter your email address, for example name@example.com.", "error"
            )
            self.email_edit.setFocus()
            return
        if self.analytics is not None:
            self.analytics.add_sensitive([email])
        self._email = email
        self.email_notice.show_text("Sending a code…")
        self._request_code(resend=False)

    def resend_code(self) -> None:
        self.code_notice.show_text("Sending a new code…")
        self._request_code(resend=True)

    def _request_code(self, *, resend: bool) -> None:
        email = self._email

        def sent(answer: CodeSent) -> None:
            self._capture("signup_code_requested", {"operation": "register", "resend": resend})
            self._code_sent = True
            self._resend_at = self._clock() + answer.resend_after_seconds
            self._start_countdown()
            minutes = max(1, answer.expires_in_seconds // 60)
            self.code_intro.setText(
                f"We sent a 6-digit code to <b>{_escape(email)}</b>. It is valid for "
                f"{minutes} minutes. Paste it here, or the whole line of the email."
            )
            self._show(Page.CODE)
            if answer.status == "already_sent" and not resend:
                self.code_notice.show_text(
                    "A code was sent to this address moments ago; use that one."
                )
            elif resend and answer.status == "already_sent":
                self.code_notice.show_text(
                    "The last code is still on its way; wait a moment before asking again."
                )
            elif resend:
                self.code_notice.show_text("A new code is on its way. Only the newest works.")
            else:
                self.code_notice.show_text("")

        self._run(
            lambda c: c.request_code(email, "register", force_new=resend),
            sent,
            lambda exc: self._failed("code", exc),
        )

    def _enter_code_again(self) -> None:
        self._show(Page.CODE)

    # ------------------------------------------------------------------ step 2

    def _on_code_changed(self, text: str) -> None:
        code = extract_code(text)
        if code is not None and code != text:
            blocked = self.code_edit.blockSignals(True)
            self.code_edit.setText(code)  # "123 456" or the mail's line → "123456"
            self.code_edit.blockSignals(blocked)
        if self.code_notice.kind == "error" and code is not None:
            self.code_notice.show_text("")
        self._update_register_button()

    def register(self) -> None:
        code = extract_code(self.code_edit.text())
        domains = self.checked_domains()
        if code is None or not domains:
            return
        email, threshold = self._email, self.threshold.value()
        store = self.service.token_store
        self.code_notice.show_text("Registering…")

        def register_and_store(client: BackendClient) -> tuple[Registered, StorageKind]:
            registered = client.register(email, domains, code, threshold_days=threshold)
            try:
                kind = store.save(registered.token)
            except TokenStorageError as exc:
                raise _SavedNowhere(registered, exc) from exc
            return registered, kind

        def done(answer: tuple[Registered, StorageKind]) -> None:
            registered, _kind = answer
            self._registered(registered)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, _SavedNowhere):
                self._registered(exc.registered, saved=False)
                self.manage_notice.show_text(explain(exc.error), "error")
                return
            self._failed("register", exc)
            if isinstance(exc, InvalidDomains):
                self._mark_invalid(exc)
            if isinstance(exc, CodeRejected):
                self.code_edit.selectAll()
                self.code_edit.setFocus()

        self._run(register_and_store, done, failed)

    def _mark_invalid(self, exc: InvalidDomains) -> None:
        bad = {e.text.strip().lower() for e in exc.entries}
        for i in range(self.domain_list.count()):
            item = self.domain_list.item(i)
            if str(item.data(Qt.ItemDataRole.UserRole)).lower() in bad:
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip("The service can't watch this entry.")

    def _registered(self, registered: Registered, *, saved: bool = True) -> None:
        self._capture(
            "signup_completed",
            {"domain_count": len(registered.domains), "threshold_days": self.threshold.value()},
        )
        self._token = registered.token if saved else None
        self.email_changed.emit(self._email)
        self.code_edit.clear()
        self._code_sent = False
        self.manage_notice.show_text(
            "Done. You'll get an email before anything expires.", "success"
        )
        if saved:
            self.storage = self.service.token_store.location
            self._load_subscription()
        else:
            self._show(Page.MANAGE)

    # ------------------------------------------------------------------ manage

    def _show_subscription(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.manage_heading.setText("Reminders are on")
        count = len(subscription.domains)
        self.manage_summary.setText(
            f"Reminders go to <b>{_escape(subscription.email)}</b> for "
            f"{count} domain{'s' if count != 1 else ''}:"
        )
        self.watched_list.clear()
        for detail in subscription.details or ():
            state = detail.last_status or "not checked yet"
            if detail.last_days_left is not None and detail.last_status in ("valid", "expiring"):
                state += f", {detail.last_days_left} days left"
            QListWidgetItem(f"{detail.display} — {state}", self.watched_list)
        if not subscription.details:
            for domain in subscription.domains:
                QListWidgetItem(domain, self.watched_list)
        blocked = self.manage_threshold.blockSignals(True)
        self.manage_threshold.setValue(subscription.threshold_days)
        self.manage_threshold.blockSignals(blocked)
        self._show_difference()
        self._show_storage()
        self._show(Page.MANAGE)

    def _show_storage(self) -> None:
        location = self.storage
        if location is None:
            self.storage_label.setText("")
            return
        text = f"Your sign-in for managing reminders is kept in {location.describe()}."
        if location.kind is StorageKind.FILE:
            self.storage_label.setStyleSheet("color: #8a5a00;")
        else:
            self.storage_label.setStyleSheet("")
        self.storage_label.setText(text)

    def watchlist_difference(self) -> tuple[list[str], list[str]]:
        """(watchlist domains the service lacks, service domains not in the watchlist)."""
        watched = set(self.subscription.domains) if self.subscription else set()
        mine = [domain for domain, _ in self.watchlist]
        return (
            [d for d in mine if d not in watched],
            sorted(watched - set(mine)),
        )

    def _show_difference(self) -> None:
        missing, extra = self.watchlist_difference()
        parts = []
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            noun = "domain" if len(missing) == 1 else "domains"
            parts.append(f"{len(missing)} {noun} on your watchlist {verb} not in your reminders")
        if extra:
            noun = "reminder" if len(extra) == 1 else "reminders"
            parts.append(f"{len(extra)} {noun} for domains no longer on your watchlist")
        self.difference_label.setText(
            ("Your watchlist has changed: " + "; ".join(parts) + ".")
            if parts
            else "Your reminders match your watchlist."
        )
        self.update_button.setVisible(bool(parts) and bool(self.watchlist))

    def set_watchlist(self, watchlist: Sequence[tuple[str, str]]) -> None:
        """The app's watchlist changed while the dialog is open."""
        self.watchlist = list(watchlist)
        self._fill_domain_list()
        if self.subscription is not None:
            self._show_difference()

    def ask_update(self) -> None:
        count = len(self.watchlist)
        self.confirm.ask(
            f"Replace the {len(self.subscription.domains) if self.subscription else 0} domains "
            f"in your reminders with the {count} on your watchlist?",
            "Update Reminders",
            self.update_to_watchlist,
        )

    def update_to_watchlist(self) -> None:
        token = self._token
        if token is None:
            return
        domains = [domain for domain, _ in self.watchlist]
        self.manage_notice.show_text("Updating…")

        def done(subscription: Subscription) -> None:
            self._capture("settings_changed", {"setting": "reminder_domains"})
            self._show_subscription(subscription)
            self.manage_notice.show_text("Your reminders now match your watchlist.", "success")

        self._run(lambda c: c.update_subscription(token, domains), done, self._manage_failed)

    def _on_manage_threshold_changed(self, _value: int) -> None:
        self._update_buttons()

    def save_threshold(self) -> None:
        token = self._token
        if token is None:
            return
        days = self.manage_threshold.value()

        def done(subscription: Subscription) -> None:
            self._capture("settings_changed", {"setting": "reminder_threshold_days"})
            self._show_subscription(subscription)
            self.manage_notice.show_text(f"You'll get an email {days} days ahead.", "success")

        self._run(
            lambda c: c.update_subscription(token, threshold_days=days), done, self._manage_failed
        )

    def ask_unsubscribe(self) -> None:
        self.confirm.ask(
            "Stop all reminders and delete your address from the Domain Check service?",
            "Unsubscribe",
            self.unsubscribe,
        )

    def unsubscribe(self) -> None:
        token = self._token
        if token is None:
            return
        store = self.service.token_store
        self.manage_notice.show_text("Unsubscribing…")

        def unsubscribe_and_forget(client: BackendClient) -> str:
            message = client.unsubscribe(token)
            store.delete()
            return message

        def done(_message: str) -> None:
            self._capture("settings_changed", {"setting": "reminders_unsubscribed"})
            self._token = None
            self.subscription = None
            self.email_changed.emit("")
            self._show(Page.EMAIL)
            self.email_notice.show_text(
                "You're unsubscribed, and the service has deleted your address.", "success"
            )

        self._run(unsubscribe_and_forget, done, self._manage_failed)

    def _manage_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Unauthorized):
            self._forget_token()
            self.subscription = None
            self._show(Page.EMAIL)
        self._failed("manage", exc)
        if isinstance(exc, InvalidDomains):
            self.manage_notice.show_text(
                explain(exc).replace("Untick them", "Remove them from your watchlist"), "error"
            )

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self._shut()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self._shut()
        super().done(result)

    def _shut(self) -> None:
        """Answers still on their way go nowhere; the countdown stops."""
        self._closed = True
        for call in self._calls:
            call.cancel()
        self._calls.clear()
        self.countdown.stop()


class _SavedNowhere(Exception):
    """Registered, but the token could not be stored (the user must know)."""

    def __init__(self, registered: Registered, error: TokenStorageError) -> None:
        super().__init__("token not saved")
        self.registered = registered
        self.error = error


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
