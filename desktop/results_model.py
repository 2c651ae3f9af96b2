"""The results table: one row per watched target, following Qt's model contract.

``ResultsModel`` keeps rows in watchlist order and never re-creates them: a reset for
a bulk load (the watchlist on start), one ``beginInsertRows`` per arriving batch of new
targets, and ``dataChanged`` over the rows a batch updated. Sorting and filtering live
in ``ResultsProxy``; it sorts by ``SortRole``, the raw value (a date's timestamp, days
as a number), never by the display string.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication

from core.models import CheckResult, Status, Target, summarize
from desktop import icons
from desktop.rows import (
    COLUMN_CERT_EXPIRES,
    COLUMN_COUNT,
    COLUMN_DOMAIN,
    COLUMN_GROUP,
    COLUMN_ISSUER,
    COLUMN_NEXT_EXPIRY,
    COLUMN_PROBLEM,
    COLUMN_REG_EXPIRES,
    COLUMN_STATUS,
    FILTER_SEPARATOR,
    HEADERS,
    MISSING_SORT_KEYS,
    UNCHECKED_CODE,
    RowValues,
    WatchRow,
    domain_description,
    next_expiry,
    unchecked_rows,
)

ModelIndex = QModelIndex | QPersistentModelIndex

#: Raw value used for sorting (numbers, timestamps, case-folded text).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: The whole ``WatchRow`` of this index.
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
#: What the proxy's filter matches: ``"<status>\x1f<group>\x1f<searchable text>"``
#: (see ``WatchRow.filter_text``).
FILTER_ROLE = Qt.ItemDataRole.UserRole + 3

# Roles as plain ints: ``data()`` runs from C++ for every cell of every repaint (seven
# roles per cell), so it compares ints instead of looking up enum members.
_DISPLAY_ROLE = int(Qt.ItemDataRole.DisplayRole)
_DECORATION_ROLE = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP_ROLE = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT_ROLE = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND_ROLE = int(Qt.ItemDataRole.ForegroundRole)
_ACCESSIBLE_TEXT_ROLE = int(Qt.ItemDataRole.AccessibleTextRole)
_SORT_ROLE = int(SORT_ROLE)
_ROW_ROLE = int(ROW_ROLE)
_FILTER_ROLE = int(FILTER_ROLE)
#: The roles ``data()`` answers; the delegate's other questions (font, background,
#: check state) get ``None`` before the index is even looked at.
_ANSWERED_ROLES = frozenset(
    {
        _DISPLAY_ROLE,
        _DECORATION_ROLE,
        _TOOLTIP_ROLE,
        _ALIGNMENT_ROLE,
        _FOREGROUND_ROLE,
        _ACCESSIBLE_TEXT_ROLE,
        _SORT_ROLE,
        _ROW_ROLE,
        _FILTER_ROLE,
    }
)
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
#: Dates line up on the right, like numbers.
_RIGHT_ALIGNED_COLUMNS = frozenset({COLUMN_CERT_EXPIRES, COLUMN_REG_EXPIRES})
#: While results stream in, re-sort at most this often: every re-sort is a layout
#: change (the whole table is laid out and painted again, and rows move under the
#: pointer), where a batch that only fills in rows repaints just those rows.
RESORT_INTERVAL_MS = 1000
#: The longest run of rows one ``dataChanged`` announces (see ``_announce_changed``).
CHANGED_RUN_ROWS = 16


class ResultsModel(QAbstractTableModel):
    """Watched targets and their results, in watchlist order.

    Signals:
        counts_changed(): the number of rows per status changed (at most once per
            batch of results), for the status filter's counts.
    """

    counts_changed = Signal()

    def __init__(
        self, parent: QObject | None = None, *, resort_interval_ms: int = RESORT_INTERVAL_MS
    ) -> None:
        super().__init__(parent)
        self._resort_timer = QTimer(self)
        self._resort_timer.setSingleShot(True)
        self._resort_timer.setInterval(resort_interval_ms)
        self._resort_timer.timeout.connect(self._resort_if_pending)
        self._resort_pending = False
        self._rows: list[WatchRow] = []
        self._index: dict[tuple[str, int], int] = {}
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        #: Rows per status (``None``: not checked yet), kept up to date on every
        #: change, so the status-bar summary after a batch does not walk every row.
        self._status_counts: collections.Counter[Status | None] = collections.Counter()
        #: Foreground colour per status for the current palette (see palette_changed).
        self._colours: dict[Status | None, QColor] = {}
        #: The last run looked offline (see ``set_offline``).
        self._offline = False

    # Sorting lives here, not in the proxy: Python's sort over the cached keys of
    # 2,000 rows takes about a millisecond, where a dynamically sorting proxy calls
    # data() from C++ tens of thousands of times per batch of results.
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self._resort_pending = False
        self._resort()

    def _request_resort(self) -> None:
        """Re-sort now, or once the current interval is over if one just happened."""
        if self._resort_timer.isActive():
            self._resort_pending = True
            return
        self._resort()
        self._resort_timer.start()

    def _resort_if_pending(self) -> None:
        if self._resort_pending:
            self._resort_pending = False
            self._resort()
            self._resort_timer.start()

    def _resort(self) -> None:
        column = self._sort_column
        if not 0 <= column < COLUMN_COUNT or len(self._rows) < 2:
            return
        # Rows without a value go last in both directions: a reversed sort would put
        # them first, so they are set apart and appended in watchlist order.
        present = [row for row in self._rows if row.sort_keys[column] not in MISSING_SORT_KEYS]
        missing = [row for row in self._rows if row.sort_keys[column] in MISSING_SORT_KEYS]
        ordered = sorted(
            present,
            key=lambda row: row.sort_keys[column],
            reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
        )
        ordered += missing
        if all(a is b for a, b in zip(ordered, self._rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = self._rows
        persistent = self.persistentIndexList()
        self._rows = ordered
        self._reindex()
        self.changePersistentIndexList(
            persistent,
            [self.index(self._index[old_rows[i.row()].key], i.column()) for i in persistent],
        )
        self.layoutChanged.emit()

    # -- Qt model contract -------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < COLUMN_COUNT:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in _RIGHT_ALIGNED_COLUMNS:
                return _RIGHT_ALIGNED
        return None

    def data(self, index: ModelIndex, role: int = _DISPLAY_ROLE) -> object:
        # Hot path: called from C++ about a thousand times per repaint of the table.
        if role not in _ANSWERED_ROLES or not index.isValid():
            return None
        position = index.row()
        if not 0 <= position < len(self._rows):
            return None
        row = self._rows[position]
        column = index.column()
        if role in (_DISPLAY_ROLE, _ACCESSIBLE_TEXT_ROLE):
            return row.texts[column]
        if role == _DECORATION_ROLE:
            return icons.status_icon(row.status) if column == COLUMN_STATUS else None
        if role == _FOREGROUND_ROLE:
            if column == COLUMN_STATUS:
                return self._colour(row.status)
            if column == COLUMN_NEXT_EXPIRY and row.expiry_status not in (None, Status.VALID):
                return self._colour(row.expiry_status)
            return None
        if role == _ALIGNMENT_ROLE:
            return _RIGHT_ALIGNED if column in _RIGHT_ALIGNED_COLUMNS else None
        if role == _SORT_ROLE:
            return row.sort_keys[column]
        if role == _ROW_ROLE:
            return row
        if role == _FILTER_ROLE:
            return row.filter_text()
        if role == _TOOLTIP_ROLE:
            return self._tooltip(row, column)
        return None

    @staticmethod
    def _tooltip(row: WatchRow, column: int) -> str | None:
        """The full text behind an elided cell (only asked for on hover)."""
        if column == COLUMN_DOMAIN:
            return domain_description(row.target)
        if column == COLUMN_GROUP:
            return row.group or None
        result = row.result
        if result is None:
            return None
        if column in (COLUMN_STATUS, COLUMN_PROBLEM) and row.problem:
            return row.problem
        if column == COLUMN_ISSUER and result.tls is not None:
            return result.tls.issuer
        if column == COLUMN_NEXT_EXPIRY:
            found = next_expiry(result)
            if found is not None:
                what, when = found
                stamp = when.astimezone().strftime("%Y-%m-%d %H:%M %Z")
                return f"The {what} expires {stamp}"
        return None

    def _colour(self, status: Status | None) -> QColor:
        colour = self._colours.get(status)
        if colour is None:
            colour = icons.status_colour(status, QGuiApplication.palette())
            self._colours[status] = colour
        return colour

    def palette_changed(self) -> None:
        """The system switched light/dark: status colours are picked again."""
        self._colours.clear()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._rows) - 1, COLUMN_COUNT - 1),
                [Qt.ItemDataRole.ForegroundRole],
            )

    # -- reading -------------------------------------------------------------------

    def row_at(self, row: int) -> WatchRow:
        return self._rows[row]

    def row_of(self, key: tuple[str, int]) -> int | None:
        return self._index.get(key)

    def rows(self) -> Sequence[WatchRow]:
        return tuple(self._rows)

    def targets(self) -> list[Target]:
        return [row.target for row in self._rows]

    def results(self) -> list[CheckResult]:
        return [row.result for row in self._rows if row.result is not None]

    def counts(self) -> dict[Status, int]:
        counts = summarize(())
        for status, count in self._status_counts.items():
            if status is not None:
                counts[status] = count
        return counts

    def unchecked_count(self) -> int:
        return self._status_counts[None]

    def status_count(self, status: Status | None) -> int:
        """Rows with ``status`` (``None``: not checked yet); kept live, costs nothing."""
        return self._status_counts[status]

    def groups(self) -> list[str]:
        """The groups rows belong to, sorted (case-insensitively)."""
        return sorted({row.group for row in self._rows if row.group}, key=str.casefold)

    def worst_status(self) -> Status | None:
        statuses = [s for s, n in self._status_counts.items() if s is not None and n > 0]
        return max(statuses, key=lambda s: s.severity) if statuses else None

    # -- changing ------------------------------------------------------------------

    def set_rows(self, rows: Iterable[tuple[Target, CheckResult | None]]) -> None:
        """Replace everything (the watchlist loaded on start)."""
        self.beginResetModel()
        self._rows = [WatchRow(target, result) for target, result in rows]
        self._reindex()
        self._recount()
        self.endResetModel()
        self._resort()
        self.counts_changed.emit()

    def add_targets(self, targets: Iterable[Target]) -> int:
        """Append not-yet-listed targets as unchecked rows; returns how many were new."""
        return self.add_rows(unchecked_rows(targets))

    def add_rows(self, rows: Iterable[WatchRow]) -> int:
        """Append rows made by ``unchecked_rows`` (maybe on another thread) whose
        targets are not listed yet; returns how many were new."""
        new = self._new_rows(rows)
        self._append(new)
        self._resort()
        if new:
            self.counts_changed.emit()
        return len(new)

    def apply_results(
        self, results: Sequence[CheckResult], values: Sequence[RowValues] | None = None
    ) -> None:
        """Update existing rows and append new ones.

        ``values`` are the results' ``row_values`` when they were made elsewhere
        (the engine process makes them). Updated rows are announced in short runs
        (see ``_announce_changed``); new rows with one ``beginInsertRows``.
        """
        changed: list[int] = []
        fresh: list[WatchRow] = []
        back_online = False  # a server answered: the machine has a network again
        for number, result in enumerate(results):
            row_values = None if values is None else values[number]
            position = self._index.get(result.target.key)
            if position is None:
                row = WatchRow(result.target)
                row.set_result(result, row_values)
                fresh.append(row)
            else:
                row = self._rows[position]
                self._status_counts[row.status] -= 1
                row.set_result(result, row_values)
                self._status_counts[row.status] += 1
                changed.append(position)
            if self._offline:
                if row.network_failed:
                    row.show_offline(True)
                else:
                    back_online = True
        self._announce_changed(changed)
        self._append(self._new_rows(fresh))
        self._request_resort()
        if results:
            self.counts_changed.emit()
        if back_online:
            self.set_offline(False)

    def set_offline(self, offline: bool) -> None:
        """The last run looked offline: rows that failed before reaching a server say
        "not checked: no network", not "no such domain" each; ``False`` undoes it.

        Turns itself off when a result that reached a server arrives.
        """
        if offline == self._offline:
            return
        self._offline = offline
        changed = []
        for position, row in enumerate(self._rows):
            if row.network_failed:
                row.show_offline(offline)
                changed.append(position)
        self._announce_changed(changed)

    def is_offline(self) -> bool:
        return self._offline

    def _announce_changed(self, positions: Iterable[int]) -> None:
        """``dataChanged`` for each run of at most ``CHANGED_RUN_ROWS`` adjacent rows.

        A view repaints just the visible part of a short range, but the whole
        viewport for a long one (QTableView gives up on ranges over ~200 cells).
        Results arrive in completion order, mostly below the rows in view, so short
        runs usually repaint nothing at all; one range from the first to the last
        changed row would repaint the whole table for every batch.
        """
        for first, last in _spans(positions):
            for start in range(first, last + 1, CHANGED_RUN_ROWS):
                end = min(start + CHANGED_RUN_ROWS - 1, last)
                self.dataChanged.emit(self.index(start, 0), self.index(end, COLUMN_COUNT - 1))

    def remove_keys(self, keys: Iterable[tuple[str, int]]) -> None:
        positions = sorted({p for k in keys if (p := self._index.get(k)) is not None})
        for first, last in reversed(_spans(positions)):
            self.beginRemoveRows(QModelIndex(), first, last)
            self._status_counts.subtract(row.status for row in self._rows[first : last + 1])
            del self._rows[first : last + 1]
            self.endRemoveRows()
        self._reindex()
        if positions:
            self.counts_changed.emit()

    def set_group(self, keys: Iterable[tuple[str, int]], group: str) -> None:
        """Put the rows of ``keys`` in ``group`` ("" for none), as the watchlist did."""
        positions = sorted({p for k in keys if (p := self._index.get(k)) is not None})
        for position in positions:
            self._rows[position].set_group(group)
        for first, last in _spans(positions):
            self.dataChanged.emit(self.index(first, 0), self.index(last, COLUMN_COUNT - 1))
        if positions and self._sort_column == COLUMN_GROUP:
            self._request_resort()

    def set_target_threshold(
        self, keys: Iterable[tuple[str, int]], days: int | None, default_days: int
    ) -> list[Target]:
        """Give the rows of ``keys`` their own threshold (``None``: ``default_days``),
        re-classifying what they show; returns their targets (to check them again)."""
        positions = sorted({p for k in keys if (p := self._index.get(k)) is not None})
        for position in positions:
            row = self._rows[position]
            row.target = dataclasses.replace(row.target, threshold_days=days)
            if row.result is not None:
                wanted = default_days if days is None else days
                row.set_result(dataclasses.replace(row.result, threshold_days=wanted))
        for first, last in _spans(positions):
            self.dataChanged.emit(self.index(first, 0), self.index(last, COLUMN_COUNT - 1))
        if positions:
            self._recount()
            self.counts_changed.emit()
            self._request_resort()
        return [self._rows[p].target for p in positions]

    def set_threshold(self, threshold_days: int) -> None:
        """Re-classify every known result against a new default threshold (no new
        check needed); rows with a threshold of their own keep it."""
        for row in self._rows:
            own = row.target.threshold_days
            wanted = threshold_days if own is None else own
            if row.result is not None and row.result.threshold_days != wanted:
                row.set_result(dataclasses.replace(row.result, threshold_days=wanted))
        self._recount()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, COLUMN_COUNT - 1)
            )
            self._resort()
        self.counts_changed.emit()

    def _new_rows(self, rows: Iterable[WatchRow]) -> list[WatchRow]:
        seen: set[tuple[str, int]] = set()
        new = []
        for row in rows:
            key = row.key
            if key not in self._index and key not in seen:
                seen.add(key)
                new.append(row)
        return new

    def _append(self, rows: list[WatchRow]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for offset, row in enumerate(rows):
            self._index[row.key] = first + offset
        self._rows.extend(rows)
        self._status_counts.update(row.status for row in rows)
        self.endInsertRows()

    def _reindex(self) -> None:
        self._index = {row.key: position for position, row in enumerate(self._rows)}

    def _recount(self) -> None:
        self._status_counts = collections.Counter(row.status for row in self._rows)


def filter_pattern(
    text: str, statuses: frozenset[Status | None] | None, group: str | None = None
) -> str:
    """A pattern matching ``WatchRow.filter_text`` of the rows to show.

    ``text`` is already case-folded (so is the row's text): a plain substring test.
    ``group``: ``None`` for every group, ``""`` for rows in no group, else that group.
    """
    if statuses is None and not text and group is None:
        return ""
    if statuses is None:
        status_part = f"[^{FILTER_SEPARATOR}]*"
    elif not statuses:
        return "(?!)"  # never matches: no status chosen
    else:
        codes = sorted(UNCHECKED_CODE if s is None else s.value for s in statuses)
        status_part = "(?:" + "|".join(re.escape(code) for code in codes) + ")"
    group_part = (
        f"[^{FILTER_SEPARATOR}]*"
        if group is None
        else QRegularExpression.escape(group.replace(FILTER_SEPARATOR, " "))
    )
    text_part = ".*" + QRegularExpression.escape(text) if text else ""
    return f"^{status_part}{FILTER_SEPARATOR}{group_part}{FILTER_SEPARATOR}{text_part}"


def _spans(positions: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted contiguous ``(first, last)`` runs of row numbers."""
    spans: list[tuple[int, int]] = []
    for position in sorted(set(positions)):
        if spans and position == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], position)
        else:
            spans.append((position, position))
    return spans


class ResultsProxy(QSortFilterProxyModel):
    """Filters by text, status and group; sorting is the source model's (by raw values).

    The filter runs in C++: ``FILTER_ROLE`` gives each row
    ``"<status>\x1f<group>\x1f<text>"`` and the proxy matches it against a regular
    expression built from the chosen statuses, group and the (escaped) search text.
    With no filter the pattern is empty and Qt accepts every row without asking the
    model, so the proxy's re-mapping after a re-sort or an insert of thousands of rows
    costs no Python call per row (a ``filterAcceptsRow`` override costs one each time).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self.setDynamicSortFilter(True)
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._text = ""
        #: ``None`` = every status; otherwise the statuses to show (``None`` in the
        #: set stands for "not checked yet").
        self._statuses: frozenset[Status | None] | None = None
        #: ``None`` = every group; ``""`` = rows in no group.
        self._group: str | None = None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting is done by the source model (see ``ResultsModel.sort``)."""
        self._sort_column, self._sort_order = column, order
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def sortColumn(self) -> int:
        return self._sort_column

    def sortOrder(self) -> Qt.SortOrder:
        return self._sort_order

    def set_text(self, text: str) -> None:
        self._text = text.strip().casefold()
        self._apply_filter()

    def set_statuses(self, statuses: Iterable[Status | None] | None) -> None:
        self._statuses = None if statuses is None else frozenset(statuses)
        self._apply_filter()

    def set_group(self, group: str | None) -> None:
        """Show one group's rows (``""``: rows in no group; ``None``: every row)."""
        self._group = group
        self._apply_filter()

    def filter_pattern(self) -> str:
        """The regular expression for the current filters ("" = all rows)."""
        return filter_pattern(self._text, self._statuses, self._group)

    def is_filtered(self) -> bool:
        return bool(self.filter_pattern())

    def _apply_filter(self) -> None:
        expression = QRegularExpression(
            self.filter_pattern(), QRegularExpression.PatternOption.DotMatchesEverythingOption
        )
        begin = getattr(self, "beginFilterChange", None)
        if begin is not None:  # Qt >= 6.10
            begin()
            self.setFilterRegularExpression(expression)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.setFilterRegularExpression(expression)

    def row_at(self, proxy_row: int) -> WatchRow | None:
        index = self.index(proxy_row, 0)
        row = index.data(ROW_ROLE)
        return row if isinstance(row, WatchRow) else None

    def shown_keys(self) -> list[tuple[str, int]]:
        """The keys of the rows the view shows, in view order (what export writes)."""
        source = self.sourceModel()
        if not isinstance(source, ResultsModel):
            return []
        return [
            source.row_at(self.mapToSource(self.index(r, 0)).row()).key
            for r in range(self.rowCount())
        ]
