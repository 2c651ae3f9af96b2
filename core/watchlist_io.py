"""The watchlist as documents: ``domaincheck watch list`` (JSON, CSV) and the export CSV.

Each listed entry's ``result`` is exactly one result of ``domaincheck check --format
json`` (:func:`core.report.result_to_dict`), or ``null`` before the target's first
check, so one parser reads both. Around it the entry says what only the watchlist
knows: the target's ``group``, when it was ``added_at``, and when its result was
``checked_at`` (with the ``threshold_days`` it was classified with)::

    {"targets": [{"domain": "example.com", "display": "example.com", "port": 443,
                  "group": "Acme", "added_at": "2026-03-01T12:30:15Z",
                  "checked_at": "2026-03-02T08:00:00Z", "threshold_days": 30,
                  "result": {...}}]}

The export is the smallest list that reads back the same: ``domain,port,group``, a
header :func:`core.domains.read_file` (so ``watch import``, ``check -f`` and the
desktop's CSV reader) understands, plus a ``threshold_days`` column when a target
has a threshold of its own. Plain stdlib + core, so the desktop's export can
use it too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from core.domains import CSV_GROUP_HEADER, CSV_PORT_HEADER, CSV_THRESHOLD_HEADER
from core.models import CheckResult, Target
from core.report import CSV_FIELDS, csv_row, iso, result_to_dict
from core.storage import WatchEntry

#: The export's columns.
EXPORT_FIELDS = ("domain", CSV_PORT_HEADER, CSV_GROUP_HEADER)
#: ``watch list --format csv``: the ``check --format csv`` columns, with the group and
#: the date added after the port (result cells are empty before the first check).
LIST_CSV_FIELDS = (*CSV_FIELDS[:3], "group", "added_at", *CSV_FIELDS[3:])


def entry_to_dict(entry: WatchEntry) -> dict[str, Any]:
    """One entry of the ``watch list --format json`` document."""
    result = entry.result
    return {
        "domain": entry.target.host,
        "display": entry.target.display,
        "port": entry.target.port,
        "protocol": entry.target.protocol,
        "serves": entry.target.serves,
        "group": entry.group,
        "added_at": iso(entry.added_at),
        "checked_at": None if result is None else iso(result.checked_at),
        "threshold_days": None if result is None else result.threshold_days,
        "result": None if result is None else result_to_dict(result),
    }


def list_document(entries: Iterable[WatchEntry]) -> dict[str, Any]:
    """The whole ``watch list --format json`` document."""
    return {"targets": [entry_to_dict(entry) for entry in entries]}


def target_csv_cells(target: Target, group: str, result: CheckResult | None) -> dict[str, str]:
    """A watched target as a row of the ``check --format csv`` columns plus ``group``.

    The result's cells (empty before the first check), then what the watchlist
    knows of the target itself, so that reading the file back as a list
    (:func:`core.domains.read_file`) gives the same target: its protocol (a service
    stays a service), the mail domain it serves, its group, and its *own* threshold
    (empty when it follows the default, rather than the threshold a result was
    classified with, which would pin the default on every target read back).
    """
    cells = csv_row(result) if result is not None else {}
    cells.update(
        domain=target.host,
        display=target.display,
        port=str(target.port),
        group=group,
        protocol=target.protocol,
        serves=target.serves,
        threshold_days="" if target.threshold_days is None else str(target.threshold_days),
    )
    return cells


def write_list_csv(entries: Iterable[WatchEntry], stream: TextIO) -> None:
    """Header plus one row per watched target (RFC 4180 quoting)."""
    writer = csv.DictWriter(stream, fieldnames=LIST_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        row = target_csv_cells(entry.target, entry.group, entry.result)
        row["added_at"] = iso(entry.added_at) or ""
        writer.writerow(row)


def write_export_csv(targets: Iterable[Target], stream: TextIO) -> int:
    """``domain,port,group``, one row per target; returns how many rows.

    The domain is written as people read it (Unicode for IDNs); reading it back
    gives the same target. When any target has its own threshold, a
    ``threshold_days`` column follows (empty for the others).
    """
    targets = list(targets)
    with_threshold = any(target.threshold_days is not None for target in targets)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow((*EXPORT_FIELDS, CSV_THRESHOLD_HEADER) if with_threshold else EXPORT_FIELDS)
    for target in targets:
        # A service keeps its scheme (``smtp://mx1.example.com``) so that reading the
        # list back gives the same check; direct TLS is the plain name, as always.
        name = target.display if target.key[0] == target.host else target.label
        row: tuple[object, ...] = (name, target.port, target.group)
        if with_threshold:
            days = target.threshold_days
            row = (*row, "" if days is None else days)
        writer.writerow(row)
    return len(targets)
