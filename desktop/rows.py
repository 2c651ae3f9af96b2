"""The rows of the results table, without Qt: what each column shows and sorts by.

Plain Python, so it runs on any thread and in the engine process (which imports no
Qt): the engine works out every result's texts and sort keys (``row_values``) before
it sends the result, and the GUI thread only stores them (see
``desktop.engine_process.CheckBatch``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from core.models import CheckResult, Status, Target

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

NOT_CHECKED_LABEL = "Not checked"
#: The status part of ``WatchRow.filter_text`` for a row that was never checked.
UNCHECKED_CODE = "unchecked"
FILTER_SEPARATOR = "\x1f"

_MISSING_DAYS = 10**9
_MISSING_TEXT = "\U0010ffff"  # sorts after every real string


SortKey = float | int | str


class RowValues(NamedTuple):
    """Everything a row shows for one result, worked out once (see ``row_values``)."""

    status: Status | None
    days_left: int | None
    problem: str
    texts: tuple[str, ...]
    sort_keys: tuple[SortKey, ...]


@dataclasses.dataclass(slots=True)
class WatchRow:
    """One watched target and its latest result (``None`` until checked)."""

    target: Target
    result: CheckResult | None = None
    #: ``target.key``, a property that builds a new tuple on every read; the model
    #: looks it up for every row on each re-sort.
    key: tuple[str, int] = ("", 0)
    #: Display text and sort value of every column, computed once per result:
    #: a repaint or a re-sort then costs a tuple lookup, not the status arithmetic.
    texts: tuple[str, ...] = ()
    sort_keys: tuple[SortKey, ...] = ()
    #: ``result.status``, ``.days_left`` and ``.problem``, which ``CheckResult``
    #: recomputes from the dates on every access; read them here instead.
    status: Status | None = None
    days_left: int | None = None
    problem: str = ""
    _filter_text: str | None = None

    def __post_init__(self) -> None:
        self.key = self.target.key
        self.set_result(self.result)

    def set_result(self, result: CheckResult | None, values: RowValues | None = None) -> None:
        """Show ``result``; ``values`` are its ``row_values`` if they were made already."""
        self.result = result
        self._filter_text = None
        if values is not None:
            self.status, self.days_left, self.problem, self.texts, self.sort_keys = values
            return
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

    @property
    def values(self) -> RowValues:
        return RowValues(self.status, self.days_left, self.problem, self.texts, self.sort_keys)

    def filter_text(self) -> str:
        """``"<status>\x1f<haystack>"``, what ``ResultsProxy``'s pattern is matched against."""
        if self._filter_text is None:
            code = UNCHECKED_CODE if self.status is None else self.status.value
            self._filter_text = f"{code}{FILTER_SEPARATOR}{self.haystack()}"
        return self._filter_text

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


def row_values(result: CheckResult) -> RowValues:
    """What the row of ``result``'s target shows and sorts by; works on any thread."""
    return WatchRow(result.target, result).values


def unchecked_rows(targets: Iterable[Target]) -> list[WatchRow]:
    """New, never-checked rows for ``targets``; plain Python, safe on any thread.

    Making the rows for a dropped list of thousands of domains takes tens of
    milliseconds; the reading thread does it, and the GUI thread only inserts them.
    """
    return [WatchRow(target) for target in targets]


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


def sort_value(row: WatchRow, column: int) -> SortKey:
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
