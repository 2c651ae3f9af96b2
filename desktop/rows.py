"""The rows of the results table, without Qt: what each column shows and sorts by.

Plain Python, so it runs on any thread and in the engine process (which imports no
Qt): the engine works out every result's texts and sort keys (``row_values``) before
it sends the result, and the GUI thread only stores them (see
``desktop.engine_process.CheckBatch``).

Column order follows what a person reads first: the status, the name, then what is
wrong (the widest column), then when the next thing expires and which group the
domain belongs to; the raw dates and names come last, for those who scroll.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from core.models import CheckResult, Status, Target, classify_days, expiry_phrase

# Columns.
COLUMN_STATUS = 0
COLUMN_DOMAIN = 1
COLUMN_PROBLEM = 2
COLUMN_NEXT_EXPIRY = 3
COLUMN_GROUP = 4
COLUMN_CERT_EXPIRES = 5
COLUMN_ISSUER = 6
COLUMN_REG_EXPIRES = 7
COLUMN_REGISTRAR = 8
COLUMN_COUNT = 9

HEADERS = (
    "Status",
    "Domain",
    "Problem",
    "Next expiry",
    "Group",
    "Certificate expires",
    "Issuer",
    "Registration expires",
    "Registrar",
)

NOT_CHECKED_LABEL = "Not checked"
#: What the Problem column says for a check that failed because the machine had no
#: network (``network_failed``), instead of the per-row "no such domain".
NO_NETWORK_TEXT = "not checked: no network"
#: The status part of ``WatchRow.filter_text`` for a row that was never checked.
UNCHECKED_CODE = "unchecked"
FILTER_SEPARATOR = "\x1f"

_MISSING_DAYS = 10**9
_MISSING_TEXT = "\U0010ffff"  # sorts after every real string
#: Sort keys that stand for "no value": ``ResultsModel`` puts them last in both
#: sort directions.
MISSING_SORT_KEYS: frozenset[object] = frozenset({_MISSING_DAYS, math.inf, _MISSING_TEXT})
_SECONDS_PER_DAY = 86_400


SortKey = float | int | str


class RowValues(NamedTuple):
    """Everything a row shows for one result, worked out once (see ``row_values``)."""

    status: Status | None
    days_left: int | None
    problem: str
    texts: tuple[str, ...]
    sort_keys: tuple[SortKey, ...]
    #: How the component named in "Next expiry" stands by its dates alone
    #: (colours that cell); ``None`` when the column is empty.
    expiry_status: Status | None = None


def network_failed(result: CheckResult) -> bool:
    """Whether the certificate check failed before reaching any server (lookup, route).

    Core marks the kind of each failure (``CertInfo.error_kind``); when the app finds
    a whole run failed this way (the machine is offline), these rows say
    ``NO_NETWORK_TEXT`` instead of "no such domain" each (``WatchRow.show_offline``).
    """
    tls = result.tls
    return (
        tls is not None
        and tls.error is not None
        and tls.error_kind is not None
        and tls.error_kind.network_level
    )


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
    expiry_status: Status | None = None
    #: The group the user put this target in ("" for none). The row's own: a result
    #: made before the user changed the group does not change it back.
    group: str = ""
    #: The check failed before reaching a server (see ``network_failed``).
    network_failed: bool = False
    _filter_text: str | None = None

    def __post_init__(self) -> None:
        self.key = self.target.key
        self.group = self.group or self.target.group
        self.set_result(self.result)

    def set_result(self, result: CheckResult | None, values: RowValues | None = None) -> None:
        """Show ``result``; ``values`` are its ``row_values`` if they were made already."""
        self.result = result
        self._filter_text = None
        self.network_failed = result is not None and network_failed(result)
        if values is not None:
            (
                self.status,
                self.days_left,
                self.problem,
                self.texts,
                self.sort_keys,
                self.expiry_status,
            ) = values
            if self.texts[COLUMN_GROUP] != self.group:
                self._show_group()
            return
        if result is None:  # thousands at once when a list is dropped: keep it cheap
            self.status, self.days_left, self.problem, self.expiry_status = None, None, "", None
            texts = [NOT_CHECKED_LABEL, domain_text(self.target), *_UNCHECKED_TEXTS]
            texts[COLUMN_GROUP] = self.group
            self.texts = tuple(texts)
            keys = list(_UNCHECKED_SORT_KEYS)
            keys[COLUMN_DOMAIN] = sort_value(self, COLUMN_DOMAIN)
            keys[COLUMN_GROUP] = _text_key(self.group)
            self.sort_keys = tuple(keys)
            return
        self.status, self.days_left = result.status, result.days_left
        self.problem = result.problem
        self.expiry_status = _next_expiry_status(result)
        self.texts = tuple(display_value(self, c) for c in range(COLUMN_COUNT))
        self.sort_keys = tuple(sort_value(self, c) for c in range(COLUMN_COUNT))

    def show_offline(self, offline: bool) -> None:
        """Say ``NO_NETWORK_TEXT`` in the Problem column (the machine was offline),
        or the result's own problem again."""
        text = NO_NETWORK_TEXT if offline and self.network_failed else self.problem
        if self.texts[COLUMN_PROBLEM] != text:
            texts, keys = list(self.texts), list(self.sort_keys)
            texts[COLUMN_PROBLEM], keys[COLUMN_PROBLEM] = text, _text_key(text)
            self.texts, self.sort_keys = tuple(texts), tuple(keys)

    def set_group(self, group: str) -> None:
        """Put the row in ``group`` ("" for none)."""
        self.group = group
        self._show_group()

    def _show_group(self) -> None:
        texts, keys = list(self.texts), list(self.sort_keys)
        texts[COLUMN_GROUP] = self.group
        keys[COLUMN_GROUP] = _text_key(self.group)
        self.texts, self.sort_keys = tuple(texts), tuple(keys)
        self._filter_text = None

    @property
    def values(self) -> RowValues:
        return RowValues(
            self.status,
            self.days_left,
            self.problem,
            self.texts,
            self.sort_keys,
            self.expiry_status,
        )

    def filter_text(self) -> str:
        """``"<status>\x1f<group>\x1f<haystack>"``, what ``ResultsProxy`` matches."""
        if self._filter_text is None:
            code = UNCHECKED_CODE if self.status is None else self.status.value
            group = self.group.replace(FILTER_SEPARATOR, " ")
            self._filter_text = (
                f"{code}{FILTER_SEPARATOR}{group}{FILTER_SEPARATOR}{self.haystack()}"
            )
        return self._filter_text

    def haystack(self) -> str:
        """Lower-case text the filter box searches."""
        target = self.target
        parts = [target.display, target.host, str(target.port), target.serves, self.group]
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
    """``CN=R11,O=Let's Encrypt,C=US`` -> ``Let's Encrypt``: the organisation.

    The organisation is what differs between rows; the intermediate's name (R11)
    is in the details and the tooltip. Without an O=, the common name.
    """
    if not dn:
        return ""
    fields: dict[str, str] = {}
    for key, value in _DN_PART.findall(dn):
        fields.setdefault(key.upper(), value.replace("\\", "").strip())
    return fields.get("O") or fields.get("CN") or dn


def format_date(moment: datetime | None) -> str:
    """Local calendar date, ISO style (unambiguous in every locale)."""
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d")


def format_days(days: int | None) -> str:
    return "" if days is None else f"{days:,}"


def when_phrase(expiry: datetime, now: datetime) -> str:
    """``in 12 days``, ``in 10 hours``, ``expired 3 days ago``: as people count.

    Core's wording (``expiry_phrase``): whole units counted down, hours under a day.
    """
    return expiry_phrase(expiry, now).removeprefix("expires ")


def next_expiry(result: CheckResult | None) -> tuple[str, datetime] | None:
    """What expires first, certificate or registration, and when.

    ``None`` when nothing is known, and for a failed certificate check: a row that
    could not reach its site shows no days (the registration's alone would read as
    if all were well until then).
    """
    if result is None or (result.tls is not None and result.tls.error is not None):
        return None
    registration = result.registration
    candidates = [
        ("certificate", result.tls_expiry),
        ("registration", registration.expires if registration is not None else None),
    ]
    known = [(when, what) for what, when in candidates if when is not None]
    if not known:
        return None
    when, what = min(known, key=lambda pair: pair[0])  # stable: certificate wins ties
    return what, when


def next_expiry_text(result: CheckResult | None) -> str:
    found = next_expiry(result)
    if found is None or result is None:
        return ""
    what, when = found
    return f"{what} {when_phrase(when, result.checked_at)}"


def _next_expiry_status(result: CheckResult) -> Status | None:
    found = next_expiry(result)
    if found is None:
        return None
    seconds = (found[1] - result.checked_at).total_seconds()
    return classify_days(math.floor(seconds / _SECONDS_PER_DAY), result.threshold_days)


def domain_text(target: Target) -> str:
    """``smtp://mx1.example.com``: the target as written, with its protocol unless it
    is direct TLS. Short, so the Domain column shows it whole; the mail domain an MX
    host serves is in ``domain_description`` (tooltip, details)."""
    return target.label


def mail_role(target: Target) -> str:
    """``mail server of example.com`` for an MX host found through ``mx:``, else ""."""
    return f"mail server of {target.serves}" if target.serves else ""


def domain_description(target: Target) -> str:
    """The Domain column's text in full, for its tooltip and the details:
    ``smtp://mx1.example.com (mail server of example.com)``, and the ASCII name of an
    IDN (``bücher.test (xn--bcher-kva.test)``)."""
    notes = [note for note in (mail_role(target), _ascii_name(target)) if note]
    text = domain_text(target)
    return f"{text} ({'; '.join(notes)})" if notes else text


def _ascii_name(target: Target) -> str:
    return target.host if target.host != target.display else ""


#: Next to a registration date the user typed (the registry publishes none).
MANUAL_DATE_NOTE = "entered by hand"


def registration_text(result: CheckResult) -> str:
    """The registration's expiry date; ``2027-01-31 (entered by hand)`` for a date
    the user typed."""
    registration = result.registration
    if registration is None or registration.expires is None:
        return ""
    text = format_date(registration.expires)
    return f"{text} ({MANUAL_DATE_NOTE})" if registration.method == "manual" else text


def status_text(row: WatchRow) -> str:
    return NOT_CHECKED_LABEL if row.status is None else row.status.label


def display_value(row: WatchRow, column: int) -> str:
    """What a column shows for a row (also used for copying rows as text)."""
    result = row.result
    if column == COLUMN_STATUS:
        return status_text(row)
    if column == COLUMN_DOMAIN:
        return domain_text(row.target)
    if column == COLUMN_GROUP:
        return row.group
    if result is None:
        return ""
    if column == COLUMN_CERT_EXPIRES:
        return format_date(result.tls_expiry)
    if column == COLUMN_NEXT_EXPIRY:
        return next_expiry_text(result)
    if column == COLUMN_ISSUER:
        return short_dn(result.tls.issuer if result.tls else None)
    if column == COLUMN_REG_EXPIRES:
        return registration_text(result)
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
    if column == COLUMN_NEXT_EXPIRY:
        found = next_expiry(result)
        return math.inf if found is None else found[1].timestamp()
    if column == COLUMN_CERT_EXPIRES:
        return _timestamp(result.tls_expiry if result else None)
    if column == COLUMN_REG_EXPIRES:
        return _timestamp(result.registration.expires if result and result.registration else None)
    return _text_key(display_value(row, column))


_UNCHECKED_TEXTS = ("",) * (COLUMN_COUNT - 2)
#: Sort keys of a row without a result (the domain's and the group's are filled in
#: per row): what ``sort_value`` gives such a row (a test holds the two together).
_UNCHECKED_SORT_KEYS: tuple[SortKey, ...] = (
    -1 * 1e10 - _MISSING_DAYS,  # status
    "",  # domain: per row
    _MISSING_TEXT,  # problem
    math.inf,  # next expiry
    _MISSING_TEXT,  # group: per row
    math.inf,  # certificate expires
    _MISSING_TEXT,  # issuer
    math.inf,  # registration expires
    _MISSING_TEXT,  # registrar
)
