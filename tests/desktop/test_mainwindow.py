"""The window: drag and drop of files, links and text; rejected lines; copy; details."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from core.errors import ErrorKind
from core.models import CertInfo, InputError, Status
from desktop.mainwindow import INPUT_SOURCE, file_url_mime
from desktop.rows import COLUMN_DOMAIN, COLUMN_PROBLEM, NO_NETWORK_TEXT
from desktop.splitters import DETAILS_MAX_SHARE, INPUT_WIDTH_PX
from tests.desktop.fakes import FakeEngine, make_result
from tests.desktop.window_fixtures import make_window
from tests.helpers.layout import assert_no_overlap


def drag_and_drop(target: QWidget, mime: QMimeData) -> bool:
    """Send a real drag-enter then drop to ``target``; returns whether it was accepted."""
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        QPoint(10, 10), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        QPointF(10, 10), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def domains_shown(app: Any) -> list[str]:
    proxy = app.window.proxy
    return sorted(proxy.index(r, COLUMN_DOMAIN).data() for r in range(proxy.rowCount()))


def test_dropping_files_on_the_input_watches_and_checks_them(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    app.start()
    first = tmp_path / "a.txt"
    first.write_text("one.test\ntwo.test # comment\nnot a domain\n")
    second = tmp_path / "b.csv"
    second.write_text("domain,owner\nthree.test,me\nbad@x.test,you\n")
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        assert drag_and_drop(app.window.input.viewport(), file_url_mime([first, second]))
    assert domains_shown(app) == ["one.test", "three.test", "two.test"]
    assert sorted(t.host for t in engine.checked) == ["one.test", "three.test", "two.test"]
    assert [t.host for t in app.watchlist.targets()] == ["one.test", "two.test", "three.test"]
    assert app.window.input.toPlainText() == ""  # files are not pasted into the input
    errors = [app.window.input_errors.item(i).text() for i in range(2)]
    assert errors[0].startswith("a.txt, line 3: not a domain — ")
    assert errors[1].startswith("b.csv, line 3: bad@x.test — ")
    assert app.window.input_errors.isVisibleTo(app.window)


def test_dropping_files_on_the_table_works_too(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    listing = tmp_path / "list.txt"
    listing.write_text("table.test\n")
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        assert drag_and_drop(app.window.table.viewport(), file_url_mime([listing]))
    assert domains_shown(app) == ["table.test"]


def test_dropping_browser_links_and_text_appends_lines(make_app: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    edit = app.window.input
    edit.setPlainText("typed.test")
    links = QMimeData()
    links.setUrls([QUrl("https://shop.example.test/cart?x=1"), QUrl("http://b.test:8443/")])
    assert drag_and_drop(edit.viewport(), links)
    text = QMimeData()
    text.setText("dragged.test\nalso.test")
    assert drag_and_drop(edit.viewport(), text)
    assert edit.toPlainText().splitlines() == [
        "typed.test",
        "https://shop.example.test/cart?x=1",
        "http://b.test:8443/",
        "dragged.test",
        "also.test",
    ]
    assert app.model.rowCount() == 0  # text waits for the Check button


def test_unusable_drops_are_refused(make_app: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    empty = QMimeData()
    empty.setData("application/x-nothing", b"\x00")
    assert not drag_and_drop(app.window.input.viewport(), empty)
    assert not drag_and_drop(app.window.table.viewport(), empty)


def test_unreadable_dropped_file_is_a_message_not_a_crash(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 10)
    with qtbot.waitSignal(app.messages.shown) as shown:
        drag_and_drop(app.window.input.viewport(), file_url_mime([binary]))
    assert "photo.txt" in shown.args[0].text
    assert app.model.rowCount() == 0


def test_check_button_shows_rejected_lines_inline(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    app.window.input.setPlainText("good.test\nuser@example.test\nx..y.test\nbücher.test\n")
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        qtbot.keyClick(app.window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    items = [app.window.input_errors.item(i).text() for i in range(app.window.input_errors.count())]
    # The accepted lines were added and cleared; the rejected ones stay, renumbered.
    assert app.window.input.toPlainText() == "user@example.test\nx..y.test\n"
    assert len(items) == 2
    assert items[0].startswith("Line 1: user@example.test — ")
    assert items[1].startswith("Line 2: x..y.test — ")
    assert app.window.input.marked_lines() == [1, 2]
    assert domains_shown(app) == ["bücher.test", "good.test"]


def test_empty_check_says_what_to_do(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    with qtbot.waitSignal(app.messages.shown) as shown:
        app.window.check_button.click()
    assert "domains first" in shown.args[0].text
    assert not app.is_checking


def test_copy_selected_rows_and_details(make_app: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    app.model.apply_results([make_result("a.test", days=5), make_result("b.test", days=300)])
    window = app.window
    assert window.select_key(("a.test", 443))
    assert window.details.labels["domain"].text() == "a.test"
    assert window.details.labels["status"].text() == Status.EXPIRING.label
    assert "expires in 5 days" in window.details.labels["problem"].text()
    assert window.details.labels["fingerprint"].text().startswith("AA:AA:")
    window.table.selectAll()
    text = window.copy_selected_rows()
    lines = text.splitlines()
    assert lines[0].split("\t")[:4] == ["Status", "Domain", "Problem", "Next expiry"]
    assert len(lines) == 3
    assert QGuiApplication.clipboard().text() == text


def test_filter_box_and_status_filter(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    app.model.apply_results(
        [make_result("a.test", days=5), make_result("b.test", days=300), make_result("c.test")]
    )
    qtbot.keyClicks(app.window.filter_edit, "b.te")
    assert domains_shown(app) == ["b.test"]
    app.window.filter_edit.clear()
    assert app.window.filter_bar.choose_status("Needs attention")
    assert domains_shown(app) == ["a.test"]


def test_keyboard_and_accessibility(make_app: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    window = app.window
    for widget in (
        window.input,
        window.table,
        window.filter_edit,
        window.status_filter,
        window.group_filter,
        window.threshold,
        window.progress,
        window.details,
    ):
        assert widget.accessibleName(), widget
    assert window.check_action.shortcuts()[0].toString() == "Ctrl+Return"
    assert window.input.tabChangesFocus()


# -- the window on its own -------------------------------------------------------------


def test_add_and_check_hand_over_the_typed_text(qtbot: Any) -> None:
    window = make_window(qtbot, rows=False)
    window.input.setPlainText("a.test\nb.test")
    with qtbot.waitSignal(window.add_requested) as added:
        window.add_button.click()
    assert added.args == ["a.test\nb.test"]
    with qtbot.waitSignal(window.check_requested) as checked:
        window.check_button.click()
    assert checked.args == ["a.test\nb.test"]
    assert window.add_button.isVisibleTo(window)


def test_clear_input_keeps_rejected_lines_marked_and_can_be_undone(qtbot: Any) -> None:
    window = make_window(qtbot, rows=False)
    window.input.setPlainText("good.test\nuser@example.test\nother.test\nx..y.test\n")
    errors = [
        InputError(INPUT_SOURCE, 2, "user@example.test", "looks like an email address"),
        InputError(INPUT_SOURCE, 4, "x..y.test", "empty label"),
        InputError("/lists/clients.csv", 7, "bad", "not a domain"),
    ]
    window.show_input_errors(errors)
    assert window.input.marked_lines() == [2, 4]
    window.clear_input(keep=[2, 4])
    assert window.input.toPlainText() == "user@example.test\nx..y.test\n"
    assert window.input.marked_lines() == [1, 2]
    items = [window.input_errors.item(i).text() for i in range(window.input_errors.count())]
    assert items == [
        "Line 1: user@example.test — looks like an email address",
        "Line 2: x..y.test — empty label",
        "clients.csv, line 7: bad — not a domain",
    ]
    window.input.undo()  # Ctrl+Z in the box brings the cleared lines back
    assert window.input.toPlainText() == "good.test\nuser@example.test\nother.test\nx..y.test\n"
    window.input.setPlainText("only.test\n")
    window.show_input_errors([])
    window.clear_input()
    assert window.input.toPlainText() == ""
    assert not window.input_errors.isVisibleTo(window)
    assert window.input.marked_lines() == []


def test_offline_rows_say_no_network_not_no_such_domain(qtbot: Any) -> None:
    window = make_window(qtbot, rows=False)
    offline = [
        dataclasses.replace(
            make_result(name, error=f"could not resolve {name} (no such domain)"),
            tls=CertInfo(
                error=f"could not resolve {name} (no such domain)",
                error_kind=ErrorKind.NO_SUCH_DOMAIN,
            ),
        )
        for name in ("a.test", "b.test")
    ]
    refused = make_result("c.test", error="connection refused")
    window.model.apply_results([*offline, refused])

    def problems() -> list[str]:
        return [window.model.index(r, COLUMN_PROBLEM).data() for r in range(3)]

    assert problems()[0] == "could not resolve a.test (no such domain)"
    window.set_offline(True)
    assert problems() == [NO_NETWORK_TEXT, NO_NETWORK_TEXT, "connection refused"]
    # The real reason stays in the tooltip and the details.
    tooltip = window.model.index(0, COLUMN_PROBLEM).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "could not resolve a.test (no such domain)"
    # A later offline result says so too; a result that reached a server ends it.
    window.model.apply_results([offline[0]])
    assert problems()[0] == NO_NETWORK_TEXT
    window.model.apply_results([make_result("c.test", days=80)])
    assert problems()[:2] == [
        "could not resolve a.test (no such domain)",
        "could not resolve b.test (no such domain)",
    ]
    assert not window.model.is_offline()


def test_details_follow_the_selection_and_grow_to_their_content(qtbot: Any) -> None:
    window = make_window(qtbot, size=(1280, 800))
    before = window.right_splitter.sizes()[1]
    window.select_keys([("legacy-portal.internal-services.acme.example", 443)])
    assert window.details.labels["group"].text() == "Acme Corp"
    sizes = window.right_splitter.sizes()
    assert sizes[1] >= before
    assert sizes[1] <= 0.5 * sum(sizes)  # the table keeps most of the room


def _rows_in_view(window: Any) -> int:
    table = window.table
    return int(table.viewport().height() // table.rowHeight(0))


def test_with_nothing_selected_the_details_are_a_one_line_hint(qtbot: Any) -> None:
    """The details pane used to take half the height with nothing to show: at 900x600
    only ~10 rows were in view."""
    window = make_window(qtbot, size=(900, 600))
    table_side, details = window.right_splitter.sizes()
    assert window.details.placeholder.isVisible()
    pane = window.details
    assert details <= max(pane.wanted_height(), pane.minimumSizeHint().height())
    assert details < 0.15 * (table_side + details)
    assert _rows_in_view(window) >= 15


@pytest.mark.parametrize("size", [(900, 600), (1280, 800)])
def test_details_of_a_row_get_their_content_height_up_to_a_share(
    qtbot: Any, size: tuple[int, int]
) -> None:
    window = make_window(qtbot, size=size)
    window.select_keys([("acme.example", 443)])
    QApplication.processEvents()
    table_side, details = window.right_splitter.sizes()
    total = table_side + details
    assert details == min(window.details.wanted_height(), round(total * DETAILS_MAX_SHARE))
    assert _rows_in_view(window) >= 8  # the table keeps the most room
    scroll = window.details.scroll_area.verticalScrollBar()
    if window.details.wanted_height() <= details:
        assert scroll.maximum() == 0  # everything shows, nothing clipped
    else:
        assert scroll.maximum() > 0  # the rest scrolls into view, never clipped
    # Back to nothing selected: a hint again.
    window.table.selectionModel().clear()
    QApplication.processEvents()
    assert window.details.placeholder.isVisible()
    assert window.right_splitter.sizes()[1] < details


def test_the_users_details_height_holds_until_the_next_selection(qtbot: Any) -> None:
    window = make_window(qtbot, size=(1280, 800))
    window.select_keys([("acme.example", 443)])
    splitter = window.right_splitter
    total = sum(splitter.sizes())
    splitter.moveSplitter(total - 120, 1)  # what a drag of the handle does
    assert splitter.dragged
    window.resize(1280, 790)
    QApplication.processEvents()
    assert splitter.sizes()[1] == 120  # the table takes the change
    window.select_keys([("blog.example", 443)])
    assert not splitter.dragged


def test_an_offline_run_says_so_in_the_rows(make_app: Any, qtbot: Any) -> None:
    def lookup_fails(target: Any) -> Any:
        error = f"could not resolve {target.host} (no such domain)"
        result = make_result(target, error=error)
        return dataclasses.replace(
            result, tls=CertInfo(error=error, error_kind=ErrorKind.NO_SUCH_DOMAIN)
        )

    app = make_app(checker_factory=FakeEngine(lookup_fails))
    app.start()
    app.window.input.setPlainText("one.test\ntwo.test\n")
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        app.window.check_button.click()
    model = app.window.model
    problems = [model.index(r, COLUMN_PROBLEM).data() for r in range(model.rowCount())]
    assert problems == [NO_NETWORK_TEXT, NO_NETWORK_TEXT]


def test_a_smaller_window_takes_from_the_details_not_the_table(qtbot: Any) -> None:
    window = make_window(qtbot, size=(1280, 800))
    window.select_keys([("legacy-portal.internal-services.acme.example", 443)])
    window.right_splitter.setSizes([300, 400])
    window.resize(900, 600)
    QApplication.processEvents()
    table_side, details = window.right_splitter.sizes()
    assert details <= 0.45 * (table_side + details)


@pytest.mark.parametrize("size", [(900, 600), (1280, 800)])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_window_has_no_overlap_or_clipped_text(
    qtbot: Any, size: tuple[int, int], dark: bool
) -> None:
    """The layout review of ``scripts/screenshot.py``, as a test: with rejected lines
    listed and the longest row's details shown, nothing overlaps or is cut off."""
    from desktop.login_start import TOLD_TEXT
    from tests.helpers.layout import assert_no_overlap
    from tests.helpers.themes import dark_palette

    window = make_window(qtbot, size=size)
    if dark:
        window.setPalette(dark_palette())
    window.show_input_errors(
        [
            InputError(
                INPUT_SOURCE, 1, "admin@example.test", "looks like an email address, not a domain"
            )
        ]
    )
    window.select_keys([("legacy-portal.internal-services.acme.example", 443)])
    window.show_analytics_notice()
    window.login_notice.tell(TOLD_TEXT)
    QApplication.processEvents()
    assert_no_overlap(window)


def test_details_get_the_room_a_short_filtered_list_leaves(qtbot: Any) -> None:
    from desktop.splitters import TABLE_MIN_ROWS

    window = make_window(qtbot, size=(1280, 800))
    window.filter_bar.text_edit.setText("acme.example")
    window.select_keys([("acme.example", 443)])
    QApplication.processEvents()
    window.right_splitter.fit_details()
    QApplication.processEvents()
    table_side, details = window.right_splitter.sizes()
    total = table_side + details
    wanted = window.details.wanted_height()
    assert details > round(total * DETAILS_MAX_SHARE) or details == wanted
    assert details == min(wanted, window.right_splitter.details_limit(total))
    row_height = window.table.verticalHeader().defaultSectionSize()
    assert window.table.viewport().height() >= TABLE_MIN_ROWS * row_height


@pytest.mark.parametrize("size", [(900, 600), (1280, 800)])
def test_the_input_panel_gives_a_narrow_window_to_the_watchlist(
    qtbot: Any, size: tuple[int, int]
) -> None:
    """At 900x600 the panel used to keep 220 px because "Warn before expiry" sat
    beside its box: now the label moves above it, and the panel is no wider than
    its buttons need (all of them whole), so the table's Problem column gets the
    width. A wide window keeps the label beside its box."""
    window = make_window(qtbot, size=size)
    panel = window.input_panel
    assert_no_overlap(panel)  # nothing clipped, nothing overlapping
    for button in (panel.add_button, panel.check_button, panel.open_button, panel.cancel_button):
        assert button.width() >= button.minimumSizeHint().width()
        assert panel.rect().contains(button.geometry())
    label = next(w for w in panel.findChildren(QLabel) if w.buddy() is panel.threshold)
    beside = label.geometry().bottom() > panel.threshold.geometry().top()
    if size == (900, 600):
        assert window.main_splitter.sizes()[0] <= 180
        assert not beside  # above its box
    else:
        assert window.main_splitter.sizes()[0] == INPUT_WIDTH_PX
        assert beside
