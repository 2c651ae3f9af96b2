"""The results table: column sizes that keep Status and Problem readable, row actions.

What matters most is readable at any window size: Status is as wide as its longest
text, Next expiry as wide as the longest text its rows show (and no wider), Domain as
wide as its longest name (``smtp://mx1.mail.test`` whole, not "smtp://mx1.…") up to
``DOMAIN_MAX_CHARS``, and Status, Domain, Problem and Next expiry always fit in the
view together. Problem (the column that says what is wrong) takes whatever width is
left. When not everything fits, Domain gives up width first, down to
``DOMAIN_MIN_CHARS``, so Problem keeps ``PROBLEM_SHARE`` of the view; then Problem
shrinks to ``PROBLEM_MIN_SHARE``; the raw dates and names after Next expiry scroll
into view. In a 900x600 window that leaves Problem about 45 characters ("certificate
does not cover checkout.acme-shop.test" nearly whole), at 1280x800 about 75 next to a
Domain at its widest. A Domain width the user dragged holds. Long texts are elided
in the middle (the start and the end of a name or a problem say the most) with the
whole text in the tooltip. All of this is Qt's own C++ painting: no Python delegate
runs per cell; Domain's and Next expiry's widths are measured once per batch of
changed rows, over the few shapes their texts take (see ``desktop.column_fit``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QPoint,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QDesktopServices,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QInputDialog,
    QMenu,
    QStyle,
    QTableView,
    QWidget,
)

from core.models import DEFAULT_PORT, DEFAULT_THRESHOLD_DAYS, Status
from desktop.column_fit import text_shapes, widest_name, widest_text
from desktop.results_model import ResultsModel, ResultsProxy
from desktop.rows import (
    COLUMN_CERT_EXPIRES,
    COLUMN_COUNT,
    COLUMN_DOMAIN,
    COLUMN_GROUP,
    COLUMN_ISSUER,
    COLUMN_NEXT_EXPIRY,
    COLUMN_PROBLEM,
    COLUMN_REG_EXPIRES,
    COLUMN_REGISTRAR,
    COLUMN_STATUS,
    HEADERS,
    NOT_CHECKED_LABEL,
    WatchRow,
    display_value,
)
from desktop.target_settings import add_settings_actions

#: The share of the view's width Problem keeps while the columns beyond Next expiry
#: scroll (and Status, Domain, Problem and Next expiry fit): Domain narrows for it.
PROBLEM_SHARE = 0.45
#: Problem shrinks to this share once Domain is at its least.
PROBLEM_MIN_SHARE = 0.3
#: Domain is never narrower than this many average characters (elided in the middle;
#: the whole name is in the tooltip and the details).
DOMAIN_MIN_CHARS = 12
#: Domain grows with its longest name up to this many average characters; longer
#: names are elided in the middle.
DOMAIN_MAX_CHARS = 34
#: Widths in average character widths, so the layout holds at any font size or DPI.
_COLUMN_CHARS = {
    COLUMN_GROUP: 14,
    COLUMN_CERT_EXPIRES: 11,
    COLUMN_ISSUER: 16,
    COLUMN_REG_EXPIRES: 27,  # "2027-06-30 (entered by hand)"
    COLUMN_REGISTRAR: 16,
}
#: Next expiry is never narrower than this usual text (so it does not widen, and
#: narrow Problem, as the first results of a check come in).
_NEXT_EXPIRY_SAMPLE = "registration in 365 days"
#: Room around a cell's text, on top of the style's own margins.
_CELL_PADDING_PX = 16
#: Room for the header's sort arrow.
_SORT_ARROW_PX = 28
STATUS_TEXTS = (NOT_CHECKED_LABEL, *(status.label for status in Status))
NEW_GROUP_LABEL = "New Group…"
NO_GROUP_LABEL = "No Group"


def site_url(row: WatchRow) -> QUrl:
    """``https://host[:port]/`` of a row (IPv6 in brackets)."""
    target = row.target
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = "" if target.port == DEFAULT_PORT else f":{target.port}"
    return QUrl(f"https://{host}{port}/")


class ResultsTable(QTableView):
    """The watchlist's rows, with a per-row context menu.

    Signals:
        check_now_requested(list[tuple[str, int]]): check these rows now.
        group_requested(list[tuple[str, int]], str): put them in a group ("" = none).
        remove_requested(list[tuple[str, int]]): stop watching them.
        threshold_requested(list[tuple[str, int]], object): their own threshold
            in days (``None``: the default).
        registration_expiry_requested(list[tuple[str, int]], object): a registration
            expiry typed by hand (aware ``datetime``; ``None``: forget it).
    """

    check_now_requested = Signal(list)
    group_requested = Signal(list, str)
    remove_requested = Signal(list)
    threshold_requested = Signal(list, object)
    registration_expiry_requested = Signal(list, object)

    def __init__(self, proxy: ResultsProxy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        #: Groups offered by "Set Group" (see ``MainWindow.set_groups``).
        self.groups: list[str] = []
        #: The "New Group…" name dialog while it is open (tests answer it).
        self.new_group_dialog: QInputDialog | None = None
        #: The threshold or registration-expiry dialog last opened (tests answer it).
        self.settings_dialog: QDialog | None = None
        #: What "Set Threshold…" offers as the default (``MainWindow.set_threshold``).
        self.default_threshold = DEFAULT_THRESHOLD_DAYS
        self._fitting = False
        #: Domain's width when there is room (from the font, or the user's resize).
        self._domain_width = 0
        #: The user sized Domain: it keeps that width even when space is short.
        self._domain_sized_by_user = False
        #: Rows came or went since Domain was last measured.
        self._domains_changed = True
        #: Measures Domain's and Next expiry's texts once the current batch is in.
        self._content_timer = QTimer(self)
        self._content_timer.setSingleShot(True)
        self._content_timer.setInterval(0)
        self._content_timer.timeout.connect(self.fit_columns_to_content)
        self.setModel(proxy)
        self.setAccessibleName("Results")
        self.setSortingEnabled(True)
        self.sortByColumn(COLUMN_STATUS, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setIconSize(QSize(16, 16))
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Always there (disabled while everything fits): a scroll bar that appears when
        # the list outgrows the view narrows the columns, re-elides every cell and
        # paints the whole table twice, just as a dropped list comes in.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.size_columns()
        header.sectionResized.connect(self._on_section_resized)
        for changed in (proxy.modelReset, proxy.rowsInserted, proxy.rowsRemoved):
            changed.connect(self._rows_changed)
        proxy.dataChanged.connect(self._content_timer.start)

        self.remove_action = QAction("&Remove from Watchlist", self)
        self.remove_action.setShortcuts(
            [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)]
        )
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_action.triggered.connect(self.request_remove)
        self.addAction(self.remove_action)

    # -- columns ---------------------------------------------------------------------

    def status_width(self) -> int:
        """Wide enough for the longest status text, its icon and the sort arrow."""
        metrics = self.fontMetrics()
        text = max(metrics.horizontalAdvance(t) for t in STATUS_TEXTS)
        margin = self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self)
        cell = text + self.iconSize().width() + 4 * (margin + 1) + _CELL_PADDING_PX
        title = self._title_width(COLUMN_STATUS)
        return max(cell, title)

    def _title_width(self, column: int) -> int:
        return self.horizontalHeader().fontMetrics().horizontalAdvance(HEADERS[column]) + (
            _SORT_ARROW_PX
        )

    def size_columns(self) -> None:
        """Set every column's starting width from the fonts in use."""
        char = self.fontMetrics().averageCharWidth()
        self.setColumnWidth(COLUMN_STATUS, self.status_width())
        for column, chars in _COLUMN_CHARS.items():
            width = max(chars * char + _CELL_PADDING_PX, self._title_width(column))
            self.setColumnWidth(column, width)
        self._domain_sized_by_user = False
        self._domain_width = self.domain_width()
        self._domains_changed = False
        self.fit_next_expiry_column()
        self.fit_problem_column()

    def _column_texts(self, column: int) -> list[str]:
        """A column's texts in every row (filtered out or not, so a filter does not
        move the columns)."""
        source = self.proxy.sourceModel()
        rows = source.rows() if isinstance(source, ResultsModel) else ()
        return [row.texts[column] for row in rows]

    def domain_width(self) -> int:
        """As wide as the widest Domain text of the rows, between ``DOMAIN_MIN_CHARS``
        and ``DOMAIN_MAX_CHARS`` average characters (and never under its title)."""
        char = self.fontMetrics().averageCharWidth()
        least = max(DOMAIN_MIN_CHARS * char + _CELL_PADDING_PX, self._title_width(COLUMN_DOMAIN))
        most = max(DOMAIN_MAX_CHARS * char + _CELL_PADDING_PX, least)
        names = self._column_texts(COLUMN_DOMAIN)
        widest = widest_name(self.fontMetrics(), names, cap=most - _CELL_PADDING_PX)
        return min(max(widest + _CELL_PADDING_PX, least), most)

    def next_expiry_width(self) -> int:
        """As wide as the widest Next expiry text of the rows, never narrower than a
        usual one."""
        shapes = text_shapes(self._column_texts(COLUMN_NEXT_EXPIRY))
        shapes.add(_NEXT_EXPIRY_SAMPLE)
        widest = widest_text(self.fontMetrics(), shapes)
        return max(widest + _CELL_PADDING_PX, self._title_width(COLUMN_NEXT_EXPIRY))

    def _rows_changed(self) -> None:
        self._domains_changed = True
        self._content_timer.start()

    def fit_columns_to_content(self) -> None:
        """Size Domain (when rows came or went) and Next expiry to their texts."""
        self._content_timer.stop()
        if self._domains_changed:
            self.fit_domain_column()
        self.fit_next_expiry_column()

    def fit_domain_column(self) -> None:
        """Size Domain to its names, unless the user sized it (their width holds)."""
        self._domains_changed = False
        if self._domain_sized_by_user:
            return
        width = self.domain_width()
        if width != self._domain_width:
            self._domain_width = width
            self.fit_problem_column()

    def fit_next_expiry_column(self) -> None:
        """Size Next expiry to its texts (Problem follows: see ``fitted_widths``)."""
        width = self.next_expiry_width()
        if width != self.columnWidth(COLUMN_NEXT_EXPIRY):
            self.setColumnWidth(COLUMN_NEXT_EXPIRY, width)

    def fitted_widths(self, available: int) -> tuple[int, int]:
        """Problem's and Domain's widths for a view ``available`` pixels wide.

        Everything fits with Problem at ``PROBLEM_SHARE`` or more: Problem fills the
        rest. Otherwise Status, Domain, Problem and Next expiry fill the view, the
        columns after them scroll: Domain gives up width down to
        ``DOMAIN_MIN_CHARS`` (unless the user sized Domain: their width holds) so
        Problem keeps ``PROBLEM_SHARE``, then Problem gives up width down to
        ``PROBLEM_MIN_SHARE`` (beyond that, the four scroll too).
        """
        shown = [c for c in range(COLUMN_COUNT) if not self.isColumnHidden(c)]
        fixed = sum(self.columnWidth(c) for c in shown if c in (COLUMN_STATUS, COLUMN_NEXT_EXPIRY))
        rest = sum(
            self.columnWidth(c)
            for c in shown
            if c not in (COLUMN_STATUS, COLUMN_NEXT_EXPIRY, COLUMN_DOMAIN, COLUMN_PROBLEM)
        )
        domain = self._domain_width
        title = self._title_width(COLUMN_PROBLEM)
        fill = available - fixed - domain - rest
        if fill >= available * PROBLEM_SHARE:
            return max(fill, title), domain
        room = available - fixed  # for Domain and Problem, with the four in view
        least_problem = max(round(available * PROBLEM_MIN_SHARE), title)
        if not self._domain_sized_by_user:
            char = self.fontMetrics().averageCharWidth()
            least_domain = min(domain, DOMAIN_MIN_CHARS * char + _CELL_PADDING_PX)
            wanted_problem = round(available * PROBLEM_SHARE)
            domain = max(least_domain, min(domain, room - wanted_problem))
        return max(room - domain, least_problem), domain

    def fit_problem_column(self) -> None:
        """Size Problem (and Domain when space is short): see ``fitted_widths``."""
        if self._fitting:
            return
        problem, domain = self.fitted_widths(self.viewport().width())
        self._fitting = True
        try:
            self.setColumnWidth(COLUMN_DOMAIN, domain)
            self.setColumnWidth(COLUMN_PROBLEM, problem)
        finally:
            self._fitting = False

    def _on_section_resized(self, column: int, old: int, new: int) -> None:
        if self._fitting:
            return
        if column == COLUMN_DOMAIN:
            self._domain_width = new  # the user's choice: kept
            self._domain_sized_by_user = True
        if column != COLUMN_PROBLEM:
            self.fit_problem_column()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_problem_column()

    # -- rows ------------------------------------------------------------------------

    def selected_rows(self) -> list[WatchRow]:
        """Selected rows in the order they are shown."""
        selection = self.selectionModel()
        rows = sorted({index.row() for index in selection.selectedRows()})
        return [row for r in rows if (row := self.proxy.row_at(r)) is not None]

    def selected_keys(self) -> list[tuple[str, int]]:
        return [row.key for row in self.selected_rows()]

    def select_source_rows(
        self, positions: Sequence[int], clear_filters: Callable[[], None]
    ) -> int:
        """Select the model's rows at ``positions``, scrolled to the first shown.

        ``clear_filters`` runs first if a filter hides any of them. Returns how many
        rows were selected.
        """
        source = self.proxy.sourceModel()
        sources = [source.index(position, 0) for position in positions]
        if not sources:
            return 0
        if not all(self.proxy.mapFromSource(s).isValid() for s in sources):
            clear_filters()
        shown = [index for s in sources if (index := self.proxy.mapFromSource(s)).isValid()]
        selection = QItemSelection()
        for index in shown:
            selection.select(index, index)
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        selection_model = self.selectionModel()
        selection_model.select(selection, flags)
        if shown:
            first = min(shown, key=lambda index: index.row())
            selection_model.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.scrollTo(first)
        return len(shown)

    def copy_rows(self) -> tuple[str, int]:
        """Copy the selected rows as tab-separated text with a header line.

        Returns the text and how many rows it holds.
        """
        rows = self.selected_rows()
        if not rows:
            return "", 0
        lines = ["\t".join(HEADERS)]
        lines += [
            "\t".join(display_value(row, c).replace("\t", " ") for c in range(COLUMN_COUNT))
            for row in rows
        ]
        text = "\n".join(lines) + "\n"
        # setText, not setMimeData: the clipboard takes ownership of a QMimeData and
        # deletes it again at exit after Python already has (a crash at shutdown).
        QGuiApplication.clipboard().setText(text)
        return text, len(rows)

    def request_remove(self) -> None:
        keys = self.selected_keys()
        if keys:
            self.remove_requested.emit(keys)

    def copy_names(self, rows: list[WatchRow]) -> str:
        """Copy the rows' names, one per line, as they were typed (Unicode, port)."""
        text = "\n".join(row.target.label for row in rows)
        QGuiApplication.clipboard().setText(text)
        return text

    def open_in_browser(self, rows: list[WatchRow]) -> None:
        for row in rows:
            QDesktopServices.openUrl(site_url(row))

    def ask_new_group(self, keys: list[tuple[str, int]]) -> QInputDialog:
        """Ask for a group name without blocking the event loop (``open()``)."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle("New Group")
        dialog.setLabelText("Name of the group (a client, a project):")
        dialog.setInputMode(QInputDialog.InputMode.TextInput)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def chosen(name: str) -> None:
            name = " ".join(name.split())
            if name:
                self.group_requested.emit(keys, name)

        dialog.textValueSelected.connect(chosen)
        dialog.destroyed.connect(self._forget_new_group_dialog)
        self.new_group_dialog = dialog
        dialog.open()
        return dialog

    def _forget_new_group_dialog(self) -> None:
        self.new_group_dialog = None

    def row_menu(self, rows: list[WatchRow]) -> QMenu:
        """The context menu for ``rows`` (the selection, or the row under the pointer)."""
        keys = [row.key for row in rows]
        many = len(rows) > 1
        menu = QMenu(self)
        menu.addAction("&Check Now", lambda: self.check_now_requested.emit(keys))
        menu.addAction(
            "Open in &Browser" + (f" ({len(rows)})" if many else ""),
            lambda: self.open_in_browser(rows),
        )
        menu.addAction("Copy &Name" + ("s" if many else ""), lambda: self.copy_names(rows))
        groups = menu.addMenu("Set &Group")
        current = {row.group for row in rows}
        for group in self.groups:
            choose = functools.partial(self.group_requested.emit, keys, group)
            action = groups.addAction(group, choose)
            action.setCheckable(True)
            action.setChecked(current == {group})
        if self.groups:
            groups.addSeparator()
        groups.addAction(NEW_GROUP_LABEL, lambda: self.ask_new_group(keys))
        no_group = groups.addAction(NO_GROUP_LABEL, lambda: self.group_requested.emit(keys, ""))
        no_group.setEnabled(current != {""})
        add_settings_actions(self, menu, rows)
        menu.addSeparator()
        remove = menu.addAction("&Remove from Watchlist", lambda: self.remove_requested.emit(keys))
        remove.setShortcut(self.remove_action.shortcut())
        return menu

    def menu_rows_at(self, position: QPoint) -> list[WatchRow]:
        """The rows a context menu at ``position`` (viewport) is for."""
        index = self.indexAt(position)
        if not index.isValid():
            return []
        selection = self.selectionModel()
        if not selection.isRowSelected(index.row(), index.parent()):
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            selection.setCurrentIndex(index, flags)
        return self.selected_rows()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        position = self.viewport().mapFromGlobal(event.globalPos())
        rows = self.menu_rows_at(position)
        if not rows:
            return
        menu = self.row_menu(rows)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.globalPos())  # not exec(): the event loop keeps running
