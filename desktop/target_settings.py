"""Per-row settings: a row's own threshold, and a registration expiry typed by hand.

Two small dialogs behind the table's row actions ("Set Threshold…", "Set
Registration Expiry…"). Each is opened with ``open()`` (the event loop keeps
running) and says what it decided through ``chosen``; the watchlist editor stores
it (off the GUI thread) and checks the rows again.

Why a typed date: some registries publish no expiry date at all (.de, .eu, .ch...).
The date is used only where the registry gives none, and it goes stale at the next
renewal, so the dialog says both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.registration import parse_manual_expiry
from desktop.rows import WatchRow

if TYPE_CHECKING:
    from desktop.table_view import ResultsTable

#: The largest threshold the spin box offers (ten years).
MAX_THRESHOLD_DAYS = 3650
#: The dialogs' least width, in average characters: their explanations read as
#: a few lines, not a narrow column.
_DIALOG_MIN_CHARS = 56
#: Where the date edit starts for a row without a typed date: a year from today.
_DEFAULT_DATE_AHEAD = timedelta(days=365)
EXPIRY_EXPLANATION = (
    "Used only where the registry publishes no expiry date (the .de, .eu and .ch "
    "registries, for example). Remember to update it after each renewal."
)


def _described(rows: Sequence[WatchRow]) -> str:
    if len(rows) == 1:
        return rows[0].target.label
    return f"{len(rows):,} domains"


def manual_expiry_of(rows: Sequence[WatchRow]) -> datetime | None:
    """The date typed for the rows, when they share one (else ``None``)."""
    dates = set()
    for row in rows:
        registration = row.result.registration if row.result is not None else None
        typed = registration.method == "manual" if registration is not None else False
        dates.add(registration.expires if typed and registration is not None else None)
    return dates.pop() if len(dates) == 1 else None


class ThresholdDialog(QDialog):
    """How many days before expiry these rows count as expiring.

    Signals:
        chosen(object): the rows' own threshold in days, or ``None`` for the default.
    """

    chosen = Signal(object)

    def __init__(
        self, rows: Sequence[WatchRow], default_days: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set Threshold")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        owns = {row.target.threshold_days for row in rows}
        current = owns.pop() if len(owns) == 1 else None
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Warn about {_described(rows)} this many days before a certificate or "
            f"registration expires. The default is {default_days:,} days."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.days = QSpinBox()
        self.days.setRange(0, MAX_THRESHOLD_DAYS)
        self.days.setSuffix(" days")
        self.days.setValue(default_days if current is None else current)
        self.days.setAccessibleName("Threshold in days")
        layout.addWidget(self.days)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.use_default = QPushButton("Use &Default")
        self.use_default.setToolTip(f"Back to the default of {default_days:,} days")
        buttons.addButton(self.use_default, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.use_default.clicked.connect(self.choose_default)
        layout.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * _DIALOG_MIN_CHARS)

    def accept(self) -> None:
        self.chosen.emit(self.days.value())
        super().accept()

    def choose_default(self) -> None:
        self.chosen.emit(None)
        super().accept()


class RegistrationExpiryDialog(QDialog):
    """A registration expiry typed by hand, for registries that publish none.

    Signals:
        chosen(object): the date (aware UTC, end of that day) or ``None`` to forget it.
    """

    chosen = Signal(object)

    def __init__(
        self, rows: Sequence[WatchRow], today: date, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set Registration Expiry")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        intro = QLabel(f"When does the registration of {_described(rows)} expire?")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        typed = manual_expiry_of(rows)
        start = typed.date() if typed is not None else today + _DEFAULT_DATE_AHEAD
        self.date = QDateEdit(QDate(start.year, start.month, start.day))
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.date.setAccessibleName("Registration expiry date")
        layout.addWidget(self.date)
        explanation = QLabel(EXPIRY_EXPLANATION)
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.clear = QPushButton("&Clear")
        self.clear.setToolTip("Forget the typed date")
        self.clear.setEnabled(typed is not None)
        buttons.addButton(self.clear, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.clear.clicked.connect(self.choose_none)
        layout.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * _DIALOG_MIN_CHARS)

    def chosen_date(self) -> datetime:
        """The date in the edit, as core reads a typed date (end of that day, UTC)."""
        picked = self.date.date().toPython()
        assert isinstance(picked, date)
        parsed = parse_manual_expiry(picked.isoformat())
        assert parsed is not None  # a date from the edit is never empty
        return parsed.astimezone(UTC)

    def accept(self) -> None:
        self.chosen.emit(self.chosen_date())
        super().accept()

    def choose_none(self) -> None:
        self.chosen.emit(None)
        super().accept()


def add_settings_actions(table: ResultsTable, menu: QMenu, rows: Sequence[WatchRow]) -> None:
    """The row menu's "Set Threshold…" (for the rows, and for their whole group when
    they share one) and "Set Registration Expiry…"."""
    keys = [row.key for row in rows]
    menu.addAction("Set &Threshold…", lambda: open_threshold_dialog(table, rows))
    groups = {row.group for row in rows}
    group = groups.pop() if len(groups) == 1 else ""
    if group:
        menu.addAction(
            f"Set Threshold for Group “{group}”…",
            lambda: open_threshold_dialog(table, _group_rows(table, group)),
        )
    menu.addAction("Set Registration &Expiry…", lambda: open_expiry_dialog(table, rows, keys=keys))


def _group_rows(table: ResultsTable, group: str) -> list[WatchRow]:
    model = table.proxy.sourceModel()
    return [row for row in model.rows() if row.group == group]  # type: ignore[attr-defined]


def open_threshold_dialog(table: ResultsTable, rows: Sequence[WatchRow]) -> ThresholdDialog:
    """Ask for the rows' own threshold (``open()``: nothing blocks)."""
    keys = [row.key for row in rows]
    dialog = ThresholdDialog(rows, table.default_threshold, table)
    dialog.chosen.connect(lambda days: table.threshold_requested.emit(keys, days))
    table.settings_dialog = dialog
    dialog.open()
    return dialog


def open_expiry_dialog(
    table: ResultsTable, rows: Sequence[WatchRow], *, keys: list[tuple[str, int]] | None = None
) -> RegistrationExpiryDialog:
    """Ask for a registration expiry typed by hand (``open()``: nothing blocks)."""
    keys = [row.key for row in rows] if keys is None else keys
    dialog = RegistrationExpiryDialog(rows, datetime.now(UTC).date(), table)
    dialog.chosen.connect(lambda expires: table.registration_expiry_requested.emit(keys, expires))
    table.settings_dialog = dialog
    dialog.open()
    return dialog
