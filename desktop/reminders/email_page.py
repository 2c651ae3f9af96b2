"""Step 1 of signing up: the email address, and "Send Code".

The address is checked for shape here (a clear message, no round trip); the service
then mails a 6-digit code. While the service asks us to wait (a 429), the button
counts down instead of letting people hammer it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

from core.api import CodeSent
from desktop.reminders.session import ReminderSession
from desktop.reminders.texts import format_wait, looks_like_email
from desktop.reminders.widgets import PageBase, WrapLabel, buddy_label, heading

INTRO_TEXT = (
    "Get an email before a certificate or domain registration on your watchlist "
    "expires, even when this computer is off. The Domain Check service checks "
    "your domains once a day.\n\n"
    "We'll send a 6-digit code to prove the address is yours. Your address is "
    "used for these reminders only."
)
BAD_ADDRESS_TEXT = "Enter your email address, for example name@example.com."


class EmailPage(PageBase):
    """The address to send reminders to.

    Signals:
        code_sent(CodeSent): the service mailed a code (go to the code page).
        enter_code_requested(): "I Already Have a Code" (go to the code page).
    """

    code_sent = Signal(object)
    enter_code_requested = Signal()

    def __init__(self, session: ReminderSession) -> None:
        super().__init__(session)
        self.email_edit = QLineEdit(session.email)
        self.email_edit.setPlaceholderText("name@example.com")
        self.email_edit.setAccessibleName("Email address")
        self.email_edit.setClearButtonEnabled(True)
        self.email_edit.returnPressed.connect(self.send_code)
        self.send_button = QPushButton("Send Code")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send_code)
        self.have_code_button = QPushButton("I Already Have a Code")
        self.have_code_button.setFlat(True)
        self.have_code_button.clicked.connect(self.enter_code_requested)
        self.have_code_button.hide()

        row = QHBoxLayout()
        row.addWidget(self.email_edit, 1)
        row.addWidget(self.send_button)
        back = QHBoxLayout()
        back.addStretch(1)
        back.addWidget(self.have_code_button)
        layout = self.layout_
        layout.addWidget(heading("Email reminders"))
        layout.addWidget(WrapLabel(INTRO_TEXT))
        layout.addWidget(buddy_label("&Email address:", self.email_edit))
        layout.addLayout(row)
        layout.addWidget(self.notice)
        layout.addStretch(1)
        layout.addLayout(back)

    def focus_widget(self) -> QWidget:
        return self.email_edit

    def update_buttons(self) -> None:
        session = self.session
        busy = session.busy
        limited = session.rate_limited
        self.send_button.setEnabled(not busy and not limited)
        self.email_edit.setReadOnly(busy)
        wait = session.wait_seconds()
        self.send_button.setText(f"Wait {format_wait(wait)}" if limited else "Send Code")
        self.have_code_button.setVisible(session.code_sent and not busy)

    def send_code(self) -> None:
        email = self.email_edit.text().strip()
        if not looks_like_email(email):
            self.notice.show_text(BAD_ADDRESS_TEXT, "error")
            self.email_edit.setFocus()
            return
        if self.session.analytics is not None:
            self.session.analytics.add_sensitive([email])
        self.session.email = email
        self.notice.show_text("Sending a code…")
        self.session.request_code(
            resend=False,
            on_sent=self._sent,
            on_error=lambda exc: self.show_failure("code", exc),
        )

    def _sent(self, answer: CodeSent) -> None:
        self.notice.show_text("")
        self.code_sent.emit(answer)
