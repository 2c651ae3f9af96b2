"""The watchlist: the user's domains and their last results, in a per-user SQLite file.

Why SQLite rather than a JSON file: every change is one atomic transaction, so a
kill, crash or power cut in the middle of saving leaves either the old or the new
state, never a truncated file. The database runs in WAL mode (readers never block the
writer, and a transaction is durable once its commit record is in the log).

Results are stored as the ``domaincheck check --format json`` result document
(:func:`core.report.result_to_dict`) plus the exact ``checked_at`` and threshold, so a
stored result loads back as the same :class:`~core.models.CheckResult`.

Removal sticks: results are only ever stored for targets that are still watched
(:meth:`Watchlist.save_results` never re-creates a row), so a check that was running
when its target was removed stores nothing for it. :meth:`Watchlist.take` removes
and hands back everything :meth:`Watchlist.restore` needs to undo that exactly.

Several processes share the file (the desktop app, ``domaincheck watch`` in a
script): every change to the watched set or the groups bumps a counter in the same
transaction, and :meth:`Watchlist.revision` reads it, so a running app notices
another process's edits by polling one cheap query.

The database holds the user's domains, so it is private: the file (and SQLite's
``-wal``/``-shm`` files next to it) is 0600 and the folder made for it 0700, and an
existing file readable by others is tightened when it is opened (POSIX only).

This module is plain stdlib + core: the desktop uses it from its GUI thread, and the
CLI or backend could use it too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType

from core import paths
from core._files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from core.config import is_ip_literal
from core.models import CheckResult, Status, Target, split_key_host, utcnow
from core.report import result_from_dict, result_to_dict

log = logging.getLogger(__name__)

DATABASE_NAME = "watchlist.sqlite3"
#: Names another watchlist file (the app and ``domaincheck watch`` both honour it).
WATCHLIST_ENV = "DOMAINCHECK_WATCHLIST"
#: 2: ``targets.group_name`` and the ``revision`` counter (added to older files on open).
#: 3: ``targets.registration_expires``, a registration expiry entered by hand.
#: 4: ``targets.threshold_days``, the target's own threshold (NULL = the default).
#: 5: ``targets.serves``, the mail domain an MX host was added for ("" = none).
SCHEMA_VERSION = 5
_BUSY_TIMEOUT_SECONDS = 5.0
#: SQLite's companions of the database file in WAL mode.
_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS targets (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    display TEXT NOT NULL,
    added_at TEXT NOT NULL,
    group_name TEXT NOT NULL DEFAULT '',
    registration_expires TEXT,
    threshold_days INTEGER,
    serves TEXT NOT NULL DEFAULT '',
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
CREATE TABLE IF NOT EXISTS revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
"""
_BUMP_REVISION = (
    "INSERT INTO revision (id, value) VALUES (1, 1)"
    " ON CONFLICT (id) DO UPDATE SET value = value + 1"
)
_MEMORY = ":memory:"


def default_path() -> Path:
    """``$DOMAINCHECK_WATCHLIST``, else ``<user data dir>/watchlist.sqlite3``.

    The data folder comes from platformdirs (it honours ``XDG_DATA_HOME``).
    """
    named = os.environ.get(WATCHLIST_ENV)
    if named:
        return Path(named).expanduser()
    return paths.data_dir() / DATABASE_NAME


@dataclasses.dataclass(frozen=True, slots=True)
class WatchEntry:
    """One watched target and its last result (``None`` until it is first checked)."""

    target: Target
    added_at: datetime
    result: CheckResult | None
    #: The target's group ("" = none); the same as ``target.group``.
    group: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class RemovedEntry:
    """A target :meth:`Watchlist.take` removed: all :meth:`Watchlist.restore` needs.

    The stored result is kept as stored (document, check time and threshold), so a
    restore puts back exactly what was there. Notification records are not part of
    it: removing a target never deletes them (so an undo does not notify again).
    """

    #: The target, with its group.
    target: Target
    added_at: datetime
    #: The row's place in the watchlist's order (reused on restore when still free).
    position: int
    checked_at: datetime | None = None
    threshold_days: int | None = None
    status: str | None = None
    document: str | None = None
    #: The registration expiry typed by hand, as stored (ISO 8601), or ``None``.
    registration_expires: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.target.key

    @property
    def group(self) -> str:
        return self.target.group

    @property
    def result(self) -> CheckResult | None:
        """The last stored result, loaded (``None`` when it was never checked)."""
        if self.document is None or self.checked_at is None or self.threshold_days is None:
            return None
        return _load_result(
            self.document, self.checked_at.isoformat(), self.threshold_days, self.target
        )


class StorageError(Exception):
    """The watchlist database cannot be opened (corrupt file, unwritable folder)."""


class Watchlist:
    """The watchlist database. Not thread-safe: use it from one thread.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = default_path() if path is None else path
        in_memory = str(self.path) == _MEMORY
        try:
            if not in_memory:
                _prepare_private_file(self.path)
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
                _migrate(self._db)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self._db.close()
            raise StorageError(f"cannot open the watchlist {self.path}: {exc}") from exc
        if not in_memory:
            _tighten_companions(self.path)

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

    def add(
        self,
        targets: Iterable[Target],
        *,
        group: str | None = None,
        now: datetime | None = None,
    ) -> list[Target]:
        """Add targets (keeping order); returns the ones that were not watched yet.

        Each new target joins ``group`` when it is given, else its own
        ``Target.group`` (from a CSV list's ``group`` column). Targets that are
        watched already are not added again, but their group changes to ``group``
        when it is given (``""`` takes them out of their group), or to their own
        non-empty ``Target.group``: importing a CSV with groups regroups what is
        watched already, while a plain list never clears a group. A target's own
        ``threshold_days`` (a CSV list's column) is stored likewise; ``None`` never
        clears one.

        One ``executemany`` rather than a statement per target: a dropped list of
        thousands is one loop in C, not thousands of trips through Python (which, on
        the desktop's writer thread, would each take the GIL from the window).
        """
        added_at = (now or utcnow()).isoformat()
        explicit = None if group is None else _clean_group(group)
        with self._transaction() as db:
            known: dict[tuple[str, int], str] = {}
            thresholds: dict[tuple[str, int], int | None] = {}
            for host, port, name, days in db.execute(
                "SELECT host, port, group_name, threshold_days FROM targets"
            ):
                known[host, port] = name
                thresholds[host, port] = days
            seen: set[tuple[str, int]] = set()
            added: list[Target] = []
            regroup: list[tuple[str, str, int]] = []
            rethreshold: list[tuple[int, str, int]] = []
            for target in targets:
                key = target.key
                if key in seen:
                    continue
                seen.add(key)
                wanted = _clean_group(target.group) if explicit is None else explicit
                if key not in known:
                    added.append(target if target.group == wanted else _with_group(target, wanted))
                else:
                    if (explicit is not None or wanted) and known[key] != wanted:
                        regroup.append((wanted, *key))
                    days = target.threshold_days
                    if days is not None and thresholds[key] != days:
                        rethreshold.append((days, *key))
            db.executemany(
                "INSERT OR IGNORE INTO targets"
                " (host, port, display, added_at, group_name, threshold_days, serves)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                # host holds the key's first element: "smtp://mx.example.com" for
                # protocols other than direct TLS (Target.key), so (host, port) stays
                # the unique identity and keys work in every WHERE below.
                [
                    (t.key[0], t.port, t.display, added_at, t.group, t.threshold_days, t.serves)
                    for t in added
                ],
            )
            db.executemany("UPDATE targets SET group_name = ? WHERE host = ? AND port = ?", regroup)
            db.executemany(
                "UPDATE targets SET threshold_days = ? WHERE host = ? AND port = ?", rethreshold
            )
            if added or regroup or rethreshold:
                db.execute(_BUMP_REVISION)
        return added

    def remove(self, keys: Iterable[tuple[str, int]]) -> int:
        """Stop watching ``(host, port)`` keys (results go too); returns how many."""
        removed = 0
        with self._transaction() as db:
            for host, port in keys:
                removed += db.execute(
                    "DELETE FROM targets WHERE host = ? AND port = ?", (host, port)
                ).rowcount
            if removed:
                db.execute(_BUMP_REVISION)
        return removed

    def take(self, keys: Iterable[tuple[str, int]]) -> list[RemovedEntry]:
        """Like :meth:`remove`, but returns what was removed, in watchlist order.

        Hand the list to :meth:`restore` to undo the removal exactly (group, date
        added, place in the order and last result). Keys not watched are ignored.
        """
        wanted = set(keys)
        taken: list[RemovedEntry] = []
        with self._transaction() as db:
            rows = db.execute(
                "SELECT t.id, t.host, t.port, t.display, t.added_at, t.group_name,"
                " r.checked_at, r.threshold_days, r.status, r.document, t.threshold_days,"
                " t.registration_expires, t.serves"
                " FROM targets t LEFT JOIN results r ON r.target_id = t.id ORDER BY t.id"
            ).fetchall()
            for row in rows:
                row_id, host, port, display, added_at, group, checked_at, threshold, status, doc = (
                    row[:10]
                )
                if (host, port) not in wanted:
                    continue
                taken.append(
                    RemovedEntry(
                        target=_target(host, port, display, group, row[10], row[12]),
                        added_at=datetime.fromisoformat(added_at),
                        position=int(row_id),
                        checked_at=None
                        if checked_at is None
                        else datetime.fromisoformat(checked_at),
                        threshold_days=None if threshold is None else int(threshold),
                        status=status,
                        document=doc,
                        registration_expires=row[11],
                    )
                )
            db.executemany("DELETE FROM targets WHERE id = ?", [(e.position,) for e in taken])
            if taken:
                db.execute(_BUMP_REVISION)
        return taken

    def restore(self, entries: Iterable[RemovedEntry]) -> int:
        """Put back what :meth:`take` removed; returns how many were restored.

        Each comes back in its old place in the order when that place is still free
        (else at the end), with its group, date added and stored result. A target
        that was watched again in the meantime is left as it is now.
        """
        restored = 0
        with self._transaction() as db:
            for entry in sorted(entries, key=lambda e: e.position):
                if db.execute(
                    "SELECT 1 FROM targets WHERE host = ? AND port = ?", entry.key
                ).fetchone():
                    continue
                free = not db.execute(
                    "SELECT 1 FROM targets WHERE id = ?", (entry.position,)
                ).fetchone()
                cursor = db.execute(
                    "INSERT INTO targets"
                    " (id, host, port, display, added_at, group_name, threshold_days, serves)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.position if free else None,
                        entry.target.key[0],
                        entry.target.port,
                        entry.target.display,
                        entry.added_at.isoformat(),
                        entry.target.group,
                        entry.target.threshold_days,
                        entry.target.serves,
                    ),
                )
                if entry.registration_expires is not None:
                    db.execute(
                        "UPDATE targets SET registration_expires = ? WHERE id = ?",
                        (entry.registration_expires, cursor.lastrowid),
                    )
                if entry.document is not None and entry.checked_at is not None:
                    db.execute(
                        "INSERT INTO results"
                        " (target_id, checked_at, threshold_days, status, document)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (
                            cursor.lastrowid,
                            entry.checked_at.isoformat(),
                            entry.threshold_days,
                            entry.status or "",
                            entry.document,
                        ),
                    )
                restored += 1
            if restored:
                db.execute(_BUMP_REVISION)
        return restored

    def set_group(self, keys: Iterable[tuple[str, int]], group: str) -> int:
        """Put watched targets in ``group`` (``""`` = no group); returns how many changed."""
        name = _clean_group(group)
        changed = 0
        with self._transaction() as db:
            for host, port in keys:
                changed += db.execute(
                    "UPDATE targets SET group_name = ?"
                    " WHERE host = ? AND port = ? AND group_name != ?",
                    (name, host, port, name),
                ).rowcount
            if changed:
                db.execute(_BUMP_REVISION)
        return changed

    def groups(self) -> list[str]:
        """The groups in use, each once, sorted for people (case-insensitively)."""
        rows = self._db.execute("SELECT DISTINCT group_name FROM targets WHERE group_name != ''")
        return sorted((str(name) for (name,) in rows), key=lambda name: (name.casefold(), name))

    def revision(self) -> int:
        """A number that changes whenever any process commits a change to the watched
        set or the groups (add, remove, take, restore, set_group); results, times and
        notifications do not change it.

        It is a counter bumped in the same transaction as the change, read straight
        from the file, so it is seen by every connection and process once committed.
        One indexed read: cheap enough to poll every few seconds from a worker
        thread (with its own ``Watchlist``). 0 for a watchlist never changed.
        """
        row = self._db.execute("SELECT value FROM revision WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    def targets(self) -> list[Target]:
        rows = self._db.execute(
            "SELECT host, port, display, group_name, threshold_days, serves"
            " FROM targets ORDER BY id"
        )
        return [_target(*row) for row in rows]

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM targets").fetchone()
        return int(count)

    def entries(self) -> list[WatchEntry]:
        """Every watched target with its last result, in the order they were added."""
        rows = self._db.execute(
            "SELECT t.host, t.port, t.display, t.added_at, t.group_name,"
            " r.checked_at, r.threshold_days, r.document, t.threshold_days, t.serves"
            " FROM targets t LEFT JOIN results r ON r.target_id = t.id ORDER BY t.id"
        )
        entries = []
        for row in rows:
            host, port, display, added_at, group, checked_at, threshold, document = row[:8]
            target = _target(host, port, display, group, row[8], row[9])
            result = None
            if document is not None:
                result = _load_result(document, checked_at, threshold, target)
            entries.append(
                WatchEntry(target, datetime.fromisoformat(added_at), result, target.group)
            )
        return entries

    # -- results -----------------------------------------------------------------

    def save_results(
        self,
        results: Iterable[CheckResult],
        documents: Sequence[str | None] | None = None,
    ) -> None:
        """Store the latest result of each watched target.

        Only targets still in the watchlist get their result stored; results for
        any other target are dropped, so a check that was running when its target
        was removed never brings it back.

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
            # INSERT ... SELECT from targets: a key that is not watched selects no row.
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
                        result.target.key[0],
                        result.target.port,
                    )
                    for result, document in zip(results, documents, strict=True)
                ],
            )

    # -- per-target thresholds ------------------------------------------------------

    def set_threshold(self, keys: Iterable[tuple[str, int]], days: int | None) -> int:
        """Give watched targets their own threshold (``None``: back to the default).

        Returns how many changed (keys not watched are ignored). Checks of these
        targets count them as expiring ``days`` before expiry, whatever the default.
        """
        if days is not None and days < 0:
            raise ValueError("threshold must be 0 days or more")
        changed = 0
        with self._transaction() as db:
            for host, port in keys:
                changed += db.execute(
                    "UPDATE targets SET threshold_days = ?"
                    " WHERE host = ? AND port = ? AND threshold_days IS NOT ?",
                    (days, host, port, days),
                ).rowcount
            if changed:
                db.execute(_BUMP_REVISION)
        return changed

    # -- registration expiry entered by hand ---------------------------------------

    def set_registration_expiry(
        self, keys: Iterable[tuple[str, int]], expires: datetime | None
    ) -> int:
        """Remember a registration expiry typed by the user (``None`` forgets it).

        It is used where the registry publishes none (method ``manual``); returns how
        many watched targets it was set on (keys not watched are ignored).
        """
        value = None if expires is None else expires.astimezone(UTC).isoformat()
        changed = 0
        with self._transaction() as db:
            for host, port in keys:
                changed += db.execute(
                    "UPDATE targets SET registration_expires = ? WHERE host = ? AND port = ?",
                    (value, host, port),
                ).rowcount
            if changed:
                db.execute(_BUMP_REVISION)
        return changed

    def registration_expiries(self) -> dict[tuple[str, int], datetime]:
        """Every registration expiry entered by hand, by ``(host, port)``."""
        rows = self._db.execute(
            "SELECT host, port, registration_expires FROM targets"
            " WHERE registration_expires IS NOT NULL"
        )
        expiries: dict[tuple[str, int], datetime] = {}
        for host, port, text in rows:
            try:
                expiries[(host, port)] = datetime.fromisoformat(text)
            except ValueError:
                log.warning("ignoring unreadable registration expiry %r of %s", text, host)
        return expiries

    def last_result(self, key: tuple[str, int]) -> CheckResult | None:
        row = self._db.execute(
            "SELECT t.display, t.group_name, r.checked_at, r.threshold_days, r.document,"
            " t.threshold_days, t.serves"
            " FROM targets t JOIN results r ON r.target_id = t.id"
            " WHERE t.host = ? AND t.port = ?",
            key,
        ).fetchone()
        if row is None:
            return None
        display, group, checked_at, threshold, document, own, serves = row
        target = _target(*key, display, group, own, serves)
        return _load_result(document, checked_at, threshold, target)

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


def _target(
    host: str,
    port: int,
    display: str,
    group: str = "",
    threshold: int | None = None,
    serves: str = "",
) -> Target:
    protocol, name = split_key_host(host)  # "smtp://mx.example.com": see add()
    return Target(
        host=name,
        port=int(port),
        display=display,
        is_ip=is_ip_literal(name),
        group=group,
        threshold_days=None if threshold is None else int(threshold),
        protocol=protocol,
        serves=serves,
    )


def _with_group(target: Target, group: str) -> Target:
    return dataclasses.replace(target, group=group)


def _clean_group(group: str) -> str:
    """Group names are compared as typed, without surrounding white space."""
    return group.strip()


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database made by an older version up to :data:`SCHEMA_VERSION`."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(targets)")}
    if "group_name" not in columns:  # version 1
        db.execute("ALTER TABLE targets ADD COLUMN group_name TEXT NOT NULL DEFAULT ''")
    if "registration_expires" not in columns:  # version 2
        db.execute("ALTER TABLE targets ADD COLUMN registration_expires TEXT")
    if "threshold_days" not in columns:  # version 3
        db.execute("ALTER TABLE targets ADD COLUMN threshold_days INTEGER")
    if "serves" not in columns:  # version 4
        db.execute("ALTER TABLE targets ADD COLUMN serves TEXT NOT NULL DEFAULT ''")


def _prepare_private_file(path: Path) -> None:
    """Make the folder (0700) and the file (0600) before SQLite opens it.

    An existing file that others can read is tightened; so is an existing folder
    when it is the app's own data folder (a folder the user chose is left alone).
    """
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
        _make_private(folder, PRIVATE_DIR_MODE)
    elif folder == paths.data_dir():
        _make_private(folder, PRIVATE_DIR_MODE)
    if not path.exists():
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        os.close(os.open(path, flags, PRIVATE_FILE_MODE))  # an empty file is a database
    _make_private(path, PRIVATE_FILE_MODE)


def _tighten_companions(path: Path) -> None:
    """SQLite gives ``-wal``/``-shm`` the database's mode; older files may predate that."""
    for suffix in _COMPANION_SUFFIXES:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _make_private(companion, PRIVATE_FILE_MODE)


def _make_private(path: Path, mode: int) -> None:
    """``chmod`` to ``mode`` when others (or the group) may read; POSIX only."""
    if os.name != "posix":
        return  # Windows: the per-user profile folder's ACL already keeps it private
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current != mode:
            path.chmod(mode)
    except OSError as exc:  # e.g. a file owned by someone else: still usable
        log.warning("cannot make %s private: %s", path, exc)


def _load_result(document: str, checked_at: str, threshold: int, target: Target) -> CheckResult:
    result = result_from_dict(
        json.loads(document),
        checked_at=datetime.fromisoformat(checked_at),
        threshold_days=int(threshold),
    )
    # The stored target; an MX host stored before the ``serves`` column existed
    # has its mail domain only in the document.
    if target.serves or not result.target.serves:
        return dataclasses.replace(result, target=target)
    return dataclasses.replace(
        result, target=dataclasses.replace(target, serves=result.target.serves)
    )
