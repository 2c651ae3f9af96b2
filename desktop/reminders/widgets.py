"""Small widgets the reminders pages share: wrapped text, inline messages, a confirm bar.

:class:`WrapLabel` is why the pages never overlap themselves. A plain word-wrapping
``QLabel`` tells its layout it needs one line; narrower than the text, it needs three,
and the layout below it gets squeezed until the widgets run over each other (the code
page's domain list ran under "Email before expiry" and Register). A ``WrapLabel``
asks for the height its text needs at the width it has, so the dialog's minimum size,
computed by its layouts, is always enough.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.reminders.session import ReminderSession

#: A wrapped paragraph is never narrower than this many average characters.
PARAGRAPH_MIN_CHARS = 40
#: A wrapped label beside buttons (the confirm bar's question) may be narrower.
SIDE_LABEL_MIN_CHARS = 24
#: Lists show at least this many rows before they scroll.
LIST_MIN_ROWS = 4
#: Extra pixels per list row: the item's margins around the text.
_LIST_ROW_PADDING_PX = 4

#: Text colours by kind, for a light and for a dark window background.
_TONES = {
    "error": ("#b3261e", "#ffb4ab"),
    "success": ("#1b6e2e", "#8fd19e"),
    "warning": ("#8a5a00", "#f0c36d"),
}


def is_dark(palette: QPalette) -> bool:
    """The window background is dark (a dark theme): text colours must be light."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone(kind: str, palette: QPalette) -> QColor | None:
    """The colour for an error, success or warning text on this palette (None: default)."""
    pair = _TONES.get(kind)
    if pair is None:
        return None
    return QColor(pair[1] if is_dark(palette) else pair[0])


class WrapLabel(QLabel):
    """A word-wrapping label whose size hints are the height its text needs at its width.

    Its minimum width is ``min_chars`` average characters, so the dialog's minimum
    width leaves room for it; when its width changes it asks its layout again.
    """

    def __init__(self, text: str = "", *, min_chars: int = PARAGRAPH_MIN_CHARS) -> None:
        super().__init__(text)
        self.setWordWrap(True)
        self._min_chars = min_chars
        self._tone = ("", False)

    def set_tone(self, kind: str, *, bold: bool = False) -> None:
        """Colour the text for ``kind`` (error, success, warning; "" = the theme's own),
        in the light or dark variant the palette needs, now and after a theme change."""
        self._tone = (kind, bold)
        font = self.font()
        font.setWeight(QFont.Weight.DemiBold if bold else QFont.Weight.Normal)
        self.setFont(font)
        self._apply_tone()

    def _apply_tone(self) -> None:
        colour = tone(self._tone[0], self.palette())
        role = QPalette.ColorRole.WindowText
        if colour is None:
            if self.palette().resolveMask():
                self.setPalette(QPalette())  # inherit everything again
            return
        if self.palette().color(role) != colour:  # (setting it sends another PaletteChange)
            palette = QPalette()
            palette.setColor(role, colour)
            self.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_tone()

    def hasHeightForWidth(self) -> bool:
        # The hints below already answer for the current width; Qt's own
        # height-for-width handling does not reach a window's minimum size.
        return False

    def min_width(self) -> int:
        return self.fontMetrics().averageCharWidth() * self._min_chars

    def _needed_height(self) -> int:
        return self.heightForWidth(max(self.width(), self.min_width()))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.min_width(), self._needed_height())

    def sizeHint(self) -> QSize:
        width = max(super().sizeHint().width(), self.min_width())
        return QSize(width, self._needed_height())

    def setText(self, text: str) -> None:
        super().setText(text)
        self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()  # more or fewer lines now: the layout must know


class Notice(WrapLabel):
    """The inline message under each step: info, success or error, with a colour."""

    def __init__(self) -> None:
        super().__init__()
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setAccessibleName("Message")
        self.kind = ""
        self.show_text("")

    def show_text(self, text: str, kind: str = "info") -> None:
        self.kind = kind if text else ""
        self.setText(text)
        self.setVisible(bool(text))
        self.set_tone(self.kind, bold=self.kind == "error")


class Confirm(QFrame):
    """An inline "are you sure?" bar: a question and two buttons (never a modal box)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.question = WrapLabel(min_chars=SIDE_LABEL_MIN_CHARS)
        self.yes = QPushButton()
        self.no = QPushButton("Cancel")
        layout = QHBoxLayout(self)
        layout.addWidget(self.question, 1)
        layout.addWidget(self.no)
        layout.addWidget(self.yes)
        self._action: Callable[[], None] | None = None
        self.yes.clicked.connect(self._confirmed)
        self.no.clicked.connect(self.hide)
        self.hide()

    def ask(self, question: str, yes_text: str, action: Callable[[], None]) -> None:
        self.question.setText(question)
        self.yes.setText(yes_text)
        self._action = action
        self.show()
        self.yes.setFocus()

    def _confirmed(self) -> None:
        self.hide()
        if self._action is not None:
            self._action()


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    label.setFont(font)
    return label


def buddy_label(text: str, buddy: QWidget) -> QLabel:
    """A label with a mnemonic (``&Code``) that moves the focus to ``buddy``."""
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def set_list_min_rows(view: QAbstractScrollArea, rows: int = LIST_MIN_ROWS) -> None:
    """Tall enough for ``rows`` rows of checkable text; more rows scroll."""
    row = max(
        view.fontMetrics().lineSpacing(),
        view.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorHeight),
    )
    view.setMinimumHeight(rows * (row + _LIST_ROW_PADDING_PX) + 2 * view.frameWidth())


class PageBase(QWidget):
    """One step of the dialog: its widgets, its inline message, its buttons' states.

    Subclasses fill :attr:`layout_` and redraw their buttons in :meth:`update_buttons`,
    which runs whenever the session changes (a call started or ended, a tick).
    """

    def __init__(self, session: ReminderSession) -> None:
        super().__init__()
        self.session = session
        self.notice = Notice()
        self.layout_: QBoxLayout = QVBoxLayout(self)
        session.changed.connect(self.update_buttons)

    def update_buttons(self) -> None:
        """Enable what can be used now (default: nothing to do)."""

    def focus_widget(self) -> QWidget | None:
        """Where the keyboard focus goes when the page is shown."""
        return None

    def show_failure(self, step: str, exc: BaseException) -> None:
        """Say inline what went wrong in ``step`` and what to do next."""
        self.notice.show_text(self.session.note_failure(step, exc), "error")
