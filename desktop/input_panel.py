"""The left side of the window: the domains to add, what was rejected, the buttons.

One place for the input's rules: Check and Add hand over the typed text, the lines
the watchlist refused stay in the box, marked and listed with the reason, and the
accepted ones are cleared (``clear_input``) so they are never added twice.

The panel gives its width to the watchlist in a narrow window: "Warn before expiry"
moves above its box when the two do not fit side by side, so the panel needs no more
than its two rows of buttons (about 170 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.models import DEFAULT_THRESHOLD_DAYS, InputError, Status
from desktop import icons
from desktop.domain_input import DomainInput
from desktop.intake import MX_SOURCE
from desktop.preferences import MAX_THRESHOLD_DAYS

#: ``InputError.source`` for the text typed or pasted into the window.
INPUT_SOURCE = "<input>"


class InputPanel(QWidget):
    """Domains to add, the rejected lines, the threshold and the buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: The rejected lines shown (renumbered by ``clear_input``).
        self._errors: list[InputError] = []
        self.input = DomainInput()
        self.errors_list = QListWidget()
        self.errors_list.setAccessibleName("Rejected lines")
        self.errors_list.setMaximumHeight(140)
        self.errors_list.setVisible(False)
        self.errors_list.setWordWrap(True)
        self.errors_list.setIconSize(QSize(16, 16))
        self.errors_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.threshold = QSpinBox(minimum=0, maximum=MAX_THRESHOLD_DAYS, suffix=" days")
        self.threshold.setValue(DEFAULT_THRESHOLD_DAYS)  # never "0 days" before the app sets it
        self.threshold.setAccessibleName("Warn this many days before expiry")
        self.threshold.setToolTip(
            "A certificate or registration expiring within this many days counts as expiring."
        )

        self.check_button = QPushButton("&Check")
        self.check_button.setDefault(True)
        self.check_button.setToolTip(
            "Add the typed domains, then check the whole watchlist (Ctrl+Return)"
        )
        self.add_button = QPushButton("&Add")
        self.add_button.setToolTip("Add the typed domains to the watchlist without checking")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running check (Esc)")
        self.open_button = QPushButton("&Open…")
        self.open_button.setToolTip("Add domains from .txt or .csv files (Ctrl+O)")
        self._build_layout()

    def _build_layout(self) -> None:
        input_label = QLabel("&Domains to add")
        input_label.setBuddy(self.input)
        heading = input_label.font()
        heading.setBold(True)
        input_label.setFont(heading)

        threshold_label = QLabel("&Warn before expiry:")
        threshold_label.setBuddy(self.threshold)
        threshold_row = QFormLayout()
        threshold_row.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        threshold_row.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        threshold_row.addRow(threshold_label, self.threshold)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.check_button)
        file_row = QHBoxLayout()
        file_row.addWidget(self.open_button)
        file_row.addStretch(1)
        file_row.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(input_label)
        layout.addWidget(self.input, 1)
        layout.addWidget(self.errors_list)
        layout.addLayout(threshold_row)
        layout.addLayout(buttons)
        layout.addLayout(file_row)

    def text(self) -> str:
        return self.input.toPlainText()

    def show_errors(self, errors: Sequence[InputError]) -> None:
        """List rejected lines under the input, and mark the ones that came from it."""
        self._errors = list(errors)
        self.errors_list.clear()
        warning = icons.status_icon(Status.EXPIRED)
        for error in errors:
            if error.source == INPUT_SOURCE:
                where = f"Line {error.line}"
            elif error.source == MX_SOURCE:  # an mx: line of a list: no line to name
                where = "Mail servers"
            else:
                where = f"{Path(error.source).name}, line {error.line}"
            item = QListWidgetItem(warning, f"{where}: {error.text} — {error.error}")
            item.setToolTip(f"{error.source}:{error.line}: {error.error}")
            self.errors_list.addItem(item)
        self.errors_list.setVisible(bool(errors))
        self.input.mark_lines([e.line for e in errors if e.source == INPUT_SOURCE])

    def clear_input(self, keep: Sequence[int] = ()) -> None:
        """Remove the input's lines except the 1-based ``keep`` (they stay marked).

        What was added is gone from the box, so a later Check cannot add it again;
        the rejected lines stay for the user to fix, renumbered in the error list.
        """
        renumbered = self.input.keep_lines(keep)
        errors = []
        for error in self._errors:
            if error.source != INPUT_SOURCE:
                errors.append(error)
            elif error.line in renumbered:
                errors.append(
                    InputError(error.source, renumbered[error.line], error.text, error.error)
                )
        self.show_errors(errors)
        if not any(e.source == INPUT_SOURCE for e in errors):
            self.input.mark_lines(sorted(renumbered.values()))
