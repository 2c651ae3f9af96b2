"""The message seam: logic reports to the user through signals, never ``QMessageBox``.

Code anywhere calls ``messages.info(...)`` / ``warning`` / ``error`` on the bridge it
was given. The main window connects the bridge to the status bar and to non-blocking
dialogs; tests connect to it (or to nothing) and assert on what was said, so no test
ever blocks on a modal box.
"""

from __future__ import annotations

import dataclasses
import enum
import logging

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Level(enum.Enum):
    """How loud a message is."""

    #: Passing news ("Added 12 domains"); the status bar.
    INFO = enum.auto()
    #: Something the user should know but that did not stop anything.
    WARNING = enum.auto()
    #: Something the user asked for failed (a file could not be read, export failed).
    ERROR = enum.auto()


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    level: Level
    text: str
    #: Longer explanation for a dialog's details, if any.
    details: str = ""


class MessageBridge(QObject):
    """Carries user-facing messages from logic to whatever presents them.

    Signals:
        shown(Message): a message for the user.
    """

    shown = Signal(object)

    def info(self, text: str, details: str = "") -> None:
        self._emit(Message(Level.INFO, text, details))

    def warning(self, text: str, details: str = "") -> None:
        self._emit(Message(Level.WARNING, text, details))

    def error(self, text: str, details: str = "") -> None:
        self._emit(Message(Level.ERROR, text, details))

    def _emit(self, message: Message) -> None:
        log.log(
            {Level.INFO: logging.INFO, Level.WARNING: logging.WARNING}.get(
                message.level, logging.ERROR
            ),
            "%s%s",
            message.text,
            f" ({message.details})" if message.details else "",
        )
        self.shown.emit(message)
