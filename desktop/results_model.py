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
import functools
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor, QGuiApplication

from core.models import CheckResult, Status, Target, summarize
from desktop import icons

ModelIndex = QModelIndex | QPersistentModelIndex

# Columns.
COLUMN_STATUS = 0
COLUMN_DOMAIN = 1
COLUMN_CERT_EXPIRES = 2
COLUMN_DAYS_LEFT = 3
COLUMN_ISSUER = 4
COLUMN_REG_EXPIRES = 5
COLUMN_REGISTRAR = 6
COLUMN_PROBLEM = 7
COLUMN_COUNT = 8

HEADERS = (
    "Status",
    "Domain",
    "Certificate expires",
    "Days left",
    "Issuer",
    "Registration expires",
    "Registrar",
    "Problem",
)

#: Raw value used for sorting (numbers, timestamps, case-folded text).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: The whole ``WatchRow`` of this index.
ROW_ROLE = Qt.ItemDataRole.UserRole + 2

NOT_CHECKED_LABEL = "Not checked"

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
    }
)
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_MISSING_DAYS = 10**9
_MISSING_TEXT = "\U0010ffff"  # sorts after every real string


@dataclasses.dataclass(slots=True)
class WatchRow:
    """One watched target and its latest result (``None`` until checked)."""

    target: Target
    result: CheckResult | None = None
    #: Display text and sort value of every column, computed once per result:
    #: a repaint or a re-sort then costs a tuple lookup, not the status arithmetic.
    texts: tuple[str, ...] = ()
    sort_keys: tuple[float | int | str, ...] = ()
    #: ``result.status``, ``.days_left`` and ``.problem``, which ``CheckResult``
    #: recomputes from the dates on every access; read them here instead.
    status: Status | None = None
    days_left: int | None = None
    problem: str = ""

    def __post_init__(self) -> None:
        self.set_result(self.result)

    def set_result(self, result: CheckResult | None) -> None:
        self.result = result
        if result is None:  # thousands at once when a list is dropped: keep it cheap
            self.status, self.days_left, self.problem = None, None, ""
            domain = self.target.label
            self.texts = (NOT_CHECKED_LABEL, domain, *_UNCHECKED_TEXTS)
            self.sort_keys = (
                _UNCHECKED_SORT_KEYS[0],
                sort_value(self, COLUMN_DOMAIN),
                *_UNCHECKED_SORT_KEYS[1:],
            )
            return
        self.status, self.days_left, self.problem = (
            result.status,
            result.days_left,
            result.problem,
        )
        self.texts = tuple(display_value(self, c) for c in range(COLUMN_COUNT))
        self.sort_keys = tuple(sort_value(self, c) for c in range(COLUMN_COUNT))

    def haystack(self) -> str:
        """Lower-case text the filter box searches."""
        parts = [self.target.display, self.target.host, str(self.target.port)]
        if self.result is not None:
            result = self.result
            parts += [status_text(self), self.problem]
            if result.tls is not None:
                parts += [result.tls.issuer or "", result.tls.subject or ""]
            if result.registration is not None:
                parts.append(result.registration.registrar or "")
        else:
            parts.append(NOT_CHECKED_LABEL)
        return "\n".join(parts).casefold()


_DN_PART = re.compile(r"(?:^|,)\s*([A-Za-z.0-9]+)=((?:\\.|[^,])*)")


@functools.lru_cache(maxsize=512)  # a few issuers sign most certificates
def short_dn(dn: str | None) -> str:
    """``CN=R11,O=Let's Encrypt,C=US`` -> ``Let's Encrypt (R11)``; readable for people."""
    if not dn:
        return ""
    fields: dict[str, str] = {}
    for key, value in _DN_PART.findall(dn):
        fields.setdefault(key.upper(), value.replace("\\", "").strip())
    organisation, common = fields.get("O"), fields.get("CN")
    if organisation and common and common != organisation:
        return f"{organisation} ({common})"
    return organisation or common or dn


def format_date(moment: datetime | None) -> str:
    """Local calendar date, ISO style (unambiguous in every locale)."""
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d")


def format_days(days: int | None) -> str:
    return "" if days is None else f"{days:,}"


def status_text(row: WatchRow) -> str:
    return NOT_CHECKED_LABEL if row.status is None else row.status.label


def display_value(row: WatchRow, column: int) -> str:
    """What a column shows for a row (also used for copying rows as text)."""
    result = row.result
    if column == COLUMN_STATUS:
        return status_text(row)
    if column == COLUMN_DOMAIN:
        return row.target.label
    if result is None:
        return ""
    if column == COLUMN_CERT_EXPIRES:
        return format_date(result.tls_expiry)
    if column == COLUMN_DAYS_LEFT:
        return format_days(row.days_left)
    if column == COLUMN_ISSUER:
        return short_dn(result.tls.issuer if result.tls else None)
    if column == COLUMN_REG_EXPIRES:
        return format_date(result.registration.expires if result.registration else None)
    if column == COLUMN_REGISTRAR:
        return (result.registration.registrar or "") if result.registration else ""
    if column == COLUMN_PROBLEM:
        return row.problem
    return ""


def _timestamp(moment: datetime | None) -> float:
    return math.inf if moment is None else moment.timestamp()


def _text_key(text: str) -> str:
    return text.casefold() if text else _MISSING_TEXT


def sort_value(row: WatchRow, column: int) -> float | int | str:
    """The raw, comparable value of a cell; one Python type per column."""
    result = row.result
    if column == COLUMN_STATUS:
        # Worst status first when descending; within a status, the most urgent first.
        severity = -1 if row.status is None else row.status.severity
        days = _MISSING_DAYS if row.days_left is None else row.days_left
        return severity * 1e10 - max(min(days, _MISSING_DAYS), -_MISSING_DAYS)
    if column == COLUMN_DOMAIN:
        return f"{row.target.display.casefold()}\0{row.target.port:05d}"
    if column == COLUMN_DAYS_LEFT:
        return _MISSING_DAYS if row.days_left is None else row.days_left
    if column == COLUMN_CERT_EXPIRES:
        return _timestamp(result.tls_expiry if result else None)
    if column == COLUMN_REG_EXPIRES:
        return _timestamp(result.registration.expires if result and result.registration else None)
    return _text_key(display_value(row, column))


_UNCHECKED_TEXTS = ("",) * (COLUMN_COUNT - 2)
#: Sort keys of a row without a result, except the domain's (columns 0, 2, 3, ...):
#: what ``sort_value`` gives such a row (a test holds the two together).
_UNCHECKED_SORT_KEYS = (
    -1 * 1e10 - _MISSING_DAYS,
    math.inf,
    _MISSING_DAYS,
    _MISSING_TEXT,
    math.inf,
    _MISSING_TEXT,
    _MISSING_TEXT,
)


#: While results stream in, re-sort at most this often: every re-sort is a layout
#: change (the whole table is laid out and painted again, and rows move under the
#: pointer), where a batch that only fills in rows repaints just those rows.
RESORT_INTERVAL_MS = 1000


class ResultsModel(QAbstractTableModel):
    """Watched targets and their results, in watchlist order."""

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
        ordered = sorted(
            self._rows,
            key=lambda row: row.sort_keys[column],
            reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
        )
        if all(a is b for a, b in zip(ordered, self._rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = self._rows
        persistent = self.persistentIndexList()
        self._rows = ordered
        self._reindex()
        self.changePersistentIndexList(
            persistent,
            [self.index(self._index[old_rows[i.row()].target.key], i.column()) for i in persistent],
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
            if role == Qt.ItemDataRole.TextAlignmentRole and section == COLUMN_DAYS_LEFT:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
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
            if column == COLUMN_STATUS or (
                column == COLUMN_DAYS_LEFT and row.status not in (None, Status.VALID)
            ):
                return self._colour(row.status)
            return None
        if role == _ALIGNMENT_ROLE:
            return _RIGHT_ALIGNED if column == COLUMN_DAYS_LEFT else None
        if role == _SORT_ROLE:
            return row.sort_keys[column]
        if role == _ROW_ROLE:
            return row
        if role == _TOOLTIP_ROLE and row.result is not None:
            if column in (COLUMN_STATUS, COLUMN_PROBLEM) and row.problem:
                return row.problem
            if column == COLUMN_ISSUER and row.result.tls is not None:
                return row.result.tls.issuer
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

    def add_targets(self, targets: Iterable[Target]) -> int:
        """Append not-yet-listed targets as unchecked rows; returns how many were new."""
        new = self._new_rows(WatchRow(target) for target in targets)
        self._append(new)
        self._resort()
        return len(new)

    def apply_results(self, results: Iterable[CheckResult]) -> None:
        """Update existing rows and append new ones, with one signal of each kind.

        Results arrive in completion order, so updated rows are scattered; one
        ``dataChanged`` over the span from the first to the last of them costs the
        proxy one re-sort instead of one per row.
        """
        changed: list[int] = []
        fresh: list[WatchRow] = []
        for result in results:
            position = self._index.get(result.target.key)
            if position is None:
                fresh.append(WatchRow(result.target, result))
            else:
                row = self._rows[position]
                self._status_counts[row.status] -= 1
                row.set_result(result)
                self._status_counts[row.status] += 1
                changed.append(position)
        if changed:
            self.dataChanged.emit(
                self.index(min(changed), 0), self.index(max(changed), COLUMN_COUNT - 1)
            )
        self._append(self._new_rows(fresh))
        self._request_resort()

    def remove_keys(self, keys: Iterable[tuple[str, int]]) -> None:
        positions = sorted({p for k in keys if (p := self._index.get(k)) is not None})
        for first, last in reversed(_spans(positions)):
            self.beginRemoveRows(QModelIndex(), first, last)
            self._status_counts.subtract(row.status for row in self._rows[first : last + 1])
            del self._rows[first : last + 1]
            self.endRemoveRows()
        self._reindex()

    def set_threshold(self, threshold_days: int) -> None:
        """Re-classify every known result against a new threshold (no new check needed)."""
        for row in self._rows:
            if row.result is not None and row.result.threshold_days != threshold_days:
                row.set_result(dataclasses.replace(row.result, threshold_days=threshold_days))
        self._recount()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, COLUMN_COUNT - 1)
            )
            self._resort()

    def _new_rows(self, rows: Iterable[WatchRow]) -> list[WatchRow]:
        seen: set[tuple[str, int]] = set()
        new = []
        for row in rows:
            key = row.target.key
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
            self._index[row.target.key] = first + offset
        self._rows.extend(rows)
        self._status_counts.update(row.status for row in rows)
        self.endInsertRows()

    def _reindex(self) -> None:
        self._index = {row.target.key: position for position, row in enumerate(self._rows)}

    def _recount(self) -> None:
        self._status_counts = collections.Counter(row.status for row in self._rows)


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
    """Sorts by raw values and filters by text and status."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._text = ""
        #: ``None`` = every status; otherwise the statuses to show (``None`` in the
        #: set stands for "not checked yet").
        self._statuses: frozenset[Status | None] | None = None

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
        self._change_filter(lambda: setattr(self, "_text", text.strip().casefold()))

    def set_statuses(self, statuses: Iterable[Status | None] | None) -> None:
        value = None if statuses is None else frozenset(statuses)
        self._change_filter(lambda: setattr(self, "_statuses", value))

    def _change_filter(self, change: object) -> None:
        begin = getattr(self, "beginFilterChange", None)
        if begin is not None:  # Qt >= 6.10
            begin()
            change()  # type: ignore[operator]
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            change()  # type: ignore[operator]
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if self._statuses is None and not self._text:
            return True
        model = self.sourceModel()
        if not isinstance(model, ResultsModel):
            return True
        row = model.row_at(source_row)
        if self._statuses is not None and row.status not in self._statuses:
            return False
        return not self._text or self._text in row.haystack()

    def row_at(self, proxy_row: int) -> WatchRow | None:
        index = self.index(proxy_row, 0)
        row = index.data(ROW_ROLE)
        return row if isinstance(row, WatchRow) else None
