"""The results table: readable columns at any size, row actions, keys, selection."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu, QStyle

from core.models import Target
from desktop.rows import (
    COLUMN_DOMAIN,
    COLUMN_GROUP,
    COLUMN_NEXT_EXPIRY,
    COLUMN_PROBLEM,
    COLUMN_STATUS,
    HEADERS,
    next_expiry_text,
)
from desktop.table_view import (
    DOMAIN_MAX_CHARS,
    DOMAIN_MIN_CHARS,
    NEW_GROUP_LABEL,
    NO_GROUP_LABEL,
    PROBLEM_MIN_SHARE,
    STATUS_TEXTS,
    site_url,
)
from tests.desktop.sample_rows import sample_results
from tests.desktop.window_fixtures import make_window

#: A typical problem text, as long as the ones users see (a name not covered).
TYPICAL_PROBLEM = (
    "certificate does not cover checkout.acme-shop.test (it covers localhost, 127.0.0.1, ::1)"
)
#: How many of its characters Problem shows, at least, per window size: before, a
#: 900x600 window showed 29 ("certificate doe…127.0.0.1, ::1)").
PROBLEM_CHARS = {(900, 600): 45, (1000, 700): 50, (1280, 800): 75}


def _shown(window: Any, column: int = COLUMN_DOMAIN) -> list[str]:
    proxy = window.proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def _chars_shown(table: Any, column: int, text: str) -> int:
    """How many leading characters of ``text`` the column's cell has room for (Qt's
    item text margin, the focus frame's plus one, on either side)."""
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    room = table.columnWidth(column) - 2 * margin
    metrics = table.fontMetrics()
    return max(n for n in range(len(text) + 1) if metrics.horizontalAdvance(text[:n]) <= room)


@pytest.mark.parametrize("size", [(900, 600), (1280, 800)])
def test_status_and_problem_are_readable_at_small_and_large_sizes(
    qtbot: Any, size: tuple[int, int]
) -> None:
    window = make_window(qtbot, size=size)
    table = window.table
    # "certificate does not cover checkout.acme-shop" at 900x600, 75 or more at 1280x800.
    assert _chars_shown(table, COLUMN_PROBLEM, TYPICAL_PROBLEM) >= PROBLEM_CHARS[size]
    metrics = table.fontMetrics()
    longest = max(metrics.horizontalAdvance(text) for text in STATUS_TEXTS)
    # Text, icon and the cell's margins all fit: "Not checked" is never "Not ch…".
    assert table.columnWidth(COLUMN_STATUS) >= longest + table.iconSize().width() + 8
    viewport = table.viewport().width()
    assert table.columnWidth(COLUMN_PROBLEM) >= PROBLEM_MIN_SHARE * viewport - 1
    # Problem comes right after the name, so it is on screen without scrolling.
    problem_left = table.columnViewportPosition(COLUMN_PROBLEM)
    assert problem_left >= 0 and problem_left + PROBLEM_MIN_SHARE * viewport <= viewport
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle
    header = window.model.headerData(COLUMN_NEXT_EXPIRY, Qt.Orientation.Horizontal)
    assert header == "Next expiry" and HEADERS[COLUMN_GROUP] == "Group"


@pytest.mark.parametrize("size", [(900, 600), (1000, 700), (1280, 800)])
def test_status_domain_problem_and_next_expiry_fit_without_scrolling(
    qtbot: Any, size: tuple[int, int]
) -> None:
    """At 900x600 "Next expiry" used to be cut at the right edge behind the scroll bar.
    Now the four key columns are in the view, whole; only the columns after them
    scroll."""
    window = make_window(qtbot, size=size)
    table = window.table
    viewport = table.viewport().width()
    assert table.horizontalScrollBar().value() == 0
    for column in (COLUMN_STATUS, COLUMN_DOMAIN, COLUMN_PROBLEM, COLUMN_NEXT_EXPIRY):
        left = table.columnViewportPosition(column)
        assert left >= 0, HEADERS[column]
        assert left + table.columnWidth(column) <= viewport, HEADERS[column]
    # Next expiry is never elided: its longest text in the rows fits, with no more
    # than the usual room around it.
    metrics = table.fontMetrics()
    longest = max(metrics.horizontalAdvance(text) for text in _shown(window, COLUMN_NEXT_EXPIRY))
    assert longest + 8 <= table.columnWidth(COLUMN_NEXT_EXPIRY) <= longest + 24
    # Domain gave up width first; Problem keeps most of what is left.
    assert table.columnWidth(COLUMN_PROBLEM) >= PROBLEM_MIN_SHARE * viewport - 1
    assert _chars_shown(table, COLUMN_PROBLEM, TYPICAL_PROBLEM) >= PROBLEM_CHARS[size]
    assert table.columnWidth(COLUMN_PROBLEM) > table.columnWidth(COLUMN_DOMAIN)


def test_next_expiry_is_as_wide_as_its_texts_need(qtbot: Any) -> None:
    """Without expired rows the column is narrower; an expired row's longer text
    widens it (after the batch), and Problem gives the width back."""
    window = make_window(qtbot, size=(900, 600))
    table, model = window.table, window.model
    metrics = table.fontMetrics()
    with_expired = table.columnWidth(COLUMN_NEXT_EXPIRY)
    expired = [t for t in _shown(window, COLUMN_NEXT_EXPIRY) if "expired" in t]
    assert expired and with_expired >= metrics.horizontalAdvance(expired[0]) + 8
    results = [(t, r) for t, r in sample_results() if "expired" not in next_expiry_text(r)]
    model.set_rows(results)
    QApplication.processEvents()
    narrow = table.columnWidth(COLUMN_NEXT_EXPIRY)
    longest = max(metrics.horizontalAdvance(t) for t in _shown(window, COLUMN_NEXT_EXPIRY))
    assert longest + 8 <= narrow < with_expired
    problem, domain = table.columnWidth(COLUMN_PROBLEM), table.columnWidth(COLUMN_DOMAIN)
    model.apply_results([r for t, r in sample_results() if t.display == "mail.acme.example"])
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_NEXT_EXPIRY) == with_expired
    # Domain and Problem gave the width back; the four still fit side by side.
    given_back = problem + domain - table.columnWidth(COLUMN_PROBLEM)
    assert given_back - table.columnWidth(COLUMN_DOMAIN) == with_expired - narrow


def test_a_narrow_window_narrows_the_input_panel_and_the_domain_first(qtbot: Any) -> None:
    window = make_window(qtbot, size=(1280, 800))
    wide_input = window.main_splitter.sizes()[0]
    wide_domain = window.table.columnWidth(COLUMN_DOMAIN)
    window.resize(900, 600)
    QApplication.processEvents()
    narrow_input = window.main_splitter.sizes()[0]
    assert window.input_panel.minimumSizeHint().width() <= narrow_input < wide_input
    assert window.table.columnWidth(COLUMN_DOMAIN) < wide_domain
    window.resize(1280, 800)
    QApplication.processEvents()
    assert window.main_splitter.sizes()[0] == wide_input  # and back
    assert window.table.columnWidth(COLUMN_DOMAIN) == wide_domain


def test_a_domain_width_the_user_chose_holds_in_a_narrow_window(qtbot: Any) -> None:
    window = make_window(qtbot, size=(900, 600))
    table = window.table
    table.horizontalHeader().resizeSection(COLUMN_DOMAIN, 300)  # a drag of its edge
    assert table.columnWidth(COLUMN_DOMAIN) == 300  # not snapped back
    viewport = table.viewport().width()
    assert table.columnWidth(COLUMN_PROBLEM) >= PROBLEM_MIN_SHARE * viewport - 1
    window.resize(1000, 650)
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_DOMAIN) == 300


def _domain_bounds(table: Any) -> tuple[int, int]:
    """Domain's least and most width in pixels, from the font in use."""
    char = table.fontMetrics().averageCharWidth()
    return DOMAIN_MIN_CHARS * char, DOMAIN_MAX_CHARS * char + 24


def test_domain_is_as_wide_as_its_longest_name_up_to_a_cap(qtbot: Any) -> None:
    window = make_window(qtbot, size=(2600, 900))  # room for every column
    table, model = window.table, window.model
    metrics = table.fontMetrics()
    least, most = _domain_bounds(table)
    # The samples hold a 44-character name: Domain stops at the cap (elided).
    longest_name = max(_shown(window), key=metrics.horizontalAdvance)
    assert len(longest_name) > DOMAIN_MAX_CHARS
    assert table.columnWidth(COLUMN_DOMAIN) <= most < metrics.horizontalAdvance(longest_name)
    # Only shorter names: as wide as the longest of them (measured once the batch is
    # in, after a zero-delay timer), and Problem takes the width given back.
    problem = table.columnWidth(COLUMN_PROBLEM)
    short = [(t, r) for t, r in sample_results() if len(t.label) <= 22]
    mail = Target("mx1.mail.test", 25, protocol="smtp", serves="mail.test")
    model.set_rows([*short, (mail, None)])
    QApplication.processEvents()
    widest = max(metrics.horizontalAdvance(text) for text in _shown(window))
    assert widest < most - 24
    assert widest + 8 <= table.columnWidth(COLUMN_DOMAIN) <= widest + 24
    assert table.columnWidth(COLUMN_PROBLEM) > problem
    # A longer name widens it after the batch; removing it narrows it again.
    fitted = table.columnWidth(COLUMN_DOMAIN)
    longer = Target("checkout.eu-west.acme-shop.test", 443)
    model.add_targets([longer])
    assert table.columnWidth(COLUMN_DOMAIN) == fitted  # not yet: once per batch
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_DOMAIN) >= metrics.horizontalAdvance(longer.label) + 8
    model.remove_keys([longer.key])
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_DOMAIN) == fitted
    # Very short names: never narrower than DOMAIN_MIN_CHARS, nor its title.
    model.set_rows([(Target("a.io", 443), None)])
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_DOMAIN) >= least
    title = table.horizontalHeader().fontMetrics().horizontalAdvance(HEADERS[COLUMN_DOMAIN])
    assert table.columnWidth(COLUMN_DOMAIN) >= title


@pytest.mark.parametrize("size", [(900, 600), (1280, 800)])
def test_mail_server_labels_show_whole_at_1280x800(qtbot: Any, size: tuple[int, int]) -> None:
    """``smtp://mx1.mail.test`` used to show as "smtp://mx1.… mail.test)"."""
    window = make_window(qtbot, size=size)
    table, model = window.table, window.model
    mail = [Target(f"mx{n}.mail.test", 25, protocol="smtp", serves="mail.test") for n in (1, 2)]
    model.add_targets(mail)
    QApplication.processEvents()
    metrics = table.fontMetrics()
    if size == (1280, 800):
        for target in mail:
            needed = metrics.horizontalAdvance(target.label) + 8
            assert table.columnWidth(COLUMN_DOMAIN) >= needed, target.label
    # Problem keeps its readable minimum either way, and the four key columns fit.
    assert _chars_shown(table, COLUMN_PROBLEM, TYPICAL_PROBLEM) >= PROBLEM_CHARS[size]
    right = table.columnViewportPosition(COLUMN_NEXT_EXPIRY) + table.columnWidth(COLUMN_NEXT_EXPIRY)
    assert right <= table.viewport().width()


def test_a_dragged_domain_width_holds_as_rows_come_and_go(qtbot: Any) -> None:
    window = make_window(qtbot, size=(1280, 800))
    table, model = window.table, window.model
    table.horizontalHeader().resizeSection(COLUMN_DOMAIN, 140)  # a drag of its edge
    model.add_targets([Target("a-rather-long-name.subdomain.example.test", 443)])
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_DOMAIN) == 140
    model.set_rows([(Target("a.io", 443), None)])
    QApplication.processEvents()
    assert table.columnWidth(COLUMN_DOMAIN) == 140


def test_problem_column_fills_what_the_others_leave(qtbot: Any) -> None:
    window = make_window(qtbot, size=(2600, 900))
    table = window.table
    widths = sum(table.columnWidth(c) for c in range(window.model.columnCount()))
    assert abs(widths - table.viewport().width()) <= 1  # no gap, no scrolling
    before = table.columnWidth(COLUMN_PROBLEM)
    table.setColumnWidth(COLUMN_DOMAIN, table.columnWidth(COLUMN_DOMAIN) + 50)
    assert table.columnWidth(COLUMN_PROBLEM) == before - 50


def test_problem_tooltip_has_the_whole_text(qtbot: Any) -> None:
    window = make_window(qtbot, size=(900, 600))
    proxy = window.proxy
    for row in range(proxy.rowCount()):
        text = proxy.index(row, COLUMN_PROBLEM).data()
        if text:
            assert proxy.index(row, COLUMN_PROBLEM).data(Qt.ItemDataRole.ToolTipRole) == text


def test_delete_key_removes_the_selected_rows(qtbot: Any) -> None:
    window = make_window(qtbot)
    assert window.select_keys([("acme.example", 443), ("blog.example", 443)]) == 2
    window.table.setFocus()
    with qtbot.waitSignal(window.remove_requested) as removed:
        qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    assert sorted(removed.args[0]) == [("acme.example", 443), ("blog.example", 443)]
    # In the text box, Delete deletes a character and removes nothing.
    window.input.setPlainText("ab")
    window.input.setFocus()
    with qtbot.assertNotEmitted(window.remove_requested):
        qtbot.keyClick(window.input, Qt.Key.Key_Home)
        qtbot.keyClick(window.input, Qt.Key.Key_Delete)
    assert window.input.toPlainText() == "b"


def test_ctrl_z_undoes_a_removal_only_in_the_table(qtbot: Any) -> None:
    window = make_window(qtbot)
    assert not window.undo_action.isEnabled()
    window.set_undo_available("Bring back acme.example")
    assert window.undo_action.isEnabled()
    assert window.undo_action.toolTip() == "Bring back acme.example"
    edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert isinstance(edit_menu, QMenu) and window.undo_action in edit_menu.actions()
    window.table.setFocus()
    with qtbot.waitSignal(window.undo_requested):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    window.input.setPlainText("")
    window.input.setFocus()
    qtbot.keyClicks(window.input, "typo")
    with qtbot.assertNotEmitted(window.undo_requested):
        qtbot.keyClick(window.input, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.input.toPlainText() != "typo"  # the text box undid its typing
    window.set_undo_available(None)
    assert not window.undo_action.isEnabled()


class _UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def test_context_menu_actions(qtbot: Any) -> None:
    window = make_window(qtbot)
    table = window.table
    window.select_keys([("intranet.acme.example", 8443)])
    rows = table.selected_rows()
    menu = table.row_menu(rows)
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == [
        "&Check Now",
        "Open in &Browser",
        "Copy &Name",
        "Set &Group",
        "Set &Threshold…",
        "Set Threshold for Group “Acme Corp”…",
        "Set Registration &Expiry…",
        "&Remove from Watchlist",
    ]
    actions = {a.text(): a for a in menu.actions()}
    key = [("intranet.acme.example", 8443)]

    with qtbot.waitSignal(window.check_now_requested) as checked:
        actions["&Check Now"].trigger()
    assert checked.args == [key]

    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")  # type: ignore[arg-type]
    try:
        actions["Open in &Browser"].trigger()
    finally:
        QDesktopServices.unsetUrlHandler("https")
    assert catcher.urls == ["https://intranet.acme.example:8443/"]

    actions["Copy &Name"].trigger()
    assert QGuiApplication.clipboard().text() == "intranet.acme.example:8443"

    group_menu = actions["Set &Group"].menu()
    assert isinstance(group_menu, QMenu)
    group_actions = {a.text(): a for a in group_menu.actions() if not a.isSeparator()}
    assert list(group_actions) == [
        "Acme Corp",
        "Bistro Lumière",
        "Personal",
        NEW_GROUP_LABEL,
        NO_GROUP_LABEL,
    ]
    assert group_actions["Acme Corp"].isChecked()  # the row's group now
    with qtbot.waitSignal(window.group_requested) as grouped:
        group_actions["Personal"].trigger()
    assert grouped.args == [key, "Personal"]
    with qtbot.waitSignal(window.group_requested) as grouped:
        group_actions[NO_GROUP_LABEL].trigger()
    assert grouped.args == [key, ""]
    group_actions[NEW_GROUP_LABEL].trigger()
    dialog = table.new_group_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("  New   Client  ")
    with qtbot.waitSignal(window.group_requested) as grouped:
        dialog.accept()
    assert grouped.args == [key, "New Client"]

    with qtbot.waitSignal(window.remove_requested) as removed:
        actions["&Remove from Watchlist"].trigger()
    assert removed.args == [key]


def test_context_menu_for_several_rows_and_the_row_under_the_pointer(qtbot: Any) -> None:
    window = make_window(qtbot)
    table = window.table
    window.select_keys([("acme.example", 443), ("blog.example", 443)])
    menu = table.row_menu(table.selected_rows())
    assert "Open in &Browser (2)" in [a.text() for a in menu.actions()]
    # Right-clicking an unselected row acts on that row alone.
    position = window.model.row_of(("photos.example", 443))
    assert position is not None
    target = window.proxy.mapFromSource(window.model.index(position, 0))
    point = table.visualRect(target).center()
    assert [r.key for r in table.menu_rows_at(point)] == [("photos.example", 443)]
    window.filter_edit.setText("photos.example")  # one row left: below it is empty
    assert table.menu_rows_at(table.viewport().rect().bottomLeft()) == []


def test_site_url_brackets_ipv6_and_keeps_ports() -> None:
    from core.models import Target
    from desktop.rows import WatchRow

    assert site_url(WatchRow(Target("a.test"))).toString() == "https://a.test/"
    assert site_url(WatchRow(Target("::1", 8443))).toString() == "https://[::1]:8443/"


def test_select_keys_clears_filters_that_hide_them(qtbot: Any) -> None:
    window = make_window(qtbot)
    window.filter_bar.choose_status("Valid")
    assert "mail.acme.example" not in _shown(window)
    found = window.select_keys(
        [("mail.acme.example", 443), ("photos.example", 443), ("gone.test", 443)]
    )
    assert found == 2
    assert window.status_filter.currentIndex() == 0
    assert sorted(r.target.host for r in window.selected_rows()) == [
        "mail.acme.example",
        "photos.example",
    ]
    assert window.select_keys([("nothing.test", 443)]) == 0


def test_copy_rows_uses_the_new_columns(qtbot: Any) -> None:
    window = make_window(qtbot)
    window.select_keys([("shop.acme.example", 443)])
    text = window.copy_selected_rows()
    header, line = text.splitlines()
    assert header.split("\t")[:5] == ["Status", "Domain", "Problem", "Next expiry", "Group"]
    assert line.split("\t")[:5] == [
        "Expiring",
        "shop.acme.example",
        "certificate expires in 12 days",
        "certificate in 12 days",
        "Acme Corp",
    ]
    QApplication.processEvents()
