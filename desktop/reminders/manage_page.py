"""Signed up: what the service watches, and the three things people change.

Update the reminders to match the watchlist (asked first, inline), change how many
days ahead the email comes, or unsubscribe (asked first; the service deletes the
address). Each watched domain shows what the service reports for it: its protocol,
its own threshold and a registration date typed by hand; a domain whose threshold
or typed date differs from the watchlist's counts as a change to offer updating.
Where the sign-in is kept is said at the bottom, in warning colours when it is a
file because no keyring works.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.api import BackendClient, DomainEntry, InvalidDomains, Subscription, Unauthorized
from core.secrets import StorageKind
from desktop.reminders.session import ReminderSession
from desktop.reminders.texts import MAX_THRESHOLD_DAYS, escape, explain
from desktop.reminders.watched import WatchlistItem, WatchlistLike, as_items, detail_words
from desktop.reminders.widgets import (
    SIDE_LABEL_MIN_CHARS,
    Confirm,
    PageBase,
    WrapLabel,
    buddy_label,
    heading,
    set_list_min_rows,
)

MATCHES_TEXT = "Your reminders match your watchlist."


class ManagePage(PageBase):
    """The subscription: its domains, its threshold, update and unsubscribe.

    Signals:
        refresh_requested(): "Refresh" (load the subscription again).
        unsubscribed(): the service stopped the reminders and deleted the address.
        sign_in_lost(str): the service no longer accepts the sign-in (and why).
    """

    refresh_requested = Signal()
    unsubscribed = Signal()
    sign_in_lost = Signal(str)

    def __init__(self, session: ReminderSession, *, watchlist: WatchlistLike) -> None:
        super().__init__(session)
        self.watchlist: list[WatchlistItem] = as_items(watchlist)
        self.heading = heading("Reminders are on")
        self.summary = WrapLabel()
        self.watched_list = QListWidget()
        self.watched_list.setAccessibleName("Domains the service watches")
        self.watched_list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        set_list_min_rows(self.watched_list)
        self.threshold = QSpinBox(minimum=0, maximum=MAX_THRESHOLD_DAYS, suffix=" days")
        self.threshold.setAccessibleName("Email this many days before expiry")
        self.threshold.valueChanged.connect(lambda _value: self.update_buttons())
        self.save_threshold_button = QPushButton("Save")
        self.save_threshold_button.setEnabled(False)
        self.save_threshold_button.clicked.connect(self.save_threshold)
        self.difference_label = WrapLabel(min_chars=SIDE_LABEL_MIN_CHARS)
        self.update_button = QPushButton("Update to Match Watchlist…")
        self.update_button.clicked.connect(self.ask_update)
        self.unsubscribe_button = QPushButton("Unsubscribe…")
        self.unsubscribe_button.clicked.connect(self.ask_unsubscribe)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.confirm = Confirm()
        self.storage_label = WrapLabel()
        self.storage_label.setAccessibleName("Where the sign-in is kept")
        small = self.storage_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.storage_label.setFont(small)
        self._lay_out()

    def _lay_out(self) -> None:
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(buddy_label("Email &before expiry:", self.threshold))
        threshold_row.addWidget(self.threshold)
        threshold_row.addWidget(self.save_threshold_button)
        threshold_row.addStretch(1)
        difference_row = QHBoxLayout()
        difference_row.addWidget(self.difference_label, 1)
        difference_row.addWidget(self.update_button)
        actions = QHBoxLayout()
        actions.addWidget(self.refresh_button)
        actions.addStretch(1)
        actions.addWidget(self.unsubscribe_button)

        layout = self.layout_
        layout.addWidget(self.heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.watched_list, 1)
        layout.addLayout(threshold_row)
        layout.addLayout(difference_row)
        layout.addWidget(self.confirm)
        layout.addWidget(self.notice)
        layout.addLayout(actions)
        layout.addWidget(self.storage_label)

    def focus_widget(self) -> QWidget:
        return self.watched_list

    def update_buttons(self) -> None:
        busy = self.session.busy
        for button in (
            self.update_button,
            self.unsubscribe_button,
            self.refresh_button,
            self.confirm.yes,
        ):
            button.setEnabled(not busy)
        subscription = self.session.subscription
        self.save_threshold_button.setEnabled(
            not busy
            and subscription is not None
            and self.threshold.value() != subscription.threshold_days
        )

    # ------------------------------------------------------------------ showing

    def show_subscription(self, subscription: Subscription) -> None:
        self.session.subscription = subscription
        self.heading.setText("Reminders are on")
        count = len(subscription.domains)
        self.summary.setText(
            f"Reminders go to <b>{escape(subscription.email)}</b> for "
            f"{count} domain{'s' if count != 1 else ''}:"
        )
        self.watched_list.clear()
        for detail in subscription.details or ():
            state = detail.last_status or "not checked yet"
            if detail.last_days_left is not None and detail.last_status in ("valid", "expiring"):
                state += f", {detail.last_days_left} days left"
            text = " · ".join([f"{detail.display} — {state}", *detail_words(detail)])
            item = QListWidgetItem(text)
            item.setToolTip(text)  # the whole line, where the list is narrower
            self.watched_list.addItem(item)
        if not subscription.details:
            self.watched_list.addItems(list(subscription.domains))
        blocked = self.threshold.blockSignals(True)
        self.threshold.setValue(subscription.threshold_days)
        self.threshold.blockSignals(blocked)
        self._show_difference()
        self._show_storage()
        self.update_buttons()

    def _show_storage(self) -> None:
        location = self.session.storage
        if location is None:
            self.storage_label.setText("")
            self.storage_label.hide()
            return
        self.storage_label.setText(
            f"Your sign-in for managing reminders is kept in {location.describe()}."
        )
        self.storage_label.set_tone("warning" if location.kind is StorageKind.FILE else "")
        self.storage_label.show()

    def watchlist_difference(self) -> tuple[list[str], list[str]]:
        """(watchlist domains the service lacks, service domains not in the watchlist)."""
        subscription = self.session.subscription
        watched = set(subscription.domains) if subscription else set()
        mine = [item.domain for item in self.watchlist]
        return [d for d in mine if d not in watched], sorted(watched - set(mine))

    def changed_settings(self) -> list[str]:
        """Watched domains whose threshold or typed date differs from the watchlist's."""
        subscription = self.session.subscription
        details = {d.domain: d for d in subscription.details} if subscription else {}
        return [
            item.domain
            for item in self.watchlist
            if (detail := details.get(item.domain)) is not None and item.differs_from(detail)
        ]

    def update_entries(self) -> list[DomainEntry]:
        """What "Update" sends: the watchlist, with settings where a domain has its own
        or the service has some to clear (a plain string would keep them)."""
        subscription = self.session.subscription
        details = {d.domain: d for d in subscription.details} if subscription else {}
        entries = []
        for item in self.watchlist:
            detail = details.get(item.domain)
            clear = detail is not None and (
                detail.threshold_days is not None or detail.registration_expires is not None
            )
            entries.append(item.entry(explicit=clear))
        return entries

    def _show_difference(self) -> None:
        missing, extra = self.watchlist_difference()
        changed = self.changed_settings()
        parts = []
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            noun = "domain" if len(missing) == 1 else "domains"
            parts.append(f"{len(missing)} {noun} on your watchlist {verb} not in your reminders")
        if extra:
            noun = "reminder" if len(extra) == 1 else "reminders"
            parts.append(f"{len(extra)} {noun} for domains no longer on your watchlist")
        if changed:
            verb = "has" if len(changed) == 1 else "have"
            noun = "domain" if len(changed) == 1 else "domains"
            parts.append(
                f"{len(changed)} {noun} {verb} another threshold or typed date in your reminders"
            )
        self.difference_label.setText(
            ("Your watchlist has changed: " + "; ".join(parts) + ".") if parts else MATCHES_TEXT
        )
        self.update_button.setVisible(bool(parts) and bool(self.watchlist))

    def set_watchlist(self, watchlist: WatchlistLike) -> None:
        """The app's watchlist changed while the dialog is open."""
        self.watchlist = as_items(watchlist)
        if self.session.subscription is not None:
            self._show_difference()

    # ------------------------------------------------------------------ changing

    def ask_update(self) -> None:
        subscription = self.session.subscription
        self.confirm.ask(
            f"Replace the {len(subscription.domains) if subscription else 0} domains "
            f"in your reminders with the {len(self.watchlist)} on your watchlist?",
            "Update Reminders",
            self.update_to_watchlist,
        )

    def update_to_watchlist(self) -> None:
        token = self.session.token
        if token is None:
            return
        domains = self.update_entries()
        self.notice.show_text("Updating…")

        def done(subscription: Subscription) -> None:
            self.session.capture("settings_changed", {"setting": "reminder_domains"})
            self.show_subscription(subscription)
            self.notice.show_text("Your reminders now match your watchlist.", "success")

        self.session.run(lambda c: c.update_subscription(token, domains), done, self._failed)

    def save_threshold(self) -> None:
        token = self.session.token
        if token is None:
            return
        days = self.threshold.value()

        def done(subscription: Subscription) -> None:
            self.session.capture("settings_changed", {"setting": "reminder_threshold_days"})
            self.show_subscription(subscription)
            self.notice.show_text(f"You'll get an email {days} days ahead.", "success")

        self.session.run(
            lambda c: c.update_subscription(token, threshold_days=days), done, self._failed
        )

    def ask_unsubscribe(self) -> None:
        self.confirm.ask(
            "Stop all reminders and delete your address from the Domain Check service?",
            "Unsubscribe",
            self.unsubscribe,
        )

    def unsubscribe(self) -> None:
        token = self.session.token
        if token is None:
            return
        store = self.session.service.token_store
        self.notice.show_text("Unsubscribing…")

        def unsubscribe_and_forget(client: BackendClient) -> str:
            message = client.unsubscribe(token)
            store.delete()
            return message

        def done(_message: str) -> None:
            self.session.capture("settings_changed", {"setting": "reminders_unsubscribed"})
            self.session.token = None
            self.session.subscription = None
            self.notice.show_text("")
            self.unsubscribed.emit()

        self.session.run(unsubscribe_and_forget, done, self._failed)

    def _failed(self, exc: BaseException) -> None:
        text = self.session.note_failure("manage", exc)
        if isinstance(exc, Unauthorized):
            self.session.forget_token()
            self.sign_in_lost.emit(text)
            return
        if isinstance(exc, InvalidDomains):
            text = explain(exc).replace("Untick them", "Remove them from your watchlist")
        self.notice.show_text(text, "error")
