"""The watchlist keeps what the user did: Add, Check, Remove for good, Undo, groups."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

from core.models import CheckResult, Target
from core.storage import Watchlist
from desktop.messages import Message
from tests.desktop.fakes import FakeEngine, make_result

A, B, C = ("a.test", 443), ("b.test", 443), ("c.test", 443)


def hosts(app: Any) -> list[str]:
    return [t.host for t in app.model.targets()]


def stored_hosts(tmp_path: Path) -> list[str]:
    with Watchlist(tmp_path / "watchlist.sqlite3") as watchlist:
        return [t.host for t in watchlist.targets()]


def said(app: Any) -> list[str]:
    texts: list[str] = []
    app.messages.shown.connect(lambda message: texts.append(message.text))
    return texts


def check(app: Any, qtbot: Any, text: str | None = None) -> None:
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        if text is not None:
            app.window.input.setPlainText(text)
        app.window.check_button.click()


def test_removal_persists_across_a_check_and_a_restart(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    app.start()
    messages = said(app)
    check(app, qtbot, "a.test\nb.test\nc.test")
    assert app.window.input.toPlainText() == ""  # added, so cleared
    app.window.select_keys([B])
    app.window.remove_action.trigger()
    assert hosts(app) == ["a.test", "c.test"]
    assert messages[-1] == "Removed 1 domain. Undo: Ctrl+Z"
    assert app.window.undo_action.isEnabled()

    engine.checked.clear()
    check(app, qtbot)  # Check with an empty input checks the watchlist
    assert sorted(t.host for t in engine.checked) == ["a.test", "c.test"]
    assert hosts(app) == ["a.test", "c.test"]
    assert app.flush_writes()
    assert stored_hosts(tmp_path) == ["a.test", "c.test"]
    app.quit()

    again = make_app(
        checker_factory=FakeEngine(), watchlist=Watchlist(tmp_path / "watchlist.sqlite3")
    )
    assert hosts(again) == ["a.test", "c.test"]


def test_a_result_arriving_after_removal_stores_nothing_and_adds_no_row(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    release = threading.Event()

    def results(target: Target) -> CheckResult:
        if target.host == "b.test":
            release.wait(10)  # held until the row is removed
        return make_result(target)

    app = make_app(checker_factory=FakeEngine(results, concurrency=1))
    app.start()
    app.watch([Target("a.test"), Target("b.test")])
    with qtbot.waitSignal(app.check_finished, timeout=15_000):
        assert app.check_all()
        app.editor.remove([B])
        release.set()
    assert hosts(app) == ["a.test"]
    assert app.flush_writes()
    with Watchlist(tmp_path / "watchlist.sqlite3") as watchlist:
        assert [t.host for t in watchlist.targets()] == ["a.test"]
        assert watchlist.last_result(B) is None


def test_undo_brings_back_the_last_removals_with_their_results(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    app = make_app(checker_factory=FakeEngine(lambda t: make_result(t, days=10)))
    app.start()
    messages = said(app)
    check(app, qtbot, "a.test\nb.test\nc.test")
    app.editor.remove([A])
    app.editor.remove([B, C])
    assert hosts(app) == []
    with qtbot.waitSignal(app.watchlist_reloaded, timeout=5000):
        app.window.undo_action.trigger()
    assert sorted(hosts(app)) == ["b.test", "c.test"]
    assert messages[-1] == "Restored 2 domains"
    position = app.model.row_of(B)
    assert position is not None
    assert app.model.row_at(position).result is not None  # its result came back too
    with qtbot.waitSignal(app.watchlist_reloaded, timeout=5000):
        app.editor.undo()
    assert sorted(hosts(app)) == ["a.test", "b.test", "c.test"]
    assert not app.window.undo_action.isEnabled()
    app.editor.undo()
    assert messages[-1] == "Nothing to undo"
    assert app.flush_writes()
    assert sorted(stored_hosts(tmp_path)) == ["a.test", "b.test", "c.test"]


def test_undo_right_after_remove_waits_for_the_database(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.watch([Target("a.test")])
    with qtbot.waitSignal(app.watchlist_reloaded, timeout=5000):
        app.editor.remove([A])
        app.editor.undo()  # before the writer took it: restored as soon as it has
    assert hosts(app) == ["a.test"]


def test_check_adds_only_new_lines_and_messages_count_what_changed(
    make_app: Any, qtbot: Any
) -> None:
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    app.start()
    messages = said(app)
    check(app, qtbot, "a.test\nb.test")
    assert "Added 2 domains" in messages
    check(app, qtbot, "a.test\nb.test\nc.test\nbad..name")
    assert "Added 1 domain, 2 were already watched" in messages
    assert app.window.input.toPlainText().strip() == "bad..name"  # rejected: it stays
    check(app, qtbot, "a.test\nb.test")
    assert "All 2 domains were already watched" in messages
    assert hosts(app) == ["a.test", "b.test", "c.test"]


def test_add_watches_without_checking(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    app.start()
    messages = said(app)
    app.window.input.setPlainText("a.test\nb.test\na.test")
    app.window.add_button.click()
    assert hosts(app) == ["a.test", "b.test"]
    assert not app.is_checking and engine.checked == []
    assert messages[-1] == "Added 2 domains"
    assert app.window.input.toPlainText() == ""
    app.window.input.setPlainText("a.test")
    app.window.add_button.click()
    assert messages[-1] == "That domain was already watched"
    app.window.add_button.click()  # empty now
    assert messages[-1] == "Type or paste some domains first."
    assert app.flush_writes()
    assert stored_hosts(tmp_path) == ["a.test", "b.test"]


def test_check_now_checks_just_those_rows(make_app: Any, qtbot: Any) -> None:
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    app.start()
    app.watch([Target("a.test"), Target("b.test"), Target("c.test")])
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        app.window.check_now_requested.emit([B])
    assert [t.host for t in engine.checked] == ["b.test"]


def test_group_set_in_the_window_persists(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.watch([Target("a.test"), Target("b.test")])
    messages: list[Message] = []
    app.messages.shown.connect(messages.append)
    app.window.group_requested.emit([A], "Client A")
    row = app.model.row_at(app.model.row_of(A))
    assert row.group == "Client A"
    assert messages[-1].text == "1 domain now in group Client A"
    assert app.model.groups() == ["Client A"]
    assert app.flush_writes()
    with Watchlist(tmp_path / "watchlist.sqlite3") as watchlist:
        groups = {e.target.host: e.group for e in watchlist.entries()}
    assert groups == {"a.test": "Client A", "b.test": ""}
    app.quit()
    again = make_app(
        checker_factory=FakeEngine(), watchlist=Watchlist(tmp_path / "watchlist.sqlite3")
    )
    assert again.model.row_at(again.model.row_of(A)).group == "Client A"


def test_groups_round_trip_through_open_filter_and_export(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    """A CSV with a ``group`` column, opened with File → Open: the groups show as a
    column and a filter; exporting the filtered view writes only those rows, with
    their group; opening that file in a fresh watchlist gives the same groups."""
    from tests.desktop.window_fixtures import ScriptedChooser

    listing = tmp_path / "clients.csv"
    listing.write_text(
        "domain,group\na.test,Client A\nb.test,Client B\nc.test,Client A\nd.test,\n",
        encoding="utf-8",
    )
    app = make_app(checker_factory=FakeEngine(lambda t: make_result(t, days=60)))
    app.start()
    window = app.window
    window.file_chooser = chooser = ScriptedChooser()
    chooser.lists = [listing]
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        window.open_action.trigger()
    app.flush_results()
    assert {t.host: t.group for t in app.model.targets()} == {
        "a.test": "Client A",
        "b.test": "Client B",
        "c.test": "Client A",
        "d.test": "",
    }
    assert [window.group_filter.itemText(i) for i in range(window.group_filter.count())][2:] == [
        "Client A",
        "Client B",
    ]
    window.group_filter.setCurrentText("Client A")
    assert window.proxy.rowCount() == 2

    chooser.export = tmp_path / "client-a.csv"
    with qtbot.waitSignal(app.exported, timeout=5000) as written:
        window.export_action.trigger()
    assert written.args == [True]
    with open(chooser.export, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted((r["domain"], r["group"], r["status"]) for r in rows) == [
        ("a.test", "Client A", "valid"),
        ("c.test", "Client A", "valid"),
    ]

    app.quit()
    fresh = make_app(
        checker_factory=FakeEngine(lambda t: make_result(t, days=60)),
        watchlist=Watchlist(tmp_path / "other.sqlite3"),
    )
    fresh.start()
    with qtbot.waitSignal(fresh.check_finished, timeout=5000):
        fresh.add_files([chooser.export], source="file")
    assert {t.host: t.group for t in fresh.model.targets()} == {
        "a.test": "Client A",
        "c.test": "Client A",
    }
