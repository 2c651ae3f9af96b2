"""A layout checker for widget tests: nothing overlaps, nothing sticks out, no text is cut.

    from tests.helpers.layout import assert_no_overlap, show_at_minimum_size
    show_at_minimum_size(dialog, qtbot)
    assert_no_overlap(dialog)

Why: a layout bug (a list running under the buttons below it, a label squeezed to half
its text) is invisible to tests that only click buttons, and a screenshot only shows
one size in one theme. This walks the visible widget tree and checks the geometry
Qt really gave each widget:

* no two visible sibling widgets intersect;
* every visible child lies inside its parent's rectangle (except what a scroll area
  scrolls, which may be larger than its viewport by design);
* no ``QLabel`` or button is smaller than its ``minimumSizeHint()`` (its text would be
  clipped); a word-wrapping label must instead be at least as tall as its text needs
  at the width it has (``heightForWidth``).

Compound controls (spin boxes, line edits, combo boxes) are leaves: how Qt arranges
their own parts is Qt's business. Children named ``qt_*`` (Qt's internals) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

#: Widgets whose inner parts are not checked (Qt lays them out itself).
_LEAVES = (QAbstractSpinBox, QComboBox, QLineEdit)
#: Widgets whose text must never be clipped.
_TEXT_WIDGETS = (QLabel, QAbstractButton)
_DIRECT = Qt.FindChildOption.FindDirectChildrenOnly
#: How many times :func:`show_at_minimum_size` resizes before giving up on a stable size.
_MAX_SETTLE_ROUNDS = 5


def describe(widget: QWidget) -> str:
    """``QPushButton 'Register'``: enough to find the widget in a failure message."""
    name = type(widget).__name__
    label = ""
    if isinstance(widget, QLabel | QAbstractButton):
        label = widget.text()
    label = label or widget.accessibleName() or widget.objectName()
    if len(label) > 40:
        label = label[:37] + "..."
    return f"{name} {label!r}" if label else name


def _visible_children(widget: QWidget) -> list[QWidget]:
    return [
        child
        for child in widget.findChildren(QWidget, options=_DIRECT)
        if child.isVisible() and not child.isWindow() and not child.objectName().startswith("qt_")
    ]


def _scrolled_by_parent(child: QWidget) -> bool:
    """The content of a scroll area: it may be larger than the viewport showing it."""
    parent = child.parentWidget()
    return parent is not None and parent.objectName() == "qt_scrollarea_viewport"


def _walk(widget: QWidget) -> Iterator[QWidget]:
    yield widget
    if isinstance(widget, _LEAVES):
        return
    children = _visible_children(widget)
    viewport = widget.findChild(QWidget, "qt_scrollarea_viewport", _DIRECT)
    if viewport is not None and viewport.isVisible():
        children += _visible_children(viewport)
    for child in children:
        yield from _walk(child)


def _text_problem(widget: QWidget) -> str | None:
    size = widget.size()
    if isinstance(widget, QLabel) and widget.wordWrap():
        needed = widget.heightForWidth(size.width())
        if needed > size.height():
            return (
                f"{describe(widget)} is {size.height()} px tall but its wrapped text "
                f"needs {needed} px at width {size.width()}"
            )
        return None
    hint = widget.minimumSizeHint()
    if size.width() < hint.width() or size.height() < hint.height():
        return (
            f"{describe(widget)} is {size.width()}x{size.height()}, smaller than its "
            f"minimum {hint.width()}x{hint.height()}: its text is clipped"
        )
    return None


def layout_problems(root: QWidget) -> list[str]:
    """Every overlap, overflow and clipped text under ``root`` (which must be shown)."""
    QApplication.processEvents()  # pending layout requests first
    problems: list[str] = []
    for widget in _walk(root):
        if widget is not root and isinstance(widget, _TEXT_WIDGETS):
            problem = _text_problem(widget)
            if problem is not None:
                problems.append(problem)
        siblings = _visible_children(widget)
        bounds = widget.rect()
        for index, child in enumerate(siblings):
            if not _scrolled_by_parent(child) and not bounds.contains(child.geometry()):
                problems.append(
                    f"{describe(child)} at {_rect(child)} sticks out of "
                    f"{describe(widget)} ({bounds.width()}x{bounds.height()})"
                )
            for other in siblings[index + 1 :]:
                if child.geometry().intersects(other.geometry()):
                    problems.append(
                        f"{describe(child)} at {_rect(child)} overlaps "
                        f"{describe(other)} at {_rect(other)} in {describe(widget)}"
                    )
    return problems


def assert_no_overlap(root: QWidget) -> None:
    """Fail with every layout problem under ``root``, each on its own line."""
    problems = layout_problems(root)
    size = root.size()
    assert not problems, f"layout problems at {size.width()}x{size.height()}:\n" + "\n".join(
        problems
    )


def settle(root: QWidget, qtbot: Any) -> None:
    """Let posted layout requests and resizes run."""
    QApplication.processEvents()
    qtbot.wait(10)
    QApplication.processEvents()


def show_at_minimum_size(root: QWidget, qtbot: Any) -> None:
    """Show ``root`` and shrink it to its minimum size (which its layout may then raise).

    A word-wrapping label needs more lines when narrower, so the minimum height can
    depend on the width: resize until the size and the minimum agree.
    """
    root.show()
    settle(root, qtbot)
    for _ in range(_MAX_SETTLE_ROUNDS):
        minimum = root.minimumSize().expandedTo(root.minimumSizeHint())
        root.resize(minimum)
        settle(root, qtbot)
        if root.size() == root.minimumSize().expandedTo(root.minimumSizeHint()):
            return
    raise AssertionError(
        f"{describe(root)} never settled at its minimum size "
        f"(size {root.size().toTuple()}, minimum {root.minimumSize().toTuple()})"
    )


def _rect(widget: QWidget) -> str:
    g = widget.geometry()
    return f"({g.x()},{g.y()} {g.width()}x{g.height()})"
