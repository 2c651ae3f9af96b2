"""The watchlist: the user's domains and their last results, in a per-user SQLite file.

Why SQLite rather than a JSON file: every change is one atomic transaction, so a
kill, crash or power cut in the middle of saving leaves either the old or the new
state, never a truncated file. The database runs in WAL mode (readers never block the
writer, and a transaction is durable once its commit record is in the log).

Results are stored as the ``domaincheck check --format json`` result document
(:func:`core.report.result_to_dict`) plus the exact ``checked_at`` and threshold, so a
stored result loads back as the same :class:`~core.models.CheckResult`.

This module is plain stdlib + core: the desktop uses it from its GUI thread, and the
CLI or backend could use it too.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import TracebackType

from core import paths
from core.config import is_ip_literal
from core.models import CheckResult, Status, Target, utcnow
from core.report import result_from_dict, result_to_dict

DATABASE_NAME = "watchlist.sqlite3"
SCHEMA_VERSION = 1
_BUSY_TIMEOUT_SECONDS = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS targets (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    display TEXT NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (host, port)
);
CREATE TABLE IF NOT EXISTS results (
    target_id INTEGER PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
    checked_at TEXT NOT NULL,
    threshold_days INTEGER NOT NULL,
    status TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    day TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (host, port, status, fingerprint, day)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def default_path() -> Path:
    """``<user data dir>/watchlist.sqlite3`` (platformdirs; honours ``XDG_DATA_HOME``)."""
    return paths.data_dir() / DATABASE_NAME


@dataclasses.dataclass(frozen=True, slots=True)
class WatchEntry:
    """One watched target and its last result (``None`` until it is first checked)."""

    target: Target
    added_at: datetime
    result: CheckResult | None


class StorageError(Exception):
    """The watchlist database cannot be opened (corrupt file, unwritable folder)."""


class Watchlist:
    """The watchlist database. Not thread-safe: use it from one thread.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = default_path() if path is None else path
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the watchlist {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is crash-safe in WAL mode (an app kill never loses a commit).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self._db.close()
            raise StorageError(f"cannot open the watchlist {self.path}: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Watchlist:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything in the block is committed, or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- targets -----------------------------------------------------------------

    def add(self, targets: Iterable[Target], *, now: datetime | None = None) -> list[Target]:
        """Add targets (keeping order); returns the ones that were not watched yet.

        One ``executemany`` rather than a statement per target: a dropped list of
        thousands is one loop in C, not thousands of trips through Python (which, on
        the desktop's writer thread, would each take the GIL from the window).
        """
        added_at = (now or utcnow()).isoformat()
        with self._transaction() as db:
            known = set(db.execute("SELECT host, port FROM targets"))
            added: list[Target] = []
            for target in targets:
                if target.key not in known:
                    known.add(target.key)
                    added.append(target)
            db.executemany(
                "INSERT OR IGNORE INTO targets (host, port, display, added_at) VALUES (?, ?, ?, ?)",
                [(t.host, t.port, t.display, added_at) for t in added],
            )
        return added

    def remove(self, keys: Iterable[tuple[str, int]]) -> int:
        """Stop watching ``(host, port)`` keys; returns how many were removed."""
        removed = 0
        with self._transaction() as db:
            for host, port in keys:
                removed += db.execute(
                    "DELETE FROM targets WHERE host = ? AND port = ?", (host, port)
                ).rowcount
        return removed

    def targets(self) -> list[Target]:
        rows = self._db.execute("SELECT host, port, display FROM targets ORDER BY id")
        return [_target(host, port, display) for host, port, display in rows]

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM targets").fetchone()
        return int(count)

    def entries(self) -> list[WatchEntry]:
        """Every watched target with its last result, in the order they were added."""
        rows = self._db.execute(
            "SELECT t.host, t.port, t.display, t.added_at,"
            " r.checked_at, r.threshold_days, r.document"
            " FROM targets t LEFT JOIN results r ON r.target_id = t.id ORDER BY t.id"
        )
        entries = []
        for host, port, display, added_at, checked_at, threshold, document in rows:
            target = _target(host, port, display)
            result = None
            if document is not None:
                result = _load_result(document, checked_at, threshold, target)
            entries.append(WatchEntry(target, datetime.fromisoformat(added_at), result))
        return entries

    # -- results -----------------------------------------------------------------

    def save_results(
        self,
        results: Iterable[CheckResult],
        documents: Sequence[str | None] | None = None,
    ) -> None:
        """Store the latest result of each target (adding targets not watched yet).

        ``documents`` may hold each result's ``result_document``, made earlier
        elsewhere (the desktop's engine process makes them, so the GUI's process
        does not spend its time encoding JSON); ``None`` entries are made here.
        """
        results = list(results)
        if documents is None:
            documents = [None] * len(results)
        elif len(documents) != len(results):
            raise ValueError("one document per result, or none at all")
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO targets (host, port, display, added_at) VALUES (?, ?, ?, ?)",
                [
                    (r.target.host, r.target.port, r.target.display, r.checked_at.isoformat())
                    for r in results
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO results"
                " (target_id, checked_at, threshold_days, status, document)"
                " SELECT id, ?, ?, ?, ? FROM targets WHERE host = ? AND port = ?",
                [
                    (
                        result.checked_at.isoformat(),
                        result.threshold_days,
                        result.status.value,
                        result_document(result) if document is None else document,
                        result.target.host,
                        result.target.port,
                    )
                    for result, document in zip(results, documents, strict=True)
                ],
            )

    def last_result(self, key: tuple[str, int]) -> CheckResult | None:
        row = self._db.execute(
            "SELECT t.display, r.checked_at, r.threshold_days, r.document"
            " FROM targets t JOIN results r ON r.target_id = t.id"
            " WHERE t.host = ? AND t.port = ?",
            key,
        ).fetchone()
        if row is None:
            return None
        display, checked_at, threshold, document = row
        return _load_result(document, checked_at, threshold, _target(*key, display))

    # -- notifications (at most once per domain, status, fingerprint and day) -----

    def was_notified(
        self, key: tuple[str, int], status: Status, fingerprint: str | None, day: date
    ) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM notifications WHERE host = ? AND port = ? AND status = ?"
            " AND fingerprint = ? AND day = ?",
            (*key, status.value, fingerprint or "", day.isoformat()),
        ).fetchone()
        return row is not None

    def record_notification(
        self, key: tuple[str, int], status: Status, fingerprint: str | None, at: datetime
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO notifications"
                " (host, port, status, fingerprint, day, notified_at) VALUES (?, ?, ?, ?, ?, ?)",
                (*key, status.value, fingerprint or "", at.date().isoformat(), at.isoformat()),
            )

    def record_new_notifications(
        self,
        items: Iterable[tuple[tuple[str, int], Status, str | None]],
        at: datetime,
    ) -> list[tuple[tuple[str, int], Status, str | None]]:
        """Log ``(key, status, fingerprint)`` items not yet notified on ``at``'s day.

        One transaction for the whole batch; returns the items that were new (the
        ones to notify about).
        """
        day = at.date().isoformat()
        fresh = []
        with self._transaction() as db:
            for key, status, fingerprint in items:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO notifications"
                    " (host, port, status, fingerprint, day, notified_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (*key, status.value, fingerprint or "", day, at.isoformat()),
                )
                if cursor.rowcount:
                    fresh.append((key, status, fingerprint))
        return fresh

    # -- small key/value state (last run, pauses, one-time hints) -----------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        with self._transaction() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_time(self, key: str) -> datetime | None:
        value = self.get_meta(key)
        return None if value is None else datetime.fromisoformat(value)

    def set_time(self, key: str, moment: datetime | None) -> None:
        self.set_meta(key, None if moment is None else moment.isoformat())


def result_document(result: CheckResult) -> str:
    """How the watchlist stores a result: its report dictionary as compact JSON."""
    return json.dumps(result_to_dict(result), separators=(",", ":"))


def _target(host: str, port: int, display: str) -> Target:
    return Target(host=host, port=int(port), display=display, is_ip=is_ip_literal(host))


def _load_result(document: str, checked_at: str, threshold: int, target: Target) -> CheckResult:
    result = result_from_dict(
        json.loads(document),
        checked_at=datetime.fromisoformat(checked_at),
        threshold_days=int(threshold),
    )
    return dataclasses.replace(result, target=target)
