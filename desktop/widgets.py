"""Small widgets that make layouts honest about the room their contents need.

A word-wrapped ``QLabel`` reports a minimum size its text does not fit in: Qt picks a
narrow minimum width, and the layout then reserves the height of one or two lines,
so at a dialog's minimum size a long sentence is cut off or runs under the next
widget. :class:`WrappingLabel` reports a minimum width of a readable line and the
height its text needs at that width; any wider, it needs fewer lines, so a layout
built from it never clips it.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QWidget

#: The narrowest a wrapped sentence may get, in average characters of its font.
DEFAULT_MIN_LINE_CHARS = 40


class WrappingLabel(QLabel):
    """A word-wrapped label whose minimum size fits its whole text."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        min_line_chars: int = DEFAULT_MIN_LINE_CHARS,
    ) -> None:
        super().__init__(text, parent)
        self._min_line_chars = min_line_chars
        self.setWordWrap(True)

    def minimumSizeHint(self) -> QSize:
        if not self.text():
            return super().minimumSizeHint()
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        extra = margins.left() + margins.right() + 2 * self.margin() + 2 * self._indent_px()
        one_line = metrics.horizontalAdvance(self.text()) + extra + 1
        width = min(metrics.averageCharWidth() * self._min_line_chars + extra, one_line)
        return QSize(width, self.heightForWidth(width))

    def _indent_px(self) -> int:
        """The indent Qt applies to the text (none unless set, or a frame asks for it)."""
        return max(self.indent(), 0)
