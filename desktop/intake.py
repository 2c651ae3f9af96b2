"""Domain lists from files: dropped, opened, given on the command line or by the OS.

Reading and parsing happen on a thread of their own (a big list, or a file on a slow
network share, must not freeze the window); :class:`ReadLists` is what that thread
hands back, ready to show. :class:`FileOpenFilter` catches the files macOS hands the
app through its Dock icon.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Signal
from PySide6.QtGui import QFileOpenEvent

from core import domains
from core.config import Settings
from core.errors import InputFileError
from core.models import MX_PROTOCOL, Target
from desktop.rows import WatchRow, unchecked_rows


def sensitive_texts(targets: Iterable[Target]) -> list[str]:
    """Every form of every domain, for the analytics scrubber."""
    return [text for t in targets for text in {t.host, t.display, str(t)}]


#: ``core.mx.MX_SOURCE``: where the lines an MX lookup rejected come from. Named
#: here so the window can tell them without importing the DNS library at start.
MX_SOURCE = "<mx>"


def has_mx(parsed: domains.ParseResult) -> bool:
    """Whether ``parsed`` holds ``mx:`` lines still to be looked up."""
    return any(target.protocol == MX_PROTOCOL for target in parsed.targets)


def expand_mx(parsed: domains.ParseResult, settings: Settings) -> domains.ParseResult:
    """``parsed`` with every ``mx:example.com`` replaced by the domain's MX hosts
    (``smtp://`` targets on port 25 that say whose mail they carry); what has none is
    a rejected line. A DNS lookup: call it off the GUI thread."""
    if not has_mx(parsed):
        return parsed
    from core import mx  # late: dnspython costs ~50 ms of start-up
    from core.dns import DnsResolver

    return asyncio.run(mx.expand(parsed, DnsResolver.from_settings(settings)))


@dataclasses.dataclass
class ReadLists:
    """Dropped or opened lists, read, parsed and made into rows on a reading thread."""

    files: int
    problems: list[str]
    merged: domains.ParseResult
    rows: list[WatchRow]
    sensitive: list[str]

    @classmethod
    def read(cls, paths: Sequence[Path], settings: Settings) -> ReadLists:
        """Read, parse and merge ``paths``; ``mx:`` lines are looked up with
        ``settings``' DNS (this runs on a reading thread)."""
        results, problems = [], []
        for path in paths:
            try:
                results.append(domains.read_file(path))
            except InputFileError as exc:
                problems.append(str(exc))
        merged = expand_mx(domains.merge(results), settings)
        return cls(
            files=len(results),
            problems=problems,
            merged=merged,
            rows=unchecked_rows(merged.targets),
            sensitive=sensitive_texts(merged.targets),
        )


class FileOpenFilter(QObject):
    """Files opened through the OS: on macOS, lists dropped on the Dock icon.

    They arrive as ``QFileOpenEvent`` on the ``QApplication`` (not on a window), so
    this filter is installed on the application object.

    Signals:
        files_opened(list[Path]): local files the OS asked us to open.
    """

    files_opened = Signal(list)

    @classmethod
    def install(cls, parent: QObject, on_files: Callable[[list[Path]], None]) -> FileOpenFilter:
        """A filter on the running ``QApplication`` that hands its files to ``on_files``."""
        event_filter = cls(parent)
        event_filter.files_opened.connect(on_files)
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(event_filter)
        return event_filter

    def uninstall(self) -> None:
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file() or event.url().toLocalFile()
            if path:
                self.files_opened.emit([Path(path)])
                return True
        return False
