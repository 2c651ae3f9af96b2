"""The main window: domain input, the watchlist's table with its filters, details.

The window is a view. It shows what it is told and turns user actions into signals;
the app's services decide what they mean. Its parts live in modules of their own
(``domain_input``, ``table_view``, ``filters``, ``details``, ``splitters``,
``window_actions`` for the menus and shortcuts, ``file_dialogs``, the notices); this
module puts them together and is the one surface the app talks to. File dialogs sit
behind ``FileChooser``, so tests call the same slots without ever opening a dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from core.models import InputError
from desktop import icons
from desktop.analytics_notice import AnalyticsNotice
from desktop.details import DetailsPane
from desktop.domain_input import (
    FileDropFilter,
    dropped_text,
    file_url_mime,
    local_files,
)
from desktop.file_dialogs import LIST_FILE_FILTER, FileChooser
from desktop.filters import STATUS_FILTERS, FilterBar
from desktop.input_panel import INPUT_SOURCE, InputPanel
from desktop.login_notice import LoginNotice
from desktop.messages import Level, Message
from desktop.results_model import ResultsModel, ResultsProxy
from desktop.rows import WatchRow
from desktop.splitters import InputSplitter, TableDetailsSplitter
from desktop.table_view import ResultsTable
from desktop.window_actions import WindowSlots, build_actions, build_menus

__all__ = [
    "INPUT_SOURCE",
    "LIST_FILE_FILTER",
    "STATUS_FILTERS",
    "MainWindow",
    "dropped_text",
    "file_url_mime",
    "local_files",
]

_STATUS_MESSAGE_TIMEOUT_MS = 6_000
Key = tuple[str, int]


class MainWindow(QMainWindow):
    """Signals:
    check_requested(str): check the watchlist, first adding the typed text.
    add_requested(str): add the typed text to the watchlist, without checking.
    cancel_requested(): stop the running check.
    files_dropped(list[Path]): files were dropped.
    files_opened(list[Path]): files were chosen with File → Open List.
    export_requested(Path, list[tuple[str, int]]): save the rows the view shows,
        in view order (format from the suffix).
    remove_requested(list[tuple[str, int]]): stop watching these targets.
    undo_requested(): bring back what was removed last.
    check_now_requested(list[tuple[str, int]]): check these targets now.
    group_requested(list[tuple[str, int]], str): put them in a group ("" = none).
    target_threshold_requested(list, object): their own threshold (``None``: default).
    registration_expiry_requested(list, object): a typed expiry (``None``: forget).
    threshold_changed(int): the threshold spin box changed.
    preferences_requested(): open the preferences.
    quit_requested(): File → Quit.
    reminders_requested(): File → Email Reminders.
    analytics_notice_answered(bool): the first-run notice's answer (True: keep on).
    login_notice_answered(bool): the start-at-login notice's answer (True: keep on).
    """

    check_requested = Signal(str)
    add_requested = Signal(str)
    cancel_requested = Signal()
    files_dropped = Signal(list)
    files_opened = Signal(list)
    reminders_requested = Signal()
    analytics_notice_answered = Signal(bool)
    login_notice_answered = Signal(bool)
    export_requested = Signal(Path, list)
    remove_requested = Signal(list)
    undo_requested = Signal()
    check_now_requested = Signal(list)
    group_requested = Signal(list, str)
    target_threshold_requested = Signal(list, object)
    registration_expiry_requested = Signal(list, object)
    threshold_changed = Signal(int)
    preferences_requested = Signal()
    quit_requested = Signal()

    def __init__(
        self,
        model: ResultsModel,
        parent: QWidget | None = None,
        *,
        file_chooser: FileChooser | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Domain Check")
        self.setWindowIcon(icons.app_icon())
        self.resize(1280, 760)
        self.model = model
        self.proxy = ResultsProxy(self)
        self.proxy.setSourceModel(model)
        self.file_chooser = file_chooser if file_chooser is not None else FileChooser()
        #: Decides what closing the window means (hide to tray or quit); set by the app.
        self.close_handler: Callable[[QCloseEvent], None] | None = None

        self._build_widgets()
        self._build_actions()
        self._build_layout()
        self._connect()
        self.set_checking(False)
        self.set_summary("")
        self.set_undo_available(None)

    # -- construction ----------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.input_panel = InputPanel()
        panel = self.input_panel
        # The panel's parts, by the names the app and the tests use.
        self.input = panel.input
        self.input_errors = panel.errors_list
        self.threshold = panel.threshold
        self.check_button = panel.check_button
        self.add_button = panel.add_button
        self.cancel_button = panel.cancel_button
        self.open_button = panel.open_button

        self.filter_bar = FilterBar(self.model, self.proxy)
        self.filter_edit = self.filter_bar.text_edit
        self.status_filter = self.filter_bar.status_filter
        self.group_filter = self.filter_bar.group_filter

        self.table = ResultsTable(self.proxy)
        self.file_drop_filter = FileDropFilter(self)
        self.table.viewport().setAcceptDrops(True)
        self.table.viewport().installEventFilter(self.file_drop_filter)

        self.details = DetailsPane()

        self.analytics_notice = AnalyticsNotice()
        self.analytics_notice.answered.connect(self._on_analytics_notice_answered)
        self.login_notice = LoginNotice()
        self.login_notice.answered.connect(self.login_notice_answered)

        self.summary_label = QLabel()
        self.summary_label.setAccessibleName("Summary")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Check progress")
        self.progress.setFormat("%v of %m checked")
        self.progress.setMaximumWidth(260)
        self.progress.setMinimumWidth(200)
        self.progress.setTextVisible(True)
        # Permanent widgets: passing messages on the left never hide the summary.
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.summary_label)

    def _build_actions(self) -> None:
        actions = build_actions(
            self,
            self.table,
            WindowSlots(
                open_list=self.choose_files,
                export=self.choose_export_file,
                reminders=self.reminders_requested.emit,
                preferences=self.preferences_requested.emit,
                quit=self.quit_requested.emit,
                check=self._request_check,
                cancel=self.cancel_requested.emit,
                copy=self.copy_selected_rows,
                undo=self.undo_requested.emit,
                find=lambda: self.filter_edit.setFocus(),
            ),
        )
        self.open_action, self.export_action = actions.open_list, actions.export
        self.reminders_action, self.preferences_action = actions.reminders, actions.preferences
        self.quit_action, self.find_action = actions.quit, actions.find
        self.check_action, self.cancel_action = actions.check, actions.cancel
        self.copy_action, self.undo_action = actions.copy, actions.undo
        self.remove_action = self.table.remove_action
        build_menus(self, actions, self.remove_action)

    def _build_layout(self) -> None:
        heading = self.font()
        heading.setBold(True)
        top_right = QWidget()
        top_right_layout = QVBoxLayout(top_right)
        top_right_layout.setContentsMargins(0, 0, 0, 0)
        watch_label = QLabel("Watchlist")
        watch_label.setFont(heading)
        top_right_layout.addWidget(watch_label)
        top_right_layout.addWidget(self.filter_bar)
        top_right_layout.addWidget(self.table, 1)

        right = TableDetailsSplitter(top_right, self.details, table=self.table)
        self.right_splitter = right

        self.main_splitter = splitter = InputSplitter(self.input_panel, right)

        central = QFrame()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.analytics_notice)
        layout.addWidget(self.login_notice)
        layout.addWidget(splitter)
        self.setCentralWidget(central)
        self.setAcceptDrops(True)
        self.installEventFilter(self.file_drop_filter)

    def _connect(self) -> None:
        self.check_button.clicked.connect(self._request_check)
        self.add_button.clicked.connect(self._request_add)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.open_button.clicked.connect(self.choose_files)
        self.input.files_dropped.connect(self.files_dropped)
        self.input.submitted.connect(self._request_check)
        self.file_drop_filter.files_dropped.connect(self.files_dropped)
        self.threshold.valueChanged.connect(self.threshold_changed)
        self.table.remove_requested.connect(self.remove_requested)
        self.table.check_now_requested.connect(self.check_now_requested)
        self.table.group_requested.connect(self.group_requested)
        self.table.threshold_requested.connect(self.target_threshold_requested)
        self.table.registration_expiry_requested.connect(self.registration_expiry_requested)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.selectionModel().currentChanged.connect(self._on_selection_changed)
        self.model.dataChanged.connect(self._refresh_details)
        self.model.modelReset.connect(self._refresh_details)

    # -- what the app tells the window ----------------------------------------------------

    def set_checking(self, checking: bool) -> None:
        self.check_button.setEnabled(not checking)
        self.check_action.setEnabled(not checking)
        self.cancel_button.setEnabled(checking)
        self.cancel_action.setEnabled(checking)
        self.progress.setVisible(checking)

    def set_progress(self, done: int, total: int) -> None:
        # QProgressBar.setValue() paints at once (repaint(), not update()), and a
        # synchronous paint also paints whatever else in the window is waiting for
        # one: right after thousands of rows were added, that is the whole table,
        # inside this call. With updates off the bar only marks itself for the next
        # regular paint, which Qt does in a turn of the event loop of its own.
        bar = self.progress
        bar.setUpdatesEnabled(False)
        try:
            bar.setMaximum(max(total, 1))
            bar.setValue(done)
        finally:
            bar.setUpdatesEnabled(True)

    def set_summary(self, text: str) -> None:
        self.summary_label.setText(text or "No domains watched yet")

    def set_threshold(self, days: int) -> None:
        blocked = self.threshold.blockSignals(True)
        self.threshold.setValue(days)
        self.threshold.blockSignals(blocked)
        self.table.default_threshold = self.details.default_threshold = days

    def set_undo_available(self, text: str | None) -> None:
        """Enable Undo Remove; ``text`` says what it brings back (``None``: nothing)."""
        self.undo_action.setEnabled(text is not None)
        self.undo_action.setToolTip(text or "Nothing to undo")
        self.undo_action.setStatusTip(text or "")

    def set_offline(self, offline: bool) -> None:
        """The last run looked offline: rows say "not checked: no network" instead
        of "no such domain" each (the app says "no network connection" once)."""
        self.model.set_offline(offline)

    def set_groups(self, groups: list[str]) -> None:
        """The groups in the watchlist: the group filter and "Set Group" offer them."""
        self.table.groups = list(groups)
        self.filter_bar.set_groups(groups)

    def show_input_errors(self, errors: Sequence[InputError]) -> None:
        """List rejected lines under the input, and mark the ones that came from it."""
        self.input_panel.show_errors(errors)

    def clear_input(self, keep: Sequence[int] = ()) -> None:
        """Remove the input's lines except the 1-based ``keep`` (they stay marked)."""
        self.input_panel.clear_input(keep)

    def show_analytics_notice(self) -> None:
        """First run: say what statistics are sent, with a way to turn them off."""
        self.analytics_notice.show()

    def hide_analytics_notice(self) -> None:
        self.analytics_notice.hide()

    def _on_analytics_notice_answered(self, keep_on: bool) -> None:
        self.analytics_notice.hide()
        self.analytics_notice_answered.emit(keep_on)
        if not keep_on:
            self.statusBar().showMessage(
                "Usage statistics are off. You can change this in the preferences.",
                _STATUS_MESSAGE_TIMEOUT_MS,
            )

    def show_message(self, message: Message) -> None:
        """Present a message from the seam: status bar, or a non-blocking dialog."""
        if message.level is Level.INFO:
            self.statusBar().showMessage(message.text, _STATUS_MESSAGE_TIMEOUT_MS)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning
            if message.level is Level.WARNING
            else QMessageBox.Icon.Critical,
            "Domain Check",
            message.text,
            QMessageBox.StandardButton.Ok,
            self,
        )
        if message.details:
            box.setInformativeText(message.details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal sheet; never blocks the event loop

    def select_key(self, key: Key) -> bool:
        """Select and scroll to a target's row (clearing filters that hide it)."""
        return self.select_keys([key]) == 1

    def select_keys(self, keys: Iterable[Key]) -> int:
        """Select the rows of ``keys`` and scroll to the first; returns how many exist.

        Filters that hide any of them are cleared first: the user asked to see them.
        """
        positions = [p for key in keys if (p := self.model.row_of(key)) is not None]
        return self.table.select_source_rows(positions, self.filter_bar.clear)

    def selected_rows(self) -> list[WatchRow]:
        """Selected rows in the order they are shown."""
        return self.table.selected_rows()

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    # -- user actions ----------------------------------------------------------------

    def _request_check(self) -> None:
        self.check_requested.emit(self.input.toPlainText())

    def _request_add(self) -> None:
        self.add_requested.emit(self.input.toPlainText())

    def choose_files(self) -> None:
        paths = self.file_chooser.choose_lists(self)
        if paths:
            self.files_opened.emit(paths)

    def choose_export_file(self) -> None:
        """Ask where to export, then ask for the rows the view shows, as it shows them."""
        path = self.file_chooser.choose_export(self)
        if path is not None:
            self.export_requested.emit(path, self.proxy.shown_keys())

    def copy_selected_rows(self) -> str:
        """Copy the selected rows as tab-separated text with a header line."""
        text, count = self.table.copy_rows()
        if count:
            self.statusBar().showMessage(
                f"Copied {count} row{'s' if count != 1 else ''}", _STATUS_MESSAGE_TIMEOUT_MS
            )
        return text

    def _on_selection_changed(self, *changed: object) -> None:
        self._refresh_details()
        self.right_splitter.fit_details()

    def _refresh_details(self, *args: object) -> None:
        selection = self.table.selectionModel()
        current = selection.currentIndex()
        rows = selection.selectedRows()
        index = rows[0] if rows else (current if current.isValid() else QModelIndex())
        self.details.show_row(self.proxy.row_at(index.row()) if index.isValid() else None)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.model.palette_changed()  # light/dark switch: status colours follow
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_handler is not None:
            self.close_handler(event)
        else:
            event.accept()
