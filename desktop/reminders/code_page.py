"""Step 2 of signing up: the code from the mail, which domains, how many days ahead.

People paste what they have: ``123456``, ``123 456`` or the whole line of the mail;
the field keeps just the code. The domains are the watchlist's, all ticked, in the
form the service takes (``smtp://mx1.example.com``, ``example.com:8443``) and with
their group and own settings; those with a threshold or a typed registration date
of their own are sent with it, so the mails follow the same rules as the window.
The service rejects entries it cannot watch, and those get unticked with a tooltip.
Registering stores the management token (keyring, else a private file) off the GUI
thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.api import (
    BackendClient,
    CodeRejected,
    CodeSent,
    DomainEntry,
    InvalidDomains,
    Registered,
)
from core.secrets import StorageKind, TokenStorageError
from desktop.reminders.session import ReminderSession
from desktop.reminders.texts import MAX_THRESHOLD_DAYS, escape, explain, extract_code, format_wait
from desktop.reminders.watched import WatchlistItem, WatchlistLike, as_items
from desktop.reminders.widgets import (
    PageBase,
    WrapLabel,
    buddy_label,
    heading,
    set_list_min_rows,
)

EMPTY_WATCHLIST_TEXT = "Your watchlist is empty: add some domains to the main window first."
#: The code field is this many digits wide (room for the letter spacing).
_CODE_FIELD_CHARS = 14
#: A pasted line is cut down to the code, so the field takes a whole line.
_CODE_FIELD_MAX_LENGTH = 200


class CodePage(PageBase):
    """The code from the mail, the domains to watch and the threshold; then Register.

    Signals:
        change_email_requested(): "Change Address" (back to step 1).
        registered(str): signed up; the argument is "" or, when the sign-in could not
            be stored on this computer, what went wrong.
    """

    change_email_requested = Signal()
    registered = Signal(str)

    def __init__(
        self,
        session: ReminderSession,
        *,
        watchlist: WatchlistLike,
        threshold_days: int,
    ) -> None:
        super().__init__(session)
        self.intro = WrapLabel()
        self.code_edit = self._make_code_edit()
        self.resend_button = QPushButton("Send Again")
        self.resend_button.clicked.connect(self.resend_code)
        self.change_email_button = QPushButton("Change Address")
        self.change_email_button.clicked.connect(self.change_email_requested)

        self.domain_list = QListWidget()
        self.domain_list.setAccessibleName("Domains to get reminders for")
        set_list_min_rows(self.domain_list)
        self.domain_list.itemChanged.connect(lambda _item: self.update_register_button())
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
        self.items: list[WatchlistItem] = []
        self.set_watchlist(watchlist)
        self._lay_out()

    def _make_code_edit(self) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText("123456")
        edit.setAccessibleName("6-digit code from the email")
        edit.setMaxLength(_CODE_FIELD_MAX_LENGTH)
        edit.textChanged.connect(self._on_code_changed)
        mono = edit.font()
        mono.setFamily("monospace")
        mono.setStyleHint(mono.StyleHint.Monospace)
        mono.setPointSizeF(mono.pointSizeF() * 1.3)
        mono.setLetterSpacing(mono.SpacingType.AbsoluteSpacing, 2)
        edit.setFont(mono)
        edit.setMaximumWidth(edit.fontMetrics().horizontalAdvance("0") * _CODE_FIELD_CHARS)
        return edit

    def _lay_out(self) -> None:
        code_row = QHBoxLayout()
        code_row.addWidget(self.code_edit)
        code_row.addWidget(self.resend_button)
        code_row.addStretch(1)
        code_row.addWidget(self.change_email_button)
        pick_row = QHBoxLayout()
        pick_row.addWidget(buddy_label("&Domains to watch:", self.domain_list))
        pick_row.addStretch(1)
        pick_row.addWidget(self.select_all)
        pick_row.addWidget(self.select_none)
        bottom = QHBoxLayout()
        bottom.addWidget(buddy_label("Email &before expiry:", self.threshold))
        bottom.addWidget(self.threshold)
        bottom.addStretch(1)
        bottom.addWidget(self.register_button)

        layout = self.layout_
        layout.addWidget(heading("Enter the code"))
        layout.addWidget(self.intro)
        layout.addWidget(buddy_label("&Code from the email:", self.code_edit))
        layout.addLayout(code_row)
        layout.addSpacing(self.fontMetrics().height() // 2)
        layout.addLayout(pick_row)
        layout.addWidget(self.domain_list, 1)  # gets the spare height; scrolls past it
        layout.addLayout(bottom)
        layout.addWidget(self.notice)

    # ------------------------------------------------------------------ state

    def focus_widget(self) -> QWidget:
        return self.code_edit

    def update_buttons(self) -> None:
        session = self.session
        busy = session.busy
        wait = session.wait_seconds()
        self.resend_button.setEnabled(not busy and wait == 0)
        self.resend_button.setText(f"Send Again in {format_wait(wait)}" if wait else "Send Again")
        self.update_register_button()

    def update_register_button(self) -> None:
        self.register_button.setEnabled(
            not self.session.busy
            and extract_code(self.code_edit.text()) is not None
            and bool(self.checked_domains())
        )

    def set_watchlist(self, watchlist: WatchlistLike) -> None:
        """The watched targets (or ``(domain, display)`` pairs), ticked (those the user
        unticked stay unticked)."""
        known = {item.domain for item in self.items}
        unticked = known - set(self.checked_domains())
        self.items = as_items(watchlist)
        self.domain_list.clear()
        for watched in self.items:
            text = watched.text()
            item = QListWidgetItem(text)
            item.setToolTip(text)  # the whole line, where the list is narrower
            item.setData(Qt.ItemDataRole.UserRole, watched.domain)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = watched.domain not in unticked
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.domain_list.addItem(item)
        if not self.items:
            self.notice.show_text(EMPTY_WATCHLIST_TEXT)
        elif self.notice.text() == EMPTY_WATCHLIST_TEXT:
            self.notice.show_text("")

    def checked_domains(self) -> list[str]:
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for i in range(self.domain_list.count())
            if (item := self.domain_list.item(i)).checkState() == Qt.CheckState.Checked
        ]

    def checked_entries(self) -> list[DomainEntry]:
        """What Register sends: with its settings where a target has its own."""
        checked = set(self.checked_domains())
        return [item.entry() for item in self.items if item.domain in checked]

    def _check_all(self, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for i in range(self.domain_list.count()):
            self.domain_list.item(i).setCheckState(state)

    def _on_code_changed(self, text: str) -> None:
        code = extract_code(text)
        if code is not None and code != text:
            blocked = self.code_edit.blockSignals(True)
            self.code_edit.setText(code)  # "123 456" or the mail's line → "123456"
            self.code_edit.blockSignals(blocked)
        if self.notice.kind == "error" and code is not None:
            self.notice.show_text("")
        self.update_register_button()

    # ------------------------------------------------------------------ the code

    def show_sent(self, answer: CodeSent, *, resend: bool = False) -> None:
        """A code is on its way to the session's address: say where and for how long."""
        minutes = max(1, answer.expires_in_seconds // 60)
        self.intro.setText(
            f"We sent a 6-digit code to <b>{escape(self.session.email)}</b>. It is valid "
            f"for {minutes} minutes. Paste it here, or the whole line of the email."
        )
        if answer.status == "already_sent" and not resend:
            self.notice.show_text("A code was sent to this address moments ago; use that one.")
        elif resend and answer.status == "already_sent":
            self.notice.show_text(
                "The last code is still on its way; wait a moment before asking again."
            )
        elif resend:
            self.notice.show_text("A new code is on its way. Only the newest works.")
        else:
            self.notice.show_text("")

    def resend_code(self) -> None:
        self.notice.show_text("Sending a new code…")
        self.session.request_code(
            resend=True,
            on_sent=lambda answer: self.show_sent(answer, resend=True),
            on_error=lambda exc: self.show_failure("code", exc),
        )

    # ------------------------------------------------------------------ registering

    def register(self) -> None:
        code = extract_code(self.code_edit.text())
        domains = self.checked_entries()
        if code is None or not domains:
            return
        session = self.session
        email, threshold = session.email, self.threshold.value()
        store = session.service.token_store
        self.notice.show_text("Registering…")

        def register_and_store(client: BackendClient) -> tuple[Registered, StorageKind]:
            registered = client.register(email, domains, code, threshold_days=threshold)
            try:
                kind = store.save(registered.token)
            except TokenStorageError as exc:
                raise _SavedNowhere(registered, exc) from exc
            return registered, kind

        def done(answer: tuple[Registered, StorageKind]) -> None:
            self._registered(answer[0], warning="")

        def failed(exc: BaseException) -> None:
            if isinstance(exc, _SavedNowhere):
                self._registered(exc.registered, warning=explain(exc.error))
                return
            self.show_failure("register", exc)
            if isinstance(exc, InvalidDomains):
                self._mark_invalid(exc)
            if isinstance(exc, CodeRejected):
                self.code_edit.selectAll()
                self.code_edit.setFocus()

        session.run(register_and_store, done, failed)

    def _mark_invalid(self, exc: InvalidDomains) -> None:
        bad = {e.text.strip().lower() for e in exc.entries}
        for i in range(self.domain_list.count()):
            item = self.domain_list.item(i)
            if str(item.data(Qt.ItemDataRole.UserRole)).lower() in bad:
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip("The service can't watch this entry.")

    def _registered(self, registered: Registered, *, warning: str) -> None:
        session = self.session
        session.capture(
            "signup_completed",
            {"domain_count": len(registered.domains), "threshold_days": self.threshold.value()},
        )
        session.token = None if warning else registered.token
        if not warning:
            session.storage = session.service.token_store.location
        session.code_sent = False
        self.code_edit.clear()
        self.notice.show_text("")
        self.registered.emit(warning)


class _SavedNowhere(Exception):
    """Registered, but the token could not be stored (the user must know)."""

    def __init__(self, registered: Registered, error: TokenStorageError) -> None:
        super().__init__("token not saved")
        self.registered = registered
        self.error = error
