"""The watchlist as the window sees it: every write off the GUI thread, in order.

Why a service: the watchlist database is shared with other processes (``domaincheck
watch add/remove`` from a terminal), written behind the GUI thread (results arrive by
the thousand), and edited by the user (add, remove, undo, groups). All of that goes
through one ordered queue, the :class:`~desktop.persistence.ResultsWriter`, so a
removal queued after a batch of results is never undone by it, and the GUI thread
never waits for the disk.

Changes made elsewhere are found by polling :meth:`core.storage.Watchlist.revision`
every ``POLL_INTERVAL_MS`` on the writer's thread; when it moved, the entries are
read there too and handed to the app (``reloaded``). An answer that was asked for
before a local change of the user's is dropped (it would undo that change in the
table) and asked for again.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.models import CheckResult, Target
from core.storage import StorageError, WatchEntry, Watchlist
from desktop.messages import MessageBridge
from desktop.persistence import ResultsWriter
from desktop.scheduler import TimerLike

log = logging.getLogger(__name__)

#: How often the database is asked whether another process changed the watchlist.
POLL_INTERVAL_MS = 2_000
#: How many removals Undo can bring back, newest first.
UNDO_DEPTH = 5

Key = tuple[str, int]
Answer = Callable[[Any, BaseException | None], None]


@dataclasses.dataclass
class _Removal:
    """One Remove the user can undo: the keys now, the stored entries once taken."""

    keys: list[Key]
    #: What ``Watchlist.take`` returned (``None`` while the writer is at it).
    entries: list[Any] | None = None
    #: Undo was asked for before ``take`` answered: restore as soon as it does.
    undo_wanted: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class WatchlistDiff:
    """How the stored watchlist differs from the table (see :func:`diff`)."""

    added: list[WatchEntry]
    removed: list[Key]
    #: ``(key, group)`` of rows whose group changed.
    regrouped: list[tuple[Key, str]]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.regrouped)


def diff(shown: dict[Key, str], stored: Sequence[WatchEntry]) -> WatchlistDiff:
    """What to add, drop and regroup so that ``shown`` (key -> group) matches ``stored``."""
    stored_keys = set()
    added, regrouped = [], []
    for entry in stored:
        key = entry.target.key
        stored_keys.add(key)
        group = _group_of(entry)
        if key not in shown:
            added.append(entry)
        elif shown[key] != group:
            regrouped.append((key, group))
    removed = [key for key in shown if key not in stored_keys]
    return WatchlistDiff(added, removed, regrouped)


def _group_of(entry: WatchEntry) -> str:
    group = getattr(entry, "group", None)
    if group is None:
        group = getattr(entry.target, "group", "")
    return str(group or "")


class WatchlistService(QObject):
    """Reads, writes and watches the watchlist for the app.

    Signals:
        reloaded(list, bool): the stored entries after a change (``True``: the change
            came from elsewhere; ``False``: an Undo of ours brought entries back).
        undo_changed(str): what Undo would bring back ("" = nothing).
        failed(str): a write failed (the reason, for people).
    """

    reloaded = Signal(list, bool)
    undo_changed = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        watchlist: Watchlist,
        *,
        poll_timer: TimerLike | None = None,
        poll_interval_ms: int = POLL_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.watchlist = watchlist
        #: Writes in a thread of its own (an in-memory fallback database cannot be
        #: shared with another connection, so it is written here, in the GUI thread).
        self._writer: ResultsWriter | None = None
        if str(watchlist.path) != ":memory:":
            self._writer = ResultsWriter(watchlist.path, parent=self)
            self._writer.failed.connect(self.failed)
        self._undo: collections.deque[_Removal] = collections.deque(maxlen=UNDO_DEPTH)
        #: Bumped by every local change; a reload asked for before one is stale.
        self._generation = 0
        #: The revision the table shows (read with the entries, at start).
        self._revision: int | None = None
        try:
            self._revision = watchlist.revision()
        except sqlite3.Error:
            log.warning("could not read the watchlist's revision", exc_info=True)
        self._polling = False
        self._closed = False
        self._poll_interval_ms = poll_interval_ms
        self._poll_timer: TimerLike = poll_timer if poll_timer is not None else QTimer(self)
        self._poll_timer.timeout.connect(self.poll)
        #: Registration expiries typed by hand, by key: what the next check is given
        #: (``Checker(manual_expiry=...)``). Read once here, at start-up, with the
        #: entries the app reads (one small query: the first check needs them); then
        #: kept up to date by our own changes at once and, off the GUI thread, by
        #: changes made elsewhere when they are found.
        self.manual_expiries: dict[Key, datetime] = {}
        try:
            self.manual_expiries = watchlist.registration_expiries()
        except sqlite3.Error:
            log.warning("could not read the typed registration expiries", exc_info=True)
        #: Bumped by every local change of a typed date; an older answer is stale.
        self._manual_generation = 0

    @staticmethod
    def open(messages: MessageBridge) -> Watchlist:
        """The user's watchlist; an in-memory one (said so) when it cannot be opened."""
        try:
            return Watchlist()
        except StorageError as exc:
            messages.error(
                "The watchlist could not be opened; changes will not be saved.", str(exc)
            )
            return Watchlist(Path(":memory:"))

    # -- plumbing ----------------------------------------------------------------------

    def run(self, job: Callable[[Watchlist], object]) -> None:
        """A write, behind the GUI thread and in order with results."""
        if self._closed:
            return
        if self._writer is not None:
            self._writer.run(job)
            return
        try:  # an in-memory fallback database: only this connection can reach it
            job(self.watchlist)
        except (sqlite3.Error, ValueError) as exc:
            log.exception("could not write to the watchlist")
            self.failed.emit(str(exc))

    def ask(self, job: Callable[[Watchlist], object], on_answer: Answer) -> None:
        """Like ``run``; ``on_answer(value, error)`` gets the answer in the GUI thread."""
        if self._closed:
            return
        if self._writer is not None:
            self._writer.ask(job, on_answer)
            return
        try:
            value = job(self.watchlist)
        except (sqlite3.Error, ValueError) as exc:
            on_answer(None, exc)
        else:
            on_answer(value, None)

    def save_results(
        self, results: Sequence[CheckResult], documents: Sequence[str] | None = None
    ) -> None:
        """Store results (for targets still watched: the core drops the others)."""
        if self._writer is not None:
            self._writer.save(results, documents)
            return
        self.run(lambda store: store.save_results(results, documents))

    def flush(self) -> bool:
        """Wait until every queued write is on disk (tests, quit)."""
        return self._writer.flush() if self._writer is not None else True

    def close(self) -> None:
        """Stop polling, write what is queued, close the connections."""
        if self._closed:
            return
        self._poll_timer.stop()
        if self._writer is not None:  # what the table already shows reaches the disk
            self._writer.close()
        self._closed = True

    # -- what the user does --------------------------------------------------------------

    def add(self, targets: Sequence[Target], *, group: str | None, now: datetime) -> None:
        """Watch ``targets`` (the table shows them already)."""
        if not targets:
            return
        self._generation += 1
        added = list(targets)
        self.run(lambda store: store.add(added, group=group, now=now))

    def remove(self, keys: Sequence[Key]) -> None:
        """Stop watching ``keys`` for good; Undo can bring them back."""
        if not keys:
            return
        self._generation += 1
        removal = _Removal(list(keys))
        self._undo.append(removal)

        def taken(entries: object, error: BaseException | None) -> None:
            if error is not None or not isinstance(entries, list):
                self._forget(removal)
                self.failed.emit(f"Could not remove from the watchlist: {error}")
                return
            removal.entries = entries
            if removal.undo_wanted:
                self._restore(removal)

        self.ask(lambda store: store.take(removal.keys), taken)
        self._announce_undo()

    def undo(self) -> bool:
        """Bring back the last removal; False when there is nothing to undo."""
        if not self._undo:
            return False
        removal = self._undo.pop()
        if removal.entries is None:
            removal.undo_wanted = True  # restored when ``take`` answers
        else:
            self._restore(removal)
        self._announce_undo()
        return True

    @property
    def undo_text(self) -> str:
        """What Undo would bring back, for the Edit menu ("" = nothing)."""
        if not self._undo:
            return ""
        count = len(self._undo[-1].keys)
        return f"Undo remove ({count:,} domain{'s' if count != 1 else ''})"

    def set_group(self, keys: Sequence[Key], group: str) -> None:
        if not keys:
            return
        self._generation += 1
        chosen = list(keys)
        self.run(lambda store: store.set_group(chosen, group))

    def set_threshold(self, keys: Sequence[Key], days: int | None) -> None:
        """Give ``keys`` their own threshold (``None``: back to the default)."""
        if not keys:
            return
        self._generation += 1
        chosen = list(keys)
        self.run(lambda store: store.set_threshold(chosen, days))

    def set_registration_expiry(self, keys: Sequence[Key], expires: datetime | None) -> None:
        """Remember a registration expiry typed by hand (``None`` forgets it)."""
        if not keys:
            return
        self._generation += 1
        self._manual_generation += 1
        chosen = list(keys)
        for key in chosen:
            if expires is None:
                self.manual_expiries.pop(key, None)
            else:
                self.manual_expiries[key] = expires
        self.run(lambda store: store.set_registration_expiry(chosen, expires))

    def refresh_manual_expiries(self) -> None:
        """Read the typed registration expiries again (off the GUI thread)."""
        generation = self._manual_generation

        def answered(expiries: object, error: BaseException | None) -> None:
            if error is not None:
                log.warning("could not read the typed registration expiries: %s", error)
            elif isinstance(expiries, dict) and generation == self._manual_generation:
                self.manual_expiries = expiries

        self.ask(lambda store: store.registration_expiries(), answered)

    def _restore(self, removal: _Removal) -> None:
        self._generation += 1
        entries = list(removal.entries or [])

        def restored(_: object, error: BaseException | None) -> None:
            if error is not None:
                self.failed.emit(f"Could not undo the removal: {error}")

        self.ask(lambda store: store.restore(entries), restored)
        self.refresh_manual_expiries()  # a removed row's typed date comes back with it
        self._reload(external=False)

    def _forget(self, removal: _Removal) -> None:
        if removal in self._undo:
            self._undo.remove(removal)
        self._announce_undo()

    def _announce_undo(self) -> None:
        self.undo_changed.emit(self.undo_text)

    # -- changes made elsewhere ------------------------------------------------------------

    def start_polling(self) -> None:
        """Start looking for changes made by other processes."""
        if self._writer is None:
            return  # an in-memory database: no other process can reach it
        self._poll_timer.start(self._poll_interval_ms)

    def poll(self) -> None:
        """Ask (off the GUI thread) whether the stored watchlist changed."""
        if self._polling or self._closed:
            return
        self._polling = True
        generation = self._generation

        def job(store: Watchlist) -> tuple[int, list[WatchEntry] | None]:
            revision = store.revision()
            if revision == self._revision:
                return revision, None
            return revision, store.entries()

        def answered(answer: object, error: BaseException | None) -> None:
            self._polling = False
            if error is not None or not isinstance(answer, tuple) or self._closed:
                if error is not None:
                    log.warning("could not look for watchlist changes: %s", error)
                return
            revision, entries = answer
            if entries is None:
                return
            if generation != self._generation:
                return  # asked before a change of ours: it would undo it; ask again
            self._revision = revision
            self.refresh_manual_expiries()  # ``watch add --registration-expires``
            self.reloaded.emit(entries, True)

        self.ask(job, answered)

    def _reload(self, *, external: bool) -> None:
        generation = self._generation

        def answered(entries: object, error: BaseException | None) -> None:
            if error is None and isinstance(entries, list) and generation == self._generation:
                self.reloaded.emit(entries, external)

        self.ask(lambda store: store.entries(), answered)
