"""The page shown while the dialog finds a stored sign-in and what the service watches.

With no stored sign-in the dialog moves on to step 1 (the email address); with one,
it asks the service for the subscription. A sign-in the service no longer accepts is
forgotten. When the service cannot be reached this page stays, says why, and offers
"Try Again".
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton

from core.api import Subscription, Unauthorized
from core.secrets import StorageLocation
from desktop.reminders.session import ReminderSession
from desktop.reminders.texts import UNAUTHORIZED_TEXT, explain
from desktop.reminders.widgets import PageBase, WrapLabel, heading

LOOKING_UP_TEXT = "Looking up your reminders…"
NOT_LOADED_TEXT = "Your reminders could not be loaded."


class LoadingPage(PageBase):
    """Finds the stored sign-in and loads the subscription.

    Signals:
        sign_in_needed(str, str): no (valid) sign-in: show step 1 with this message
            and kind ("" when there is nothing to say).
        subscription_loaded(Subscription): what the service watches.
        load_failed(): the subscription could not be loaded; this page says why.
    """

    sign_in_needed = Signal(str, str)
    subscription_loaded = Signal(object)
    load_failed = Signal()

    def __init__(self, session: ReminderSession) -> None:
        super().__init__(session)
        self.label = WrapLabel(LOOKING_UP_TEXT)
        self.retry_button = QPushButton("Try Again")
        self.retry_button.hide()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.retry_button)
        layout = self.layout_
        layout.addWidget(heading("Email reminders"))
        layout.addWidget(self.label)
        layout.addWidget(self.notice)
        layout.addLayout(row)
        layout.addStretch(1)

    def update_buttons(self) -> None:
        self.retry_button.setEnabled(not self.session.busy)

    def find_sign_in(self) -> None:
        """Look for a stored sign-in (off the GUI thread); with one, load what it has."""
        self.label.setText(LOOKING_UP_TEXT)
        self.notice.show_text("")
        self.retry_button.hide()
        store = self.session.service.token_store

        def load() -> tuple[str | None, StorageLocation]:
            return store.load(), store.location

        def loaded(
            found: tuple[str | None, StorageLocation] | None, error: BaseException | None
        ) -> None:
            if error is not None or found is None:
                self.sign_in_needed.emit(explain(error) if error else "", "error")
                return
            token, self.session.storage = found
            if token is None:
                self.sign_in_needed.emit("", "")
                return
            self.session.token = token
            self.load_subscription()

        self.session.run_function(load, loaded)

    def load_subscription(self) -> None:
        """Ask the service what the stored sign-in watches."""
        token = self.session.token
        if token is None:
            self.sign_in_needed.emit("", "")
            return

        def failed(exc: BaseException) -> None:
            if isinstance(exc, Unauthorized):
                self.session.forget_token()
                self.sign_in_needed.emit(UNAUTHORIZED_TEXT, "error")
                return
            self.label.setText(NOT_LOADED_TEXT)
            self.notice.show_text(explain(exc), "error")
            self.retry_button.show()
            self.load_failed.emit()

        def loaded(subscription: Subscription) -> None:
            self.session.subscription = subscription
            self.subscription_loaded.emit(subscription)

        self.session.run(lambda c: c.get_subscription(token), loaded, failed)
