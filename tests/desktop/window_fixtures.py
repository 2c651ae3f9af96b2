"""A main window on its own (no app), with 30 sample rows and a scripted file chooser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QWidget

from desktop.file_dialogs import FileChooser, RecentFolder
from desktop.mainwindow import MainWindow
from desktop.results_model import ResultsModel
from tests.desktop.sample_rows import GROUPS, sample_results


class ScriptedChooser(FileChooser):
    """Answers the file dialogs with what a test set, and records that they were asked."""

    def __init__(self, recent: RecentFolder | None = None) -> None:
        super().__init__(recent)
        self.lists: list[Path] = []
        self.export: Path | None = None
        self.asked: list[str] = []

    def choose_lists(self, parent: QWidget) -> list[Path]:
        self.asked.append("lists")
        return list(self.lists)

    def choose_export(self, parent: QWidget) -> Path | None:
        self.asked.append("export")
        return self.export


def make_window(
    qtbot: Any, *, rows: bool = True, size: tuple[int, int] = (1280, 800)
) -> MainWindow:
    model = ResultsModel()
    window = MainWindow(model, file_chooser=ScriptedChooser())
    qtbot.addWidget(window)
    if rows:
        model.set_rows(sample_results())
        window.set_groups(list(GROUPS))
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    return window


WindowFactory = Callable[..., MainWindow]
