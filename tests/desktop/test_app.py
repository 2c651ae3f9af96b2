"""The whole app against the loopback world: live rows, cancel, quit, persistence, export."""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import Status
from core.report import CSV_FIELDS
from core.storage import Watchlist
from desktop.app import summary_text
from desktop.rows import COLUMN_DOMAIN, COLUMN_STATUS, NOT_CHECKED_LABEL
from tests.desktop.fakes import FakeEngine, make_result

WORLD_LIST = """\
valid.test
expiring.test
expired.test
selfsigned.test
wronghost.test
bücher.test
closed.test
hang.test
"""


def status_of(app: Any, host: str) -> str:
    position = app.model.row_of((host, 443))
    assert position is not None, host
    return app.model.index(position, COLUMN_STATUS).data()


def test_full_check_against_the_loopback_world_shows_rows_live(
    make_app: Any, world_settings: Any, qtbot: Any
) -> None:
    # hang.test holds the check open for the whole timeout: a wide window in which
    # other rows must already be filled in (no timing assertion, just ordering).
    app = make_app(settings=world_settings(timeout_seconds=5.0))
    app.start()
    seen_while_running: list[int] = []
    app.runner.results_ready.connect(
        lambda batch: seen_while_running.append(len(app.model.results()))
    )
    app.window.input.setPlainText(WORLD_LIST)
    with qtbot.waitSignal(app.check_finished, timeout=30_000) as finished:
        app.window.check_button.click()
        assert app.is_checking
        assert app.window.progress.isVisible()
        # Rows are listed at once, then filled in as results arrive.
        assert app.model.rowCount() == 8
        qtbot.waitUntil(lambda: status_of(app, "valid.test") == "Valid", timeout=4500)
        assert app.is_checking  # hang.test is still going: this row came in live
        assert app.window.progress.text().endswith("of 8 checked")
    assert finished.args == [False]
    assert seen_while_running[0] < 8  # the first batch came before the last result
    assert status_of(app, "expiring.test") == "Expiring"
    assert status_of(app, "expired.test") == "Expired"
    assert status_of(app, "selfsigned.test") == "Invalid"
    assert status_of(app, "wronghost.test") == "Invalid"
    assert status_of(app, "xn--bcher-kva.test") == "Valid"
    assert status_of(app, "closed.test") == "Error"
    assert status_of(app, "hang.test") == "Error"
    assert app.window.summary_label.text() == (
        "2 valid · 1 expiring · 1 expired · 2 invalid · 2 errors"
    )
    assert not app.window.progress.isVisible()
    assert not app.window.cancel_button.isEnabled()


def test_cancel_stops_promptly(make_app: Any, world_settings: Any, qtbot: Any) -> None:
    app = make_app(settings=world_settings(timeout_seconds=30.0))
    app.start()
    app.window.input.setPlainText("valid.test\nhang.test\n")
    with qtbot.waitSignal(app.runner.results_ready, timeout=10_000):
        app.window.check_button.click()
    assert app.window.cancel_button.isEnabled()
    started = time.monotonic()
    with qtbot.waitSignal(app.check_finished, timeout=5_000) as finished:
        app.window.cancel_button.click()
    assert time.monotonic() - started < 5.0  # hang.test alone would take 30 s
    assert finished.args == [True]
    assert status_of(app, "valid.test") == "Valid"
    assert status_of(app, "hang.test") == NOT_CHECKED_LABEL
    assert "1 not checked" in app.window.summary_label.text()


def test_quit_during_a_check_is_clean_and_saves(
    make_app: Any, world_settings: Any, qtbot: Any, tmp_path: Path
) -> None:
    exits: list[int] = []
    app = make_app(settings=world_settings(timeout_seconds=30.0), exit_app=lambda: exits.append(1))
    app.start()
    app.window.input.setPlainText("valid.test\nhang.test\nstill typing")
    with qtbot.waitSignal(app.runner.results_ready, timeout=10_000):
        app.window.check_button.click()
    started = time.monotonic()
    with qtbot.waitSignal(app.quitting):
        app.window.quit_action.trigger()
    assert time.monotonic() - started < 5.0  # hang.test alone would take 30 s
    assert not app.runner.is_running or not app.runner._thread.isRunning()
    qtbot.waitUntil(lambda: exits == [1], timeout=1000)
    with Watchlist(tmp_path / "watchlist.sqlite3") as watchlist:
        entries = {e.target.host: e for e in watchlist.entries()}
    assert app.window.input.toPlainText().strip() == "still typing"  # rejected: it stays
    assert set(entries) == {"valid.test", "hang.test"}
    assert entries["valid.test"].result is not None
    assert entries["hang.test"].result is None


def test_watchlist_and_results_persist_across_a_restart(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    engine = FakeEngine(lambda t: make_result(t, days={"a.test": 3}.get(t.host, 200)))
    first = make_app(checker_factory=engine)
    first.start()
    first.window.input.setPlainText("a.test\nb.test\nbücher.test")
    with qtbot.waitSignal(first.check_finished, timeout=5000):
        first.window.check_button.click()
    first.set_threshold(12)  # saved on a thread of its own; quitting waits for it
    first.set_threshold(14)
    first.quit()

    second = make_app(
        checker_factory=FakeEngine(), watchlist=Watchlist(tmp_path / "watchlist.sqlite3")
    )
    second.start()
    domains = [second.model.index(r, COLUMN_DOMAIN).data() for r in range(3)]
    assert domains == ["a.test", "b.test", "bücher.test"]
    assert status_of(second, "a.test") == "Expiring"
    assert status_of(second, "b.test") == "Valid"
    assert second.window.summary_label.text() == "2 valid · 1 expiring"
    assert second.window.input.toPlainText() == ""  # added, so cleared: nothing to re-add
    assert second.scheduler.next_due is not None
    assert second.preferences.threshold_days == 14


def test_remove_from_watchlist(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    app.model.add_targets([])
    app.check_input("a.test\nb.test")
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    app.window.select_key(("a.test", 443))
    app.window.remove_action.trigger()
    assert [t.host for t in app.model.targets()] == ["b.test"]
    assert app.flush_writes()  # the database copy is written behind the GUI thread
    assert [t.host for t in app.watchlist.targets()] == ["b.test"]


def test_export_json_is_the_cli_document_and_csv_has_cli_columns(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    app = make_app(checker_factory=FakeEngine(lambda t: make_result(t, days=10)))
    app.start()
    app.check_input("a.test\nb.test\nnot valid!")
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)

    def export(path: Path) -> bool:
        with qtbot.waitSignal(app.exported, timeout=5000) as written:
            app.export(path)
        return bool(written.args[0])

    assert export(tmp_path / "out.json")
    document = json.loads((tmp_path / "out.json").read_text())
    assert set(document) == {"checked_at", "threshold_days", "results", "input_errors"}
    assert [r["domain"] for r in document["results"]] == ["a.test", "b.test"]
    assert document["results"][0]["status"] == "expiring"
    assert document["results"][0]["group"] == ""
    assert document["input_errors"][0]["line"] == 3
    assert export(tmp_path / "out.csv")
    with open(tmp_path / "out.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    # The check CSV's columns, with the group after the port.
    assert tuple(rows[0]) == (*CSV_FIELDS[:3], "group", *CSV_FIELDS[3:])
    assert [r["domain"] for r in rows] == ["a.test", "b.test"]
    assert not export(tmp_path / "missing-dir" / "out.csv")


def test_threshold_change_reclassifies_without_checking(make_app: Any) -> None:
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    result = make_result("a.test", days=45)
    # A year-long certificate: the threshold, not its lifetime's share, decides.
    assert result.tls is not None and result.tls.not_after is not None
    tls = dataclasses.replace(result.tls, not_before=result.tls.not_after - timedelta(days=365))
    app.model.apply_results([dataclasses.replace(result, tls=tls)])
    assert status_of(app, "a.test") == "Valid"
    app.window.threshold.setValue(60)
    assert status_of(app, "a.test") == "Expiring"
    assert app.preferences.threshold_days == 60
    assert engine.entered == 0
    assert app.flush_writes()  # the preferences file is written off the GUI thread
    again = make_app(checker_factory=engine)
    assert again.preferences.threshold_days == 60
    assert again.window.threshold.value() == 60


def test_without_a_tray_closing_the_window_quits(make_app: Any) -> None:
    exits: list[int] = []
    app = make_app(
        checker_factory=FakeEngine(), tray_available=False, exit_app=lambda: exits.append(1)
    )
    app.start()
    assert app.tray is None
    assert app.window.isVisible()
    app.window.close()
    assert app._closed
    assert not app.window.isVisible()


def test_with_a_tray_closing_hides_and_tells_once(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(), tray_available=True)
    told: list[tuple[str, str]] = []
    app.tray.notify = lambda title, body: told.append((title, body))  # type: ignore[method-assign]
    app.start()
    app.window.close()
    assert not app.window.isVisible()
    assert not app._closed
    assert len(told) == 1 and "still running" in told[0][0]
    app.show_window()
    app.window.close()
    assert len(told) == 1  # only once, ever
    app.tray.open_requested.emit()
    assert app.window.isVisible()


def test_start_hidden_in_tray(make_app: Any, tmp_path: Path) -> None:
    (tmp_path / "desktop.json").write_text(json.dumps({"start_hidden": True}))
    app = make_app(checker_factory=FakeEngine(), tray_available=True)
    app.start()
    assert not app.window.isVisible()
    without_tray = make_app(checker_factory=FakeEngine(), tray_available=False)
    without_tray.start()
    assert without_tray.window.isVisible()  # nowhere to hide: show the window


def test_tray_menu_is_rebuilt_when_shown(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(hang=["h.test"]), tray_available=True)
    app.start()
    menu = app.tray.menu
    texts = lambda: [a.text() for a in menu.actions() if not a.isSeparator()]  # noqa: E731
    assert texts() == [
        "&Open Domain Check",
        "&Check now",
        "&Pause reminders for 24 hours",
        "Email &Reminders…",
        "&Quit",
    ]
    app.check_input("h.test")
    app.pause_reminders(True)
    menu.aboutToShow.emit()
    assert texts()[1] == "Checking…"
    assert texts()[2].startswith("&Resume reminders (paused until ")
    app.cancel()
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)


def test_tray_icon_and_tooltip_follow_the_worst_status(make_app: Any) -> None:
    app = make_app(checker_factory=FakeEngine(), tray_available=True)
    app.model.apply_results([make_result("a.test", days=-1), make_result("b.test")])
    app.refresh_summary()
    assert app.tray.icon.toolTip() == "Domain Check\n1 valid · 1 expired"


@pytest.mark.parametrize(
    ("counts", "unchecked", "text"),
    [
        (
            {Status.VALID: 12, Status.EXPIRING: 3, Status.EXPIRED: 1, Status.ERROR: 2},
            0,
            "12 valid · 3 expiring · 1 expired · 2 errors",
        ),
        ({Status.ERROR: 1}, 4, "1 error · 4 not checked"),
        ({}, 0, ""),
    ],
)
def test_summary_text(counts: dict[Status, int], unchecked: int, text: str) -> None:
    assert summary_text(counts, unchecked) == text


def test_progress_counts_the_rows_filled_in(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(hang=["c.test"]), batch_interval_ms=10)
    app.start()
    app.check_input("a.test\nb.test\nc.test")
    qtbot.waitUntil(lambda: app.model.unchecked_count() == 1, timeout=5000)
    assert app.is_checking
    assert app.window.progress.value() == 2
    assert app.window.progress.text() == "2 of 3 checked"
    app.cancel()
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)


def test_lists_are_read_off_the_gui_thread(
    make_app: Any, qtbot: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    import threading

    from core import domains

    readers: list[str] = []
    real_read_file = domains.read_file

    def recording_read_file(path: Any) -> Any:
        readers.append(threading.current_thread().name)
        return real_read_file(path)

    monkeypatch.setattr(domains, "read_file", recording_read_file)
    listing = tmp_path / "list.txt"
    listing.write_text("a.test\nb..test\n", encoding="utf-8")
    app = make_app(checker_factory=FakeEngine())
    app.start()
    app.add_files([listing, tmp_path / "missing.txt"])
    assert app.reading_files  # returned at once; the read goes on elsewhere
    qtbot.waitUntil(lambda: not app.reading_files and not app.is_checking, timeout=5000)
    assert readers and threading.main_thread().name not in readers
    assert [t.host for t in app.model.targets()] == ["a.test"]
