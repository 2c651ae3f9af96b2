"""The window: drag and drop of files, links and text; rejected lines; copy; details."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from core.models import Status
from desktop.mainwindow import file_url_mime
from desktop.rows import COLUMN_DOMAIN
from tests.desktop.fakes import FakeEngine, make_result


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
    assert len(items) == 2
    assert items[0].startswith("Line 2: user@example.test — ")
    assert items[1].startswith("Line 3: x..y.test — ")
    marked = [s.cursor.blockNumber() + 1 for s in app.window.input.extraSelections()]
    assert marked == [2, 3]
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
    assert lines[0].split("\t")[:3] == ["Status", "Domain", "Certificate expires"]
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
    app.window.status_filter.setCurrentText("Needs attention")
    assert domains_shown(app) == ["a.test"]


def test_keyboard_and_accessibility(make_app: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    window = app.window
    for widget in (
        window.input,
        window.table,
        window.filter_edit,
        window.status_filter,
        window.threshold,
        window.progress,
        window.details,
    ):
        assert widget.accessibleName(), widget
    assert window.check_action.shortcuts()[0].toString() == "Ctrl+Return"
    assert window.input.tabChangesFocus()
