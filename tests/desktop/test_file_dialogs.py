"""File dialogs start in Documents, remember the last folder; export writes what is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop.file_dialogs import FileChooser, RecentFolder, documents_folder
from desktop.rows import COLUMN_DOMAIN
from tests.desktop.window_fixtures import ScriptedChooser, make_window


@pytest.fixture
def recent(tmp_path: Path) -> RecentFolder:
    return RecentFolder(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def test_dialogs_start_in_documents_then_in_the_last_folder(
    recent: RecentFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    asked: list[str] = []
    lists = tmp_path / "lists"
    lists.mkdir()

    def open_names(_parent: Any, _title: str, start: str, _filter: str) -> tuple[list[str], str]:
        asked.append(start)
        return [str(lists / "clients.csv")], ""

    def save_name(_parent: Any, _title: str, start: str, _filter: str) -> tuple[str, str]:
        asked.append(start)
        return str(tmp_path / "out"), "JSON, as domaincheck check --format json (*.json)"

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", open_names)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    chooser = FileChooser(recent)
    assert recent.get() == documents_folder()
    assert chooser.choose_lists(parent) == [lists / "clients.csv"]
    assert asked[0] == str(documents_folder())
    assert chooser.choose_export(parent) == tmp_path / "out.json"  # suffix from the filter
    assert asked[1] == str(lists / "domaincheck-results.csv")  # where the list came from
    assert recent.get() == tmp_path  # the export's folder now
    # A remembered folder that was deleted falls back to Documents.
    recent.remember(tmp_path / "gone" / "x.csv")
    assert recent.get() == documents_folder()


def test_cancelled_dialogs_change_nothing(
    recent: RecentFolder, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a: ([], ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: ("", ""))
    chooser = FileChooser(recent)
    assert chooser.choose_lists(parent) == []
    assert chooser.choose_export(parent) is None
    assert recent.get() == documents_folder()


def test_export_asks_for_the_rows_the_view_shows_in_view_order(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot)
    chooser = window.file_chooser
    assert isinstance(chooser, ScriptedChooser)
    window.group_filter.setCurrentText("Personal")
    window.table.sortByColumn(COLUMN_DOMAIN, Qt.SortOrder.AscendingOrder)
    chooser.export = tmp_path / "personal.csv"
    with qtbot.waitSignal(window.export_requested) as exported:
        window.export_action.trigger()
    path, keys = exported.args
    assert path == tmp_path / "personal.csv"
    assert keys == [
        ("192.0.2.10", 443),
        ("blog.example", 443),
        ("nas.home.example", 5001),
        ("photos.example", 443),
    ]
    chooser.export = None  # cancelled: nothing is exported
    with qtbot.assertNotEmitted(window.export_requested):
        window.choose_export_file()


def test_open_list_hands_over_the_chosen_files(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, rows=False)
    chooser = window.file_chooser
    assert isinstance(chooser, ScriptedChooser)
    chooser.lists = [tmp_path / "a.txt", tmp_path / "b.csv"]
    with qtbot.waitSignal(window.files_opened) as opened:
        window.open_button.click()
    assert opened.args == [[tmp_path / "a.txt", tmp_path / "b.csv"]]
    chooser.lists = []
    with qtbot.assertNotEmitted(window.files_opened):
        window.open_action.trigger()
