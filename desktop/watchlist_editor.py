"""What the user's edits of the watchlist mean: Add, Check's new lines, files, Remove, Undo, groups.

The rules live here, in one place: adding is explicit (Add, or Check on new lines),
what was added is cleared from the input (rejected lines stay, marked), Remove is for
good (Undo brings the last removals back), and every message counts what really
changed ("Added 3 domains, 2 were already watched"). The table follows the database
when another process changes it (``domaincheck watch`` in a terminal): what was added
there is checked at once, what was removed there is dropped and never re-added.

Storage is :class:`~desktop.watchlist_service.WatchlistService`'s business; this class
only decides, and updates the table at once (the database follows behind).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QObject, Signal

from core import domains
from core.config import Settings
from core.models import InputError, Target
from core.storage import WatchEntry
from desktop.analytics import DesktopAnalytics
from desktop.background import BackgroundCall
from desktop.intake import MX_SOURCE, ReadLists, expand_mx, has_mx, sensitive_texts
from desktop.mainwindow import INPUT_SOURCE, MainWindow
from desktop.messages import MessageBridge
from desktop.notifications import Trigger
from desktop.results_model import ResultsModel
from desktop.rows import WatchRow, unchecked_rows
from desktop.watchlist_service import WatchlistService, diff

#: Where domains came from (``domains_imported``'s ``source``).
ImportSource = Literal["drop", "paste", "file", "cli"]
Key = tuple[str, int]
#: Checks targets now, or queued behind the running check.
CheckTargets = Callable[[Sequence[Target], Trigger], object]


def added_text(added: int, known: int) -> str:
    """What an Add really changed: "Added 3 domains, 2 were already watched"."""
    if not added:
        if known == 1:
            return "That domain was already watched"
        return f"All {known:,} domains were already watched"
    text = f"Added {domains_text(added)}"
    if known:
        text += f", {known:,} {'was' if known == 1 else 'were'} already watched"
    return text


def domains_text(count: int) -> str:
    """``1 domain``, ``2,000 domains``."""
    return f"{count:,} domain{'s' if count != 1 else ''}"


def _on_input_lines(parsed: domains.ParseResult, text: str) -> domains.ParseResult:
    """``parsed`` with the MX lookup's rejections put back on the input lines they
    came from (``mx:nomail.test``), so they stay in the box, marked, like any other
    rejected line."""
    lines = {line.strip().casefold(): number for number, line in enumerate(text.splitlines(), 1)}
    errors = []
    for error in parsed.errors:
        number = lines.get(error.text.casefold()) if error.source == MX_SOURCE else None
        if number is not None:
            error = InputError(INPUT_SOURCE, number, error.text, error.error)
        errors.append(error)
    return domains.ParseResult(parsed.targets, errors)


class WatchlistEditor(QObject):
    """Carries out the user's edits of the watchlist, and follows changes made elsewhere.

    Signals:
        changed(): rows were added, removed or regrouped.
        reloaded(): changes found in the database (elsewhere, or an Undo) are shown.
    """

    changed = Signal()
    reloaded = Signal()

    def __init__(
        self,
        *,
        model: ResultsModel,
        store: WatchlistService,
        window: MainWindow,
        messages: MessageBridge,
        analytics: DesktopAnalytics,
        clock: Callable[[], datetime],
        check: CheckTargets,
        check_all: Callable[[], object],
        forget: Callable[[Sequence[Key]], None],
        settings: Callable[[], Settings],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._store = store
        self._window = window
        self._messages = messages
        self._analytics = analytics
        self._clock = clock
        self._check = check
        self._check_all = check_all
        self._forget = forget
        #: The engine settings (default threshold; DNS for ``mx:`` lines).
        self._settings = settings
        #: Lists being read off the GUI thread; kept so their answers are delivered.
        self._reads: set[BackgroundCall[Any]] = set()
        self.input_errors: list[InputError] = []
        self._closed = False
        store.reloaded.connect(self._on_reloaded)

    def close(self) -> None:
        self._closed = True

    # -- adding ------------------------------------------------------------------------

    def check_input(self, text: str) -> None:
        """The Check button: add the new lines, then check the whole watchlist."""
        self.take_input(text, then=self._check_all_or_hint)

    def _check_all_or_hint(self) -> None:
        if not self._model.rowCount():
            self._messages.info("Type, paste or drop some domains first.")
            return
        self._check_all()

    def add_input(self, text: str) -> None:
        """The Add button: watch the input's valid lines, without checking."""
        if self.take_input(text) is None:
            self._messages.info("Type or paste some domains first.")

    def take_input(
        self, text: str, then: Callable[[], object] | None = None
    ) -> list[Target] | None:
        """Watch the input's valid lines and clear them from it (rejected ones stay).

        Returns the newly watched targets (``None`` when the input was empty), then
        calls ``then``. ``mx:`` lines need a DNS lookup: it runs on a thread of its
        own, the rest follows when it answers, and this returns ``[]`` at once.
        """
        if not text.strip():
            self._show_input_errors([])
            if then is not None:
                then()
            return None
        parsed = domains.parse_text(text, INPUT_SOURCE)
        if has_mx(parsed):
            self._expand_then_take(parsed, text, then)
            return []
        added = self._take_parsed(parsed)
        if then is not None:
            then()
        return added

    def _expand_then_take(
        self, parsed: domains.ParseResult, text: str, then: Callable[[], object] | None
    ) -> None:
        """Look the ``mx:`` lines up off the GUI thread, then take the input."""

        def done(answer: domains.ParseResult | None, error: BaseException | None) -> None:
            self._reads.discard(call)
            if self._closed:
                return
            if answer is None:
                self._messages.error(f"Could not look up the mail servers ({error})")
                return
            self._take_parsed(_on_input_lines(answer, text))
            if then is not None:
                then()

        settings = self._settings()
        call: BackgroundCall[domains.ParseResult] = BackgroundCall(
            functools.partial(expand_mx, parsed, settings), done, name="domaincheck-mx"
        )
        self._reads.add(call)

    def _take_parsed(self, parsed: domains.ParseResult) -> list[Target]:
        self._show_input_errors(parsed.errors)
        added = self.watch(parsed.targets)
        self._imported("paste", len(parsed.targets), len(parsed.errors))
        self._window.clear_input(keep=[e.line for e in parsed.errors if e.source == INPUT_SOURCE])
        if parsed.targets:
            self._messages.info(added_text(len(added), len(parsed.targets) - len(added)))
        return added

    def add_files(self, paths: Iterable[Path], *, source: ImportSource, trigger: Trigger) -> None:
        """Files dropped, opened or given on the command line: watch and check them.

        The files are read and parsed on a thread of their own; the rest follows in
        ``_files_read`` back on the GUI thread.
        """
        paths = list(paths)
        if not paths:
            return
        self._analytics.add_sensitive(text for p in paths for text in (str(p), p.name))

        def done(answer: ReadLists | None, error: BaseException | None) -> None:
            self._reads.discard(call)
            if self._closed:
                return
            if answer is None:
                self._messages.error(f"Could not read the list ({type(error).__name__})")
                return
            self._files_read(answer, source=source, trigger=trigger)

        call = BackgroundCall(
            functools.partial(ReadLists.read, paths, self._settings()),
            done,
            name="domaincheck-read-list",
        )
        self._reads.add(call)

    @property
    def reading_files(self) -> bool:
        """True while dropped or opened lists are still being read."""
        return bool(self._reads)

    def _files_read(self, lists: ReadLists, *, source: ImportSource, trigger: Trigger) -> None:
        for problem in lists.problems:
            self._messages.error(f"Could not read the list: {problem}")
        if lists.files == 0:
            return
        merged = lists.merged
        self._show_input_errors(merged.errors)
        added = self.watch(merged.targets, rows=lists.rows, sensitive=lists.sensitive)
        rejected = len(merged.errors)
        self._imported(source, len(merged.targets), rejected)
        files = f"{lists.files} file{'s' if lists.files != 1 else ''}"
        if merged.targets:
            text = f"{added_text(len(added), len(merged.targets) - len(added))} (from {files})"
        else:
            text = f"No domains in {files}"
        if rejected:
            text += f"; {rejected} line{'s' if rejected != 1 else ''} rejected"
        self._messages.info(text)
        if added:
            self._check(added, trigger)

    def _imported(self, source: ImportSource, count: int, rejected: int) -> None:
        self._analytics.capture(
            "domains_imported", {"source": source, "count": count, "rejected": rejected}
        )

    def watch(
        self,
        targets: Sequence[Target],
        *,
        rows: Sequence[WatchRow] | None = None,
        sensitive: Sequence[str] | None = None,
    ) -> list[Target]:
        """Watch ``targets``; returns those that were not watched yet. ``rows`` and
        ``sensitive`` are their rows and private texts when a thread made them."""
        row_of = self._model.row_of
        new = [t for t in targets if row_of(t.key) is None]
        if not new:
            return []
        self._analytics.add_sensitive(sensitive_texts(new) if sensitive is None else sensitive)
        self._store.add(new, group=None, now=self._clock())
        self._model.add_rows(unchecked_rows(new) if rows is None else rows)
        self.changed.emit()
        return new

    def _show_input_errors(self, errors: Sequence[InputError]) -> None:
        self.input_errors = list(errors)
        self._window.show_input_errors(errors)

    def _follow_thresholds(self, entries: Sequence[WatchEntry]) -> None:
        """Own thresholds set elsewhere (``watch add --threshold``) reach the rows."""
        model = self._model
        for entry in entries:
            position = model.row_of(entry.target.key)
            days = entry.target.threshold_days
            if position is not None and model.row_at(position).target.threshold_days != days:
                default = self._settings().threshold_days
                model.set_target_threshold([entry.target.key], days, default)

    # -- removing, undo, groups ------------------------------------------------------------

    def remove(self, keys: Sequence[Key]) -> None:
        """Stop watching ``keys`` for good (Undo brings them back)."""
        keys = [key for key in keys if self._model.row_of(key) is not None]
        if not keys:
            return
        self._store.remove(keys)  # after any results queued for them: none adds them back
        self._forget(keys)
        self._model.remove_keys(keys)
        self.changed.emit()
        self._messages.info(f"Removed {domains_text(len(keys))}. Undo: Ctrl+Z")

    def undo(self) -> None:
        """Bring back the last removal (the rows return once the database has them)."""
        if not self._store.undo():
            self._messages.info("Nothing to undo")

    def set_group(self, keys: Sequence[Key], group: str) -> None:
        keys = [key for key in keys if self._model.row_of(key) is not None]
        if not keys:
            return
        group = group.strip()
        self._store.set_group(keys, group)
        self._model.set_group(keys, group)
        self.changed.emit()
        where = f"in group {group}" if group else "in no group"
        self._messages.info(f"{domains_text(len(keys))} now {where}")

    def set_threshold(self, keys: Sequence[Key], days: int | None) -> None:
        """Give rows their own threshold (``None``: back to the default) and check
        them again."""
        keys = [key for key in keys if self._model.row_of(key) is not None]
        if not keys:
            return
        self._store.set_threshold(keys, days)
        targets = self._model.set_target_threshold(keys, days, self._settings().threshold_days)
        if days is None:
            self._messages.info(f"{domains_text(len(keys))} now use the default threshold")
        else:
            self._messages.info(f"Threshold of {domains_text(len(keys))} set to {days:,} days")
        self._check(targets, "manual")

    def set_registration_expiry(self, keys: Sequence[Key], expires: datetime | None) -> None:
        """Remember a registration expiry typed by hand (``None`` forgets it) and check
        the rows again, so the table shows it."""
        rows = [self._model.row_at(p) for k in keys if (p := self._model.row_of(k)) is not None]
        if not rows:
            return
        self._store.set_registration_expiry([row.key for row in rows], expires)
        if expires is None:
            self._messages.info(f"Typed registration expiry of {domains_text(len(rows))} cleared")
        else:
            self._messages.info(
                f"Registration expiry of {domains_text(len(rows))} set to {expires:%Y-%m-%d}"
                " (used where the registry publishes none; update it after renewal)"
            )
        self._check([row.target for row in rows], "manual")

    def _on_reloaded(self, entries: list[WatchEntry], external: bool) -> None:
        """The stored watchlist changed (elsewhere, or by an Undo): follow it."""
        if self._closed:
            return
        change = diff({row.key: row.group for row in self._model.rows()}, entries)
        if change.removed:
            self._forget(change.removed)
            self._model.remove_keys(change.removed)
        for key, group in change.regrouped:
            self._model.set_group([key], group)
        self._follow_thresholds(entries)
        added = [e.target for e in change.added]
        if added:
            self._analytics.add_sensitive(sensitive_texts(added))
            self._model.add_rows(WatchRow(e.target, e.result) for e in change.added)
        if change:
            self.changed.emit()
        if added and not external:
            self._messages.info(f"Restored {domains_text(len(added))}")
        elif added:  # added from a terminal: check them at once
            self._check(added, "scheduled")
        self.reloaded.emit()
