"""File dialogs that start where the user keeps files and remember where they went.

The first dialog opens in the user's Documents folder, not in whatever directory the
process happened to start in; after that, in the last folder a list was opened from
or results were exported to. The folder is kept in ``QSettings`` (a small in-memory
write that Qt saves later, off the event loop's critical path). The dialogs sit
behind ``FileChooser`` so tests answer them without opening one.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

LIST_FILE_FILTER = "Domain lists (*.txt *.csv *.list);;All files (*)"
EXPORT_FILE_FILTER = "CSV (*.csv);;JSON, as domaincheck check --format json (*.json)"
EXPORT_FILE_NAME = "domaincheck-results.csv"
_LAST_FOLDER_KEY = "dialogs/last_folder"


def documents_folder() -> Path:
    """The user's Documents folder (their home when the system names none)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(location) if location else Path.home()


class RecentFolder:
    """The folder the next file dialog starts in."""

    def __init__(self, settings: QSettings | None = None) -> None:
        #: The application's settings unless given; made on first use, after the
        #: launcher named the application (QSettings() reads the names then).
        self._settings = settings

    def _store(self) -> QSettings:
        if self._settings is None:
            self._settings = QSettings()
        return self._settings

    def get(self) -> Path:
        """The last folder used, if it still exists; else the Documents folder."""
        value = self._store().value(_LAST_FOLDER_KEY, "")
        if isinstance(value, str) and value and Path(value).is_dir():
            return Path(value)
        return documents_folder()

    def remember(self, chosen: Path) -> None:
        """Remember the folder of a chosen file."""
        self._store().setValue(_LAST_FOLDER_KEY, str(chosen.parent))


class FileChooser:
    """Asks for list files to open and for a file to export to."""

    def __init__(self, recent: RecentFolder | None = None) -> None:
        self.recent = recent if recent is not None else RecentFolder()

    def choose_lists(self, parent: QWidget) -> list[Path]:
        start = str(self.recent.get())
        names, _ = QFileDialog.getOpenFileNames(parent, "Add domain lists", start, LIST_FILE_FILTER)
        paths = [Path(name) for name in names]
        if paths:
            self.recent.remember(paths[0])
        return paths

    def choose_export(self, parent: QWidget) -> Path | None:
        start = str(self.recent.get() / EXPORT_FILE_NAME)
        name, chosen_filter = QFileDialog.getSaveFileName(
            parent, "Export results", start, EXPORT_FILE_FILTER
        )
        if not name:
            return None
        path = Path(name)
        if not path.suffix:
            path = path.with_suffix(".json" if "json" in chosen_filter.lower() else ".csv")
        self.recent.remember(path)
        return path
