"""The first-run notice about usage statistics: a banner in the window, not a modal box.

A banner asks without stopping the user from doing what they opened the app for; the
answer goes out as a signal, and the app decides what it means.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class AnalyticsNotice(QFrame):
    """The first-run notice about usage statistics.

    Signals:
        answered(bool): True for "Send Statistics", False for "No Thanks".
    """

    answered = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("analyticsNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("About usage statistics")
        self.text = QLabel(
            "<b>Help improve Domain Check?</b> It can send anonymous usage statistics: "
            "counts and timings such as how many domains were checked. Never your "
            "domains, file names or email address. Nothing is sent unless you agree."
        )
        self.text.setWordWrap(True)
        self.turn_off = QPushButton("No Thanks")
        self.turn_off.setAccessibleName("Don't send usage statistics")
        self.accept_button = QPushButton("Send Statistics")
        self.turn_off.clicked.connect(lambda: self.answered.emit(False))
        self.accept_button.clicked.connect(lambda: self.answered.emit(True))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.turn_off)
        layout.addWidget(self.accept_button)
        self.hide()
