"""Dialogs lay themselves out: minimum sizes from their layouts, nothing overlapping.

Every page of the Email Reminders dialog is put in the state a user sees (a code on
its way with thirty domains, a subscription with the confirm bar open, a failed
lookup) and checked with :func:`tests.helpers.layout.assert_no_overlap` at its
minimum size, at sizes above it, with a large font, in a dark palette, and at
``QT_SCALE_FACTOR=2`` (in a child process: the factor is read once, at start).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from desktop.reminders import Page, RemindersDialog
from desktop.reminders.widgets import WrapLabel, is_dark, tone
from tests.helpers.layout import (
    assert_no_overlap,
    layout_problems,
    settle,
    show_at_minimum_size,
)
from tests.helpers.reminder_pages import WATCHLIST, staged_dialog
from tests.helpers.themes import dark_palette

ROOT = Path(__file__).resolve().parents[2]
PAGES = list(Page)


@pytest.fixture
def stage(qtbot: Any, tmp_path: Path) -> Iterator[Any]:
    """``stage(page)``: a shown dialog on ``page``, as after real use (offline)."""
    dialogs: list[RemindersDialog] = []

    def make(page: Page) -> RemindersDialog:
        def wait_until(predicate: Any) -> None:
            qtbot.waitUntil(predicate, timeout=10_000)

        dialog = staged_dialog(page, tmp_path / f"{page.name}-{len(dialogs)}", wait_until)
        qtbot.addWidget(dialog)
        dialogs.append(dialog)
        settle(dialog, qtbot)
        return dialog

    yield make
    for dialog in dialogs:
        dialog.close()


@pytest.fixture
def big_font(qapp: QApplication) -> Iterator[QFont]:
    """The user's system font at twice the size (set before the dialog is built)."""
    original = QApplication.font()
    big = QFont(original)
    big.setPointSizeF(original.pointSizeF() * 2)
    QApplication.setFont(big)
    yield big
    QApplication.setFont(original)


@pytest.fixture
def dark(qapp: QApplication) -> Iterator[QPalette]:
    original = QApplication.palette()
    palette = dark_palette()
    QApplication.setPalette(palette)
    yield palette
    QApplication.setPalette(original)


def text_colour(label: QLabel) -> QColor:
    return label.palette().color(QPalette.ColorRole.WindowText)


def check_sizes(dialog: RemindersDialog, qtbot: Any) -> None:
    """No overlap at the minimum size and at several sizes above it."""
    show_at_minimum_size(dialog, qtbot)
    assert_no_overlap(dialog)
    minimum = dialog.size()
    for size in (
        QSize(minimum.width() + 1, minimum.height()),
        QSize(minimum.width() * 3 // 2, minimum.height()),  # wider: fewer wrapped lines
        QSize(minimum.width(), minimum.height() + 57),
        minimum * 2,
    ):
        dialog.resize(size)
        settle(dialog, qtbot)
        assert dialog.width() >= size.width() and dialog.height() >= size.height()
        assert_no_overlap(dialog)


# --------------------------------------------------------------------------- the checker


def test_the_checker_finds_overlaps_overflow_and_clipped_text(qtbot: Any) -> None:
    root = QWidget()
    qtbot.addWidget(root)
    root.resize(300, 200)
    first = QPushButton("A button with a long text", root)
    first.setGeometry(QRect(0, 0, 40, 30))  # narrower than its text
    second = QLabel("Below", root)
    second.setGeometry(QRect(20, 20, 100, 30))  # overlaps the first
    outside = QLabel("Out", root)
    outside.setGeometry(QRect(280, 150, 100, 30))  # sticks out of root
    wrapped = QLabel("A wrapped text that needs several lines at this width", root)
    wrapped.setWordWrap(True)
    wrapped.setGeometry(QRect(0, 100, 60, 20))  # one line's height for many lines
    root.show()
    problems = layout_problems(root)
    assert any("overlaps" in p and "A button" in p and "Below" in p for p in problems)
    assert any("'A button with a long text'" in p and "clipped" in p for p in problems)
    assert any("sticks out" in p and "'Out'" in p for p in problems)
    assert any("wrapped text" in p and "needs" in p for p in problems)
    with pytest.raises(AssertionError, match="layout problems"):
        assert_no_overlap(root)


def test_the_checker_passes_a_sound_layout(qtbot: Any) -> None:
    root = QWidget()
    qtbot.addWidget(root)
    from PySide6.QtWidgets import QVBoxLayout

    layout = QVBoxLayout(root)
    layout.addWidget(QLabel("Title"))
    layout.addWidget(QPushButton("OK"))
    show_at_minimum_size(root, qtbot)
    assert layout_problems(root) == []


# --------------------------------------------------------------------------- the dialog


@pytest.mark.parametrize("page", PAGES, ids=[p.name.lower() for p in PAGES])
def test_every_page_has_no_overlap_at_and_above_its_minimum_size(
    stage: Any, qtbot: Any, page: Page
) -> None:
    check_sizes(stage(page), qtbot)


@pytest.mark.parametrize("page", PAGES, ids=[p.name.lower() for p in PAGES])
def test_every_page_has_no_overlap_with_a_large_font(
    big_font: QFont, stage: Any, qtbot: Any, page: Page
) -> None:
    dialog = stage(page)
    assert dialog.code_page.register_button.font().pointSizeF() == big_font.pointSizeF()
    check_sizes(dialog, qtbot)


@pytest.mark.parametrize("page", [Page.CODE, Page.MANAGE], ids=["code", "manage"])
def test_every_page_has_no_overlap_in_a_dark_palette(
    dark: QPalette, stage: Any, qtbot: Any, page: Page
) -> None:
    check_sizes(stage(page), qtbot)


def test_the_minimum_size_comes_from_the_layout_and_holds(stage: Any, qtbot: Any) -> None:
    dialog = stage(Page.CODE)
    layout = dialog.layout()
    assert layout is not None
    show_at_minimum_size(dialog, qtbot)
    assert dialog.minimumSize() == layout.totalMinimumSize()
    dialog.resize(50, 50)  # smaller than the layout allows: refused
    settle(dialog, qtbot)
    assert dialog.size() == dialog.minimumSize()
    assert_no_overlap(dialog)


def test_the_code_page_domain_list_keeps_rows_visible_and_scrolls(stage: Any, qtbot: Any) -> None:
    dialog = stage(Page.CODE)
    show_at_minimum_size(dialog, qtbot)
    domains = dialog.code_page.domain_list
    assert domains.count() == len(WATCHLIST)
    assert domains.height() >= 4 * domains.sizeHintForRow(0)  # at least four rows show
    assert domains.verticalScrollBar().maximum() > 0  # the rest scroll
    below = dialog.code_page.threshold.mapTo(dialog, dialog.code_page.threshold.rect().topLeft())
    assert domains.mapTo(dialog, domains.rect().bottomLeft()).y() < below.y()


def test_a_longer_message_grows_the_minimum_instead_of_overlapping(stage: Any, qtbot: Any) -> None:
    dialog = stage(Page.CODE)
    show_at_minimum_size(dialog, qtbot)
    before = dialog.minimumHeight()
    dialog.code_page.notice.show_text(
        "These entries can't be watched: "
        + "; ".join(f"client{n:02d}.example.com (not a registered domain)" for n in range(10))
        + " and 3 more. Untick them and try again.",
        "error",
    )
    settle(dialog, qtbot)
    assert dialog.minimumHeight() > before
    assert dialog.height() >= dialog.minimumHeight()
    assert_no_overlap(dialog)


def test_a_narrower_window_gives_wrapped_text_more_lines(stage: Any, qtbot: Any) -> None:
    dialog = stage(Page.EMAIL)
    dialog.resize(1200, 600)
    settle(dialog, qtbot)
    wide_minimum = dialog.minimumHeight()
    show_at_minimum_size(dialog, qtbot)
    assert dialog.minimumHeight() > wide_minimum  # the intro wraps to more lines
    assert_no_overlap(dialog)


def test_messages_are_readable_in_a_dark_palette(dark: QPalette, stage: Any) -> None:
    dialog = stage(Page.EMAIL)
    assert is_dark(dialog.palette())
    notice = dialog.email_page.notice
    error = tone("error", dialog.palette())
    assert error is not None and error.lightness() > 128  # light red on a dark window
    assert text_colour(notice) == error


def test_messages_are_readable_in_a_light_palette(stage: Any) -> None:
    dialog = stage(Page.EMAIL)
    assert not is_dark(dialog.palette())
    error = tone("error", dialog.palette())
    assert error is not None and error.lightness() < 128
    assert text_colour(dialog.email_page.notice) == error


def test_a_theme_change_while_open_recolours_the_messages(
    stage: Any, qtbot: Any, qapp: QApplication
) -> None:
    dialog = stage(Page.MANAGE)
    notice, storage = dialog.manage_page.notice, dialog.manage_page.storage_label
    light_success = tone("success", dialog.palette())
    assert light_success is not None and text_colour(notice) == light_success
    original = QApplication.palette()
    QApplication.setPalette(dark_palette())
    try:
        settle(dialog, qtbot)
        dark_success, dark_warning = (
            tone("success", dialog.palette()),
            tone("warning", dialog.palette()),
        )
        assert dark_success is not None and dark_warning is not None
        assert text_colour(notice) == dark_success
        assert text_colour(storage) == dark_warning  # the sign-in is in a file
    finally:
        QApplication.setPalette(original)
    settle(dialog, qtbot)
    assert text_colour(notice) == light_success


def test_wrap_label_asks_for_the_height_its_text_needs(qtbot: Any) -> None:
    label = WrapLabel("word " * 60)
    qtbot.addWidget(label)
    label.resize(label.min_width(), 10)
    narrow = label.minimumSizeHint().height()
    label.resize(label.min_width() * 3, 10)
    wide = label.minimumSizeHint().height()
    assert narrow > wide > 0
    assert narrow == label.heightForWidth(label.min_width())


_SCALED_PROBE = textwrap.dedent(
    """
    import sys, tempfile
    from pathlib import Path
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from desktop.reminders import Page
    from tests.helpers.layout import layout_problems
    from tests.helpers.reminder_pages import staged_dialog

    def wait_until(predicate):
        import time
        deadline = time.monotonic() + 10
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.01)

    def settle():
        for _ in range(5):
            app.processEvents()

    assert app.devicePixelRatio() == 2, app.devicePixelRatio()
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for page in Page:
            dialog = staged_dialog(page, Path(tmp) / page.name, wait_until)
            for factor in (1, 2):
                for _ in range(5):
                    dialog.resize(dialog.minimumSize() * factor)
                    settle()
                problems += [f"{page.name} x{factor}: {p}" for p in layout_problems(dialog)]
            dialog.close()
    print("\\n".join(problems))
    sys.exit(1 if problems else 0)
    """
)


def test_no_overlap_at_scale_factor_two() -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QT_SCALE_FACTOR": "2",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCALED_PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
