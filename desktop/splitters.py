"""The main window's splitters: the table gets the room.

Input beside the watchlist (``InputSplitter``): the watchlist gets
``WATCHLIST_WANTED_PX`` first and the input panel what is left (``INPUT_WIDTH_PX`` at
most), so a narrow window narrows the panel first, down to what it needs (about
170 px), and the table's Problem column keeps its width.

The table above the details (``TableDetailsSplitter``): with nothing selected the
details are a one-line hint, so a 900x600 window shows the watchlist, not an empty
box. A selected row's details get the height of their content (all of it, wrapped at
the pane's width) up to ``DETAILS_MAX_SHARE`` of the height, or more when the
table's rows (a filtered list of a few) leave room; beyond that they scroll. The
user may drag either handle: the size they chose holds (for the details, until the
next selection).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSplitter, QTableView, QWidget

from desktop.details import DetailsPane

#: The details never take more than this share of the height (they scroll instead).
DETAILS_MAX_SHARE = 0.36
#: The input panel's width in a wide window.
INPUT_WIDTH_PX = 250
#: The watchlist's width before the input panel gets more than it needs: room for
#: Status, Domain, a Problem of about 75 characters and Next expiry.
WATCHLIST_WANTED_PX = 1000
#: However few rows there are, the table keeps room for this many.
TABLE_MIN_ROWS = 6


class InputSplitter(QSplitter):
    """A horizontal splitter: the input panel beside the watchlist."""

    def __init__(self, panel: QWidget, watchlist: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.panel = panel
        self.addWidget(panel)
        self.addWidget(watchlist)
        self.setStretchFactor(0, 0)
        self.setStretchFactor(1, 1)
        self.setSizes([INPUT_WIDTH_PX, 1030])
        self.setChildrenCollapsible(False)
        #: The user dragged the panel's edge: the window's width no longer sizes it.
        self.dragged = False
        self.splitterMoved.connect(self._on_moved)

    def _on_moved(self, position: int, index: int) -> None:
        self.dragged = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.dragged:
            return
        sizes = self.sizes()
        total = sum(sizes)
        least = self.panel.minimumSizeHint().width()
        spare = self.width() - self.handleWidth() - WATCHLIST_WANTED_PX
        left = max(least, min(INPUT_WIDTH_PX, spare))
        if total > left and sizes[0] != left:
            self.setSizes([left, total - left])


class TableDetailsSplitter(QSplitter):
    """A vertical splitter: ``top`` (filters and table) over ``details``."""

    def __init__(
        self,
        top: QWidget,
        details: DetailsPane,
        parent: QWidget | None = None,
        *,
        table: QTableView | None = None,
    ) -> None:
        """``table``: the view in ``top`` whose rows may leave the details more room."""
        super().__init__(Qt.Orientation.Vertical, parent)
        self.details = details
        self.top = top
        self.table = table
        self.addWidget(top)
        self.addWidget(details)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 0)
        self.setChildrenCollapsible(False)
        #: The user dragged the handle: their size holds until the next selection.
        self.dragged = False
        self.splitterMoved.connect(self._on_moved)

    def _on_moved(self, position: int, index: int) -> None:
        self.dragged = True

    def details_height_for(self, total: int) -> int:
        """The details' height in a splitter ``total`` pixels high."""
        wanted = min(self.details.wanted_height(), self.details_limit(total))
        return max(wanted, self.details.minimumSizeHint().height())

    def details_limit(self, total: int) -> int:
        """The most the details get: ``DETAILS_MAX_SHARE``, or what the table's rows
        leave free (never fewer than ``TABLE_MIN_ROWS`` rows)."""
        share = round(total * DETAILS_MAX_SHARE)
        table = self.table
        if table is None or self.top.height() <= 0:
            return share
        rows = max(table.model().rowCount(), TABLE_MIN_ROWS)
        row_height = table.verticalHeader().defaultSectionSize()
        around = self.top.height() - table.viewport().height()  # header, filters...
        needed = around + rows * row_height + table.horizontalScrollBar().sizeHint().height()
        return max(share, total - self.handleWidth() - needed)

    def fit_details(self) -> None:
        """Size the details to their content (a new row is shown: forget a drag)."""
        self.dragged = False
        self._fit()

    def _fit(self) -> None:
        total = sum(self.sizes())
        if total <= 0:
            return
        if self.dragged:  # keep the user's size, but never past the limit
            wanted = min(self.sizes()[1], self.details_limit(total))
        else:
            wanted = self.details_height_for(total)
        if self.sizes()[1] != wanted:
            self.setSizes([total - wanted, wanted])

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()
