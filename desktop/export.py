"""What File → Export writes: the rows the view shows, with their groups.

Plain Python (no Qt), so it runs on the export's own thread. The JSON is the
``domaincheck check --format json`` document, each result with the ``group`` its
row belongs to. The CSV has the ``check --format csv`` columns with ``group`` after
the port (the order of ``domaincheck watch list --format csv``), and a row for every
shown target, checked or not: opened again (File → Open, ``watch import``,
``check -f``), it gives back the same targets in the same groups.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, TextIO

from core.domains import CSV_GROUP_HEADER
from core.models import CheckResult, InputError, Target
from core.report import CSV_FIELDS, report_document
from core.watchlist_io import target_csv_cells

#: The CSV's columns: the check CSV's, with the group after the port.
EXPORT_CSV_FIELDS = (*CSV_FIELDS[:3], CSV_GROUP_HEADER, *CSV_FIELDS[3:])


class ExportRow(NamedTuple):
    """One shown row: its target, its group ("" for none), its result if checked."""

    target: Target
    group: str
    result: CheckResult | None


def write_json(
    rows: Sequence[ExportRow],
    stream: TextIO,
    *,
    input_errors: Sequence[InputError],
    threshold_days: int,
    checked_at: datetime,
) -> int:
    """The check document of the checked rows, each with its group; returns how many."""
    checked = [row for row in rows if row.result is not None]
    document = report_document(
        [row.result for row in checked if row.result is not None],
        input_errors,
        threshold_days,
        checked_at,
    )
    for entry, row in zip(document["results"], checked, strict=True):
        entry[CSV_GROUP_HEADER] = row.group
    json.dump(document, stream, indent=2, ensure_ascii=False)
    stream.write("\n")
    return len(checked)


def write_csv(rows: Sequence[ExportRow], stream: TextIO) -> int:
    """Header plus one row per shown target (result cells empty before its first
    check); returns how many rows."""
    writer = csv.DictWriter(stream, fieldnames=EXPORT_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(target_csv_cells(row.target, row.group, row.result))
    return len(rows)
