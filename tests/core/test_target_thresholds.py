"""Per-target thresholds: CSV lists, the watchlist, ``watch add --threshold``.

A target's own ``threshold_days`` travels from the input (a CSV column, the
watchlist) through the engine to the result; targets without one use the run's
default.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from core import storage
from core.cli import main
from core.domains import MAX_THRESHOLD_DAYS, parse_text
from core.models import Target
from core.storage import Watchlist


def watch(db: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    stream = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    action, *rest = args
    code = main(
        ["watch", action, "--watchlist", str(db), *rest], stdout=out, stderr=err, stdin=stream
    )
    return code, out.getvalue(), err.getvalue()


def own_thresholds(db: Path) -> dict[str, int | None]:
    with Watchlist(db) as watchlist:
        return {target.host: target.threshold_days for target in watchlist.targets()}


# --------------------------------------------------------------------------- CSV


def test_a_csv_threshold_column_sets_each_targets_threshold() -> None:
    parsed = parse_text("domain,group,threshold_days\na.test,Acme,7\nb.test,,\nc.test,Acme,0\n")
    assert [(t.host, t.group, t.threshold_days) for t in parsed.targets] == [
        ("a.test", "Acme", 7),
        ("b.test", "", None),
        ("c.test", "Acme", 0),
    ]
    assert parsed.errors == []


@pytest.mark.parametrize("cell", ["-1", "seven", "2.5", str(MAX_THRESHOLD_DAYS + 1)])
def test_a_bad_threshold_cell_rejects_its_line_only(cell: str) -> None:
    parsed = parse_text(f"domain,threshold_days\na.test,{cell}\nb.test,3\n")
    assert [(t.host, t.threshold_days) for t in parsed.targets] == [("b.test", 3)]
    (error,) = parsed.errors
    assert error.line == 2
    assert "is not a number of days" in error.error


def test_the_threshold_is_not_part_of_a_targets_identity() -> None:
    assert Target("a.test", threshold_days=7) == Target("a.test")
    assert hash(Target("a.test", threshold_days=7)) == hash(Target("a.test"))


# --------------------------------------------------------------------------- storage


def test_the_watchlist_keeps_thresholds(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite3"
    with Watchlist(db) as watchlist:
        watchlist.add([Target("a.test", threshold_days=7), Target("b.test")])
        revision = watchlist.revision()
        assert watchlist.set_threshold([("b.test", 443)], 45) == 1
        assert watchlist.set_threshold([("b.test", 443)], 45) == 0  # unchanged
        assert watchlist.revision() == revision + 1
        # A plain list never clears a threshold; a CSV list with one sets it.
        watchlist.add([Target("a.test")])
        watchlist.add([Target("b.test", threshold_days=10)])
    assert own_thresholds(db) == {"a.test": 7, "b.test": 10}
    with Watchlist(db) as watchlist:
        watchlist.set_threshold([("a.test", 443)], None)
        (entry_a, entry_b) = watchlist.entries()
        assert (entry_a.target.threshold_days, entry_b.target.threshold_days) == (None, 10)
        taken = watchlist.take([("b.test", 443)])
        watchlist.restore(taken)
    assert own_thresholds(db) == {"a.test": None, "b.test": 10}


def test_a_version_3_watchlist_gains_the_column(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(db)
    connection.executescript(
        """
        CREATE TABLE targets (
            id INTEGER PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,
            display TEXT NOT NULL, added_at TEXT NOT NULL,
            group_name TEXT NOT NULL DEFAULT '', registration_expires TEXT,
            UNIQUE (host, port));
        INSERT INTO targets (host, port, display, added_at)
            VALUES ('old.test', 443, 'old.test', '2026-01-01T00:00:00+00:00');
        PRAGMA user_version=3;
        """
    )
    connection.close()
    with Watchlist(db) as watchlist:
        (version,) = watchlist._db.execute("PRAGMA user_version").fetchone()
        assert version == storage.SCHEMA_VERSION
        assert watchlist.targets() == [Target("old.test")]
        assert watchlist.targets()[0].threshold_days is None
        assert watchlist.set_threshold([("old.test", 443)], 14) == 1
    assert own_thresholds(db) == {"old.test": 14}


# --------------------------------------------------------------------------- CLI


def test_watch_add_threshold(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite3"
    code, out, err = watch(db, "add", "a.test", "b.test", "--threshold", "14")
    assert (code, err) == (0, "")
    assert "Threshold set to 14 days before expiry." in out
    assert own_thresholds(db) == {"a.test": 14, "b.test": 14}
    code, out, _ = watch(db, "add", "a.test", "--threshold", "")
    assert code == 0 and "Threshold back to the default." in out
    assert own_thresholds(db) == {"a.test": None, "b.test": 14}


def test_watch_import_reads_the_csv_column(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite3"
    code, _, err = watch(db, "import", "-", stdin="domain,threshold_days\na.test,5\nb.test,\n")
    assert (code, err) == (0, "")
    assert own_thresholds(db) == {"a.test": 5, "b.test": None}


@pytest.mark.parametrize("value", ["-3", "soon", "99999"])
def test_watch_add_refuses_a_bad_threshold(tmp_path: Path, value: str) -> None:
    db = tmp_path / "w.sqlite3"
    code, _, err = watch(db, "add", "a.test", "--threshold", value)
    assert code == 64
    assert f"--threshold {value!r} is not a number of days" in err
    assert "Traceback" not in err
    assert not db.exists()


def test_export_and_import_keep_thresholds(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite3"
    watch(db, "add", "a.test", "b.test", "--group", "Acme")
    _, out, _ = watch(db, "export")
    assert out == "domain,port,group\na.test,443,Acme\nb.test,443,Acme\n"  # as before
    watch(db, "add", "a.test", "--threshold", "9")
    _, out, _ = watch(db, "export")
    assert out == "domain,port,group,threshold_days\na.test,443,Acme,9\nb.test,443,Acme,\n"
    other = tmp_path / "other.sqlite3"
    assert watch(other, "import", "-", stdin=out)[0] == 0
    assert own_thresholds(other) == {"a.test": 9, "b.test": None}
