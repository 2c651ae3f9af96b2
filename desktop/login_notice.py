"""The one-time notice that the app now starts at login: a banner that stays.

Said once, ever, so it must not be a status-bar line that the next "Checked 5
domains" replaces a second later. The banner stays until the user answers; "Turn
Off" undoes it at once (the same as the toggle in Preferences and the tray menu).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class LoginNotice(QFrame):
    """Tells that Domain Check will start at login.

    Signals:
        answered(bool): True for "OK" (keep it), False for "Turn Off".
    """

    answered = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loginNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("About starting at login")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.turn_off = QPushButton("Turn Off")
        self.turn_off.setAccessibleName("Don't start Domain Check at login")
        self.keep = QPushButton("OK")
        self.turn_off.clicked.connect(lambda: self._answer(False))
        self.keep.clicked.connect(lambda: self._answer(True))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.turn_off)
        layout.addWidget(self.keep)
        self.hide()

    def tell(self, text: str) -> None:
        """Show ``text`` until the user answers."""
        self.text.setText(text)
        self.show()

    def _answer(self, keep: bool) -> None:
        self.hide()
        self.answered.emit(keep)
