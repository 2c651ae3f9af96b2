"""Where domains come in: the text box, and file drops anywhere in the window.

Kept apart from the window because typing, pasting and dropping have rules of their
own: a dropped file is handed on (not pasted), dropped links become lines, and the
lines the watchlist rejected stay visibly marked after the accepted ones are cleared.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from core.models import Status
from desktop import icons


def local_files(mime: QMimeData) -> list[Path]:
    """The local files in a drag (``file://`` URLs), in order."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def dropped_text(mime: QMimeData) -> str:
    """Text of a non-file drop: links dragged from a browser, or plain text."""
    remote = (
        [url.toString() for url in mime.urls() if not url.isLocalFile()] if (mime.hasUrls()) else []
    )
    if remote:
        return "\n".join(remote)
    return mime.text() if mime.hasText() else ""


def file_url_mime(paths: Sequence[Path]) -> QMimeData:
    """A drag payload of local files, as a file manager makes it (tests, bench)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


class DomainInput(QPlainTextEdit):
    """Where domains are typed, pasted or dropped.

    Dropped files are not pasted: they are handed on (``files_dropped``) to be added to
    the watchlist and checked right away. Dropped text and links are appended as lines.

    Signals:
        files_dropped(list[Path]): local files were dropped here.
        submitted(): Ctrl+Return was pressed (check).
    """

    files_dropped = Signal(list)
    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(
            "Type or paste domains, one per line:\n\nexample.com\nshop.example.org:8443\n"
            "https://bücher.example/\n\n…or drop .txt and .csv files here."
        )
        self.setAccessibleName("Domains to check")
        self.setAccessibleDescription(
            "One domain, host:port or URL per line. Drop list files to add them."
        )
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Ctrl+Return checks (plain Return still starts a new line)."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            event.accept()
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event.mimeData()) or dropped_text(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        files = local_files(mime)
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)
            return
        text = dropped_text(mime)
        if text:
            event.acceptProposedAction()
            self.append_lines(text)
            return
        event.ignore()

    def append_lines(self, text: str) -> None:
        """Add ``text`` on lines of its own at the end (never mid-line)."""
        current = self.toPlainText()
        joiner = "" if not current or current.endswith("\n") else "\n"
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(joiner + text.strip("\n") + "\n")
        self.setTextCursor(cursor)

    def keep_lines(self, keep: Sequence[int]) -> dict[int, int]:
        """Remove every line except the 1-based ``keep``; returns old -> new numbers.

        An edit through the cursor, not ``setPlainText``: Ctrl+Z in the box brings
        the removed lines back, as it undoes any other edit.
        """
        lines = self.toPlainText().split("\n")
        kept = [n for n in sorted(set(keep)) if 1 <= n <= len(lines)]
        text = "\n".join(lines[n - 1] for n in kept)
        if text == self.toPlainText():
            return {n: i for i, n in enumerate(kept, start=1)}
        cursor = self.textCursor()
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text + ("\n" if text else ""))
        cursor.endEditBlock()
        self.setTextCursor(cursor)
        return {n: i for i, n in enumerate(kept, start=1)}

    def marked_lines(self) -> list[int]:
        """The 1-based lines marked as rejected."""
        return [s.cursor.blockNumber() + 1 for s in self.extraSelections()]

    def mark_lines(self, line_numbers: Sequence[int]) -> None:
        """Underline and tint the 1-based lines that were rejected."""
        selections = []
        palette_colour = icons.status_colour(Status.EXPIRED, self.palette())
        tint = icons.status_colour(Status.EXPIRED, self.palette())
        tint.setAlpha(40)
        for number in line_numbers:
            block = self.document().findBlockByNumber(number - 1)
            if not block.isValid():
                continue
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setBackground(tint)
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(palette_colour)
            fmt.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            selection.format = fmt
            cursor = QTextCursor(block)
            selection.cursor = cursor
            selections.append(selection)
        self.setExtraSelections(selections)


class FileDropFilter(QObject):
    """Event filter that makes any widget accept dropped list files.

    Signals:
        files_dropped(list[Path]): local files were dropped on the watched widget.
    """

    files_dropped = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent | QDragMoveEvent)
            if local_files(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            files = local_files(event.mimeData())
            if files:
                event.acceptProposedAction()
                self.files_dropped.emit(files)
                return True
        return False
