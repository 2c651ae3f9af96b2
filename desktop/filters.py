"""The filter bar over the table: search text, status (with live counts) and group.

The bar only turns choices into ``ResultsProxy`` settings; the filtering itself runs
in C++ (see ``ResultsProxy``). Counts come from the model's live per-status counters,
so keeping "Expiring (3)" current while results stream in costs a handful of
``setItemText`` calls per batch, never a walk over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

from core.models import Status
from desktop import icons
from desktop.results_model import ResultsModel, ResultsProxy

#: Status filter choices: label and the statuses shown (``None`` = all).
STATUS_FILTERS: tuple[tuple[str, frozenset[Status | None] | None], ...] = (
    ("All statuses", None),
    (
        "Needs attention",
        frozenset({Status.EXPIRING, Status.EXPIRED, Status.INVALID, Status.ERROR}),
    ),
    ("Valid", frozenset({Status.VALID})),
    ("Expiring", frozenset({Status.EXPIRING})),
    ("Expired", frozenset({Status.EXPIRED})),
    ("Invalid", frozenset({Status.INVALID})),
    ("Could not check", frozenset({Status.ERROR, Status.UNKNOWN})),
    ("Not checked yet", frozenset({None})),
)
ALL_GROUPS_LABEL = "All groups"
NO_GROUP_LABEL = "No group"


class FilterBar(QWidget):
    """Search box, status filter and group filter, applied to a ``ResultsProxy``."""

    def __init__(
        self, model: ResultsModel, proxy: ResultsProxy, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._proxy = proxy
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter domains, issuers, problems…")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.setAccessibleName("Filter results")
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Show statuses")
        self.status_filter.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.status_filter.setMinimumContentsLength(len("Needs attention (10,000)"))
        for label, statuses in STATUS_FILTERS:
            if statuses and len(statuses) == 1:
                self.status_filter.addItem(icons.status_icon(next(iter(statuses))), label, statuses)
            else:
                self.status_filter.addItem(label, statuses)
        self.group_filter = QComboBox()
        self.group_filter.setAccessibleName("Show group")
        self.group_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.group_filter.addItem(ALL_GROUPS_LABEL, None)
        self.group_filter.addItem(NO_GROUP_LABEL, "")
        self.group_filter.setVisible(False)  # until there is a group to choose

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text_edit, 1)
        layout.addWidget(self.status_filter)
        layout.addWidget(self.group_filter)

        self.text_edit.textChanged.connect(proxy.set_text)
        self.status_filter.currentIndexChanged.connect(
            lambda i: proxy.set_statuses(self.status_filter.itemData(i))
        )
        self.group_filter.currentIndexChanged.connect(
            lambda i: proxy.set_group(self.group_filter.itemData(i))
        )
        model.counts_changed.connect(self.update_counts)
        self.update_counts()

    def update_counts(self) -> None:
        """Show how many rows each status choice holds: "Expiring (3)"."""
        model = self._model
        for position, (label, statuses) in enumerate(STATUS_FILTERS):
            if statuses is None:
                count = model.rowCount()
            else:
                count = sum(model.status_count(status) for status in statuses)
            self.status_filter.setItemText(position, f"{label} ({count:,})")

    def set_groups(self, groups: Sequence[str]) -> None:
        """The groups to offer; the current choice stays if it still exists."""
        current = self.group_filter.currentData()
        wanted = [None, "", *groups]
        existing = [self.group_filter.itemData(i) for i in range(self.group_filter.count())]
        if existing != wanted:
            blocked = self.group_filter.blockSignals(True)
            self.group_filter.clear()
            self.group_filter.addItem(ALL_GROUPS_LABEL, None)
            self.group_filter.addItem(NO_GROUP_LABEL, "")
            for group in groups:
                self.group_filter.addItem(group, group)
            position = self.group_filter.findData(current) if current is not None else 0
            self.group_filter.setCurrentIndex(max(position, 0))
            self.group_filter.blockSignals(blocked)
            if position < 0:  # the chosen group is gone: show every group again
                self._proxy.set_group(None)
        self.group_filter.setVisible(bool(groups))

    def choose_group(self, group: str | None) -> bool:
        """Select a group in the filter (``None``: all); False if it is not offered."""
        position = self.group_filter.findData(group) if group is not None else 0
        if position < 0:
            return False
        self.group_filter.setCurrentIndex(position)
        return True

    def choose_status(self, label: str) -> bool:
        """Select a status choice by its label without the count ("Expiring")."""
        for position, (choice, _statuses) in enumerate(STATUS_FILTERS):
            if choice == label:
                self.status_filter.setCurrentIndex(position)
                return True
        return False

    def clear(self) -> None:
        """Show every row again."""
        self.text_edit.clear()
        self.status_filter.setCurrentIndex(0)
        self.group_filter.setCurrentIndex(0)
